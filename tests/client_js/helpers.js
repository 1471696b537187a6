/* Test helpers for the browser client: load its modules (ss/client_js/modules) or the whole
 * built client into this process, with fake timers, WebSocket, location and fetch. */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { execFileSync } = require("node:child_process");

const ROOT = path.resolve(__dirname, "..", "..");
const MODULES_DIR = path.join(ROOT, "ss", "client_js", "modules");

/* load("reconnect", "transport") -> the top-level functions and vars of those files. Each file
 * is compiled on its own (errors name the file and line) and sees the earlier ones' names, as
 * in the built client. Every call compiles afresh: tests share no module state. */
function load(...names) {
  const scope = {};
  for (const name of names) {
    const file = path.join(MODULES_DIR, name + ".js");
    const source = fs.readFileSync(file, "utf8");
    const declared = [...source.matchAll(/^(?:function|var)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
    const body = '"use strict";' + source + "\nreturn {" + declared.join(", ") + "};";
    const fn = vm.compileFunction(body, Object.keys(scope), { filename: file });
    Object.assign(scope, fn(...Object.values(scope)));
  }
  return scope;
}

/* Timers that run only when told: clock.advance(ms) runs what falls due, in order. */
function fakeClock() {
  let now = 0;
  let seq = 0;
  const timers = new Map();
  const add = (fn, ms, every) => {
    const id = ++seq;
    timers.set(id, { at: now + (ms || 0), fn, every, delay: ms || 0 });
    return id;
  };
  return {
    setTimeout: (fn, ms) => add(fn, ms, null),
    setInterval: (fn, ms) => add(fn, ms, ms),
    clearTimeout: (id) => timers.delete(id),
    clearInterval: (id) => timers.delete(id),
    get now() { return now; },
    /* the delays (ms, as asked for) of the timers waiting to run */
    delays: () => [...timers.values()].map((t) => t.delay),
    advance(ms) {
      const end = now + ms;
      for (;;) {
        let next = null;
        for (const [id, t] of timers) if (t.at <= end && (!next || t.at < next[1].at)) next = [id, t];
        if (!next) break;
        const [id, t] = next;
        now = t.at;
        if (t.every) t.at += t.every;
        else timers.delete(id);
        t.fn();
      }
      now = end;
    },
  };
}

/* A WebSocket class whose instances the test opens, feeds and closes. */
function fakeWebSocketClass() {
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      FakeWebSocket.sockets.push(this);
    }
    send(frame) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      this.sent.push(frame);
    }
    /* what the client sent, parsed */
    get messages() { return this.sent.map((f) => JSON.parse(f)); }
    open() {
      this.readyState = 1;
      if (this.onopen) this.onopen({});
    }
    receive(message) {
      this.onmessage({ data: typeof message === "string" ? message : JSON.stringify(message) });
    }
    close(code) {
      this.readyState = 3;
      this.closedWith = code;
    }
    drop(code = 1006, reason = "") {
      this.readyState = 3;
      this.onclose({ code, reason });
    }
  }
  FakeWebSocket.sockets = [];
  Object.defineProperty(FakeWebSocket, "last", { get: () => FakeWebSocket.sockets[FakeWebSocket.sockets.length - 1] });
  return FakeWebSocket;
}

/* console stand-in that keeps what was written. */
function quietConsole() {
  const lines = [];
  const keep = (kind) => (...args) => lines.push([kind, args.map(String).join(" ")]);
  return { lines, log: keep("log"), error: keep("error"), warn: keep("warn") };
}

/* The client exactly as /_ss/client.js serves it: $SS_CLIENT_JS (a file the pytest runner
 * writes), else built here with ss/client_js/__init__.py. */
function builtClientSource() {
  if (process.env.SS_CLIENT_JS) return fs.readFileSync(process.env.SS_CLIENT_JS, "utf8");
  const venv = path.join(ROOT, ".venv", "bin", "python");
  const python = process.env.PYTHON || (fs.existsSync(venv) ? venv : "python3");
  // Loaded by file, not as ss.client_js, so that importing the ss package (tornado...) is not needed.
  const script = [
    "import importlib.util, sys",
    "spec = importlib.util.spec_from_file_location('client_js', sys.argv[1])",
    "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)",
    "sys.stdout.buffer.write(m.client_source())",
  ].join("\n");
  return execFileSync(python, ["-c", script, path.join(ROOT, "ss", "client_js", "__init__.py")], { encoding: "utf8" });
}

let builtSource = null;

/* Runs the built client in a fake browser window; returns {window, SS, clock, WebSocket, ...}. */
function startClient({ readyState = "complete", assetsMeta = null, protocol = "http:" } = {}) {
  builtSource = builtSource || builtClientSource();
  const clock = fakeClock();
  const WebSocket = fakeWebSocketClass();
  const console = quietConsole();
  const posts = [];
  const location = { protocol, host: "example.test:3000", reloads: 0, reload() { this.reloads += 1; } };
  const listeners = {};
  const document = {
    readyState,
    addEventListener: (name, fn) => { listeners[name] = fn; },
    querySelector: (sel) => (sel === 'meta[name="ss-assets"]' && assetsMeta ? { content: assetsMeta } : null),
  };
  const window = {
    WebSocket, location, document, console,
    setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout,
    setInterval: clock.setInterval, clearInterval: clock.clearInterval,
    fetch: (url, init) => { posts.push({ url, init }); return Promise.resolve({ ok: true, status: 204 }); },
  };
  new Function("window", builtSource)(window);
  return { window, SS: window.SS, clock, WebSocket, console, location, posts, listeners };
}

/* Lets promise callbacks run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

module.exports = { load, fakeClock, fakeWebSocketClass, quietConsole, startClient, builtClientSource, flush, MODULES_DIR };
