"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load, fakeClock, fakeWebSocketClass, flush } = require("./helpers");

/* A fake server for the HTTP transport: open/poll/send answered by the test. */
function fakeHttp() {
  const requests = [];
  const fetch = (url, init) => new Promise((resolve, reject) => requests.push({ url, init, resolve, reject }));
  const answer = (req, status, body) => req.resolve({
    status, body: null,
    json: () => Promise.resolve(typeof body === "string" ? JSON.parse(body) : body),
    text: () => Promise.resolve(typeof body === "string" ? body : JSON.stringify(body)),
  });
  const take = (part) => {
    const i = requests.findIndex((r) => r.url.includes(part));
    assert.ok(i >= 0, "no request to " + part + " among " + requests.map((r) => r.url));
    return requests.splice(i, 1)[0];
  };
  return { requests, fetch, answer, take };
}

function setup({ hasWebSocket = true, settings = { fallback: true, fallback_after_ms: 2500 }, storage = null } = {}) {
  const m = load("reconnect", "transport", "httptransport", "fallback");
  const clock = fakeClock();
  const WebSocket = fakeWebSocketClass();
  const server = fakeHttp();
  const logs = [];
  const ws = m.createWebSocketTransport({
    WebSocket, location: { protocol: "http:", host: "h" }, setTimeout: clock.setTimeout, random: () => 0,
    path: "/_ss/socket", query: () => "tab=t", reconnectConfig: () => ({ min_delay: 0.25, max_delay: 10 }),
  });
  const http = m.createHttpTransport({
    fetch: server.fetch, setTimeout: clock.setTimeout, random: () => 0, base: "/_ss/http", query: () => "tab=t",
    reconnectConfig: () => ({ min_delay: 0.25, max_delay: 10 }), streaming: () => false, TextDecoder: null,
  });
  const chooser = m.createTransportChooser({
    websocket: ws, http, hasWebSocket, settings: () => settings, setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout, now: () => clock.now, storage, log: (...a) => logs.push(a.join(" ")),
  });
  const events = [];
  chooser.onopen = () => events.push("open");
  chooser.onmessage = (t) => events.push(JSON.parse(t));
  chooser.onclose = (i) => events.push(["close", i.code]);
  return { chooser, clock, WebSocket, server, events, logs };
}

async function openHttp(server) {
  await flush();
  server.answer(server.take("/open?tab=t"), 200, { connection: "c1", secret: "s" });
  await flush();
}

test("a WebSocket that brings nothing within fallback_after_ms gives way to HTTP, which carries the messages", async () => {
  const storage = new Map();
  const store = { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, v), removeItem: (k) => storage.delete(k) };
  const { chooser, clock, WebSocket, server, events, logs } = setup({ storage: store });
  chooser.start();
  assert.equal(chooser.kind, "websocket");
  WebSocket.last.open();            // the middlebox accepts the upgrade, then passes nothing
  clock.advance(2499);
  assert.equal(chooser.kind, "websocket");
  clock.advance(1);
  assert.equal(chooser.kind, "http");
  assert.equal(WebSocket.last.closedWith, 1000);
  assert.match(logs.join("\n"), /using HTTP instead of WebSocket: the WebSocket brought nothing within 2500 ms/);
  assert.ok(Number(storage.get("ss.transport")) > clock.now);   // remembered for this browser
  await openHttp(server);
  assert.ok(events.includes("open"));
  const poll = server.take("/poll?c=c1");
  assert.equal(poll.init.headers["X-SS-Secret"], "s");
  server.answer(poll, 200, '{"type":"init","connection_id":"x"}\n{"type":"reply","id":1,"result":4}\n');
  await flush();
  assert.deepEqual(events.filter((e) => e.type).map((e) => e.type), ["init", "reply"]);
  // sends of one turn go out in one POST, one message per line
  assert.equal(chooser.send('{"a":1}'), true);
  assert.equal(chooser.send('{"b":2}'), true);
  clock.advance(0);
  const post = server.take("/send?c=c1");
  assert.equal(post.init.body, '{"a":1}\n{"b":2}');
  assert.equal(post.init.method, "POST");
});

test("a browser without WebSocket uses HTTP at once; a remembered choice too", async () => {
  const a = setup({ hasWebSocket: false });
  a.chooser.start();
  assert.equal(a.chooser.kind, "http");
  assert.equal(a.WebSocket.sockets.length, 0);
  const store = { getItem: () => String(1e12), setItem() {}, removeItem() {} };
  const b = setup({ storage: store });
  b.chooser.start();
  assert.equal(b.chooser.kind, "http");
  assert.match(b.chooser.reason, /lately/);
});

test("two closes before the server's first message switch; a WebSocket that spoke stays", () => {
  const { chooser, clock, WebSocket } = setup();
  chooser.start();
  WebSocket.last.open();
  WebSocket.last.receive({ type: "init" });
  WebSocket.last.drop();
  clock.advance(300);
  WebSocket.last.drop();             // one silent close: keep trying the WebSocket
  assert.equal(chooser.kind, "websocket");
  clock.advance(600);
  WebSocket.last.drop();             // the second in a row
  assert.equal(chooser.kind, "http");
  const sockets = WebSocket.sockets.length;
  clock.advance(20000);              // the stopped WebSocket does not reconnect by itself
  assert.equal(WebSocket.sockets.length, sockets);
});

test("with the fallback off (or strict mode) the client stays on WebSocket", () => {
  const { chooser, clock, WebSocket } = setup({ settings: { fallback: false, fallback_after_ms: 2500 } });
  chooser.start();
  clock.advance(10000);
  WebSocket.last.drop();
  clock.advance(1000);
  WebSocket.last.drop();
  assert.equal(chooser.kind, "websocket");
  const none = setup({ hasWebSocket: false, settings: { fallback: false } });
  none.chooser.start();
  assert.equal(none.chooser.kind, "websocket");
});

test("on HTTP, a probe WebSocket that brings its init moves the page back to WebSocket", async () => {
  const { chooser, clock, WebSocket, server, events } = setup({ hasWebSocket: true });
  chooser.start();
  clock.advance(2500);
  await openHttp(server);
  server.answer(server.take("/poll"), 200, '{"type":"init"}\n');
  await flush();
  const before = WebSocket.sockets.length;
  clock.advance(30000);               // first probe
  assert.equal(WebSocket.sockets.length, before + 1);
  WebSocket.last.drop();              // fails: stay on HTTP, try later
  assert.equal(chooser.kind, "http");
  clock.advance(120000);
  WebSocket.last.open();
  WebSocket.last.receive({ type: "init", connection_id: "ws" });
  assert.equal(chooser.kind, "websocket");
  assert.ok(server.take("/close?c=c1"));   // the HTTP connection is closed on the server
  assert.deepEqual(events.slice(-3), [["close", 1000], "open", { type: "init", connection_id: "ws" }]);
  assert.equal(chooser.send("x"), true);
  assert.deepEqual(WebSocket.last.sent, ["x"]);
});

test("HTTP: a close code from the server decides the reconnect, like a WebSocket close", async () => {
  const { chooser, clock, server, events } = setup({ hasWebSocket: false });
  chooser.start();
  await openHttp(server);
  server.answer(server.take("/poll"), 410, { error: { code: "connection_gone", message: "m" },
                                            close: { code: 4001, reason: "session changed" } });
  await flush(); await flush();
  assert.deepEqual(events.at(-1), ["close", 4001]);
  assert.equal(chooser.state, "waiting");
  clock.advance(999);
  assert.equal(server.requests.length, 0);
  clock.advance(600);                 // 4001: 1 to 1.5 s
  assert.ok(server.take("/open"));
});

test("HTTP: a network error reconnects with the backoff; late answers of the old connection are ignored", async () => {
  const { chooser, clock, server, events } = setup({ hasWebSocket: false });
  chooser.start();
  await openHttp(server);
  const poll = server.take("/poll");
  chooser.send('{"type":"heartbeat"}');
  clock.advance(0);
  const post = server.take("/send");
  post.reject(new TypeError("Failed to fetch"));
  await flush();
  assert.deepEqual(events.at(-1), ["close", 1006]);
  server.answer(poll, 200, '{"type":"reply","id":9}\n');   // too late: that connection is over
  await flush();
  assert.equal(events.filter((e) => e.type).length, 0);
  clock.advance(250);
  assert.ok(server.take("/open"));
});

test("leaving the page closes an HTTP connection on the server (keepalive request)", async () => {
  const { chooser, server } = setup({ hasWebSocket: false });
  chooser.start();
  await openHttp(server);
  chooser.leave();
  const close = server.take("/close?c=c1");
  assert.equal(close.init.keepalive, true);
  assert.equal(close.init.headers["X-SS-Secret"], "s");
  assert.equal(chooser.state, "idle");
});

test("after a close that does not reconnect (4002), reconnect() opens again; while open it does nothing", async () => {
  for (const kind of ["websocket", "http"]) {
    const { chooser, clock, WebSocket, server, events } = setup(kind === "http" ? { hasWebSocket: false } : {});
    chooser.start();
    if (kind === "websocket") {
      WebSocket.last.open();
      WebSocket.last.receive({ type: "init" });
      WebSocket.last.drop(4002, "banned");
    } else {
      await openHttp(server);
      server.answer(server.take("/poll"), 410, { close: { code: 4002, reason: "banned" } });
      await flush();
    }
    assert.deepEqual(events.at(-1), ["close", 4002], kind);
    assert.equal(chooser.state, "closed", kind);
    const sockets = WebSocket.sockets.length;
    clock.advance(60000);                          // nothing reconnects by itself
    assert.equal(WebSocket.sockets.length, sockets, kind);
    assert.equal(server.requests.filter((r) => r.url.includes("/open")).length, 0, kind);
    chooser.reconnect();
    if (kind === "websocket") {
      assert.equal(WebSocket.sockets.length, sockets + 1);
      WebSocket.last.open();
      assert.equal(chooser.state, "open");
      chooser.reconnect();                         // open: nothing happens
      assert.equal(WebSocket.sockets.length, sockets + 1);
      assert.equal(WebSocket.last.closedWith, undefined);
    } else {
      await openHttp(server);
      assert.equal(chooser.state, "open");
      chooser.reconnect();
      await flush();
      assert.equal(server.requests.filter((r) => r.url.includes("/open")).length, 0);
    }
  }
});
