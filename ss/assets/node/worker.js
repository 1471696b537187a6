// The ss asset worker: one long-lived Node process that compiles CoffeeScript
// and Stylus and minifies with esbuild, so each compile costs milliseconds
// instead of a Node start-up.
//
// Protocol: JSON lines. Request  {"id": 1, "op": "coffee", "source": "...", "filename": "..."}
//                      Reply    {"id": 1, "ok": true, "result": {...}}
//                             or {"id": 1, "ok": false, "error": {"message": "...", "line": 3, "column": 5, "file": "..."}}
// Lines and columns in errors are 1-based (0 = unknown). argv[2] is the node_modules folder.
"use strict";

const path = require("path");
const readline = require("readline");
const { createRequire } = require("module");

const modulesDir = process.argv[2];
const requireModule = createRequire(path.join(modulesDir, "noop.js"));
const fs = require("fs");
const loaded = {};
// Loaded on first use: a page with no Stylus never pays for requiring it.
function lib(name) {
  if (!loaded[name]) {
    loaded[name] = requireModule(name);
    if (name === "stylus") speedUpStylusLookups();
  }
  return loaded[name];
}

// Stylus resolves every @import (and its own built-ins) with glob.sync, which
// was a third of each compile here. A name without glob characters can only
// match itself, so an existence check gives the same answer.
function speedUpStylusLookups() {
  const utils = requireModule("stylus/lib/utils");
  const globFind = utils.find;
  utils.find = function (name, paths, ignore) {
    if (/[*?[\]{}()!+@]/.test(name)) return globFind.apply(this, arguments);
    if (utils.absolute(name) && fs.existsSync(name)) return [name];
    for (let i = paths.length - 1; i >= 0; i--) {
      const candidate = path.join(paths[i], name);
      if (ignore == candidate) continue; // eslint-disable-line eqeqeq -- as stylus compares
      if (fs.existsSync(candidate)) return [candidate];
    }
    return undefined;
  };
}

function coffee(req) {
  try {
    const code = lib("coffeescript").compile(req.source, { bare: true, filename: req.filename });
    return { code };
  } catch (e) {
    const loc = e.location || {};
    throw {
      message: e.message,
      line: loc.first_line === undefined ? 0 : loc.first_line + 1,
      column: loc.first_column === undefined ? 0 : loc.first_column + 1,
      file: req.filename,
    };
  }
}

// Stylus messages look like "file:line:col\n<source excerpt>\n\n<reason>\n".
function stylusError(e, filename) {
  const text = String(e.message || e);
  const head = /^(.*?):(\d+):(\d+)\n/.exec(text);
  const parts = text.trim().split(/\n\s*\n/);
  return {
    message: parts[parts.length - 1].trim(),
    line: head ? Number(head[2]) : e.lineno || 0,
    column: head ? Number(head[3]) : e.column || 0,
    file: head ? head[1] : e.filename || filename,
  };
}

function stylus(req) {
  return new Promise((resolve, reject) => {
    let style;
    const imports = [];
    try {
      style = lib("stylus")(req.source)
        .set("filename", req.filename)
        .set("paths", req.paths || [path.dirname(req.filename)])
        // Its in-memory AST cache clones on every hit (slower here) and grows with each edit.
        .set("cache", false);
      // Stylus records every file it @imports here (its middleware does the same);
      // cheaper than style.deps(), which parses everything a second time.
      style.options._imports = imports;
    } catch (e) {
      reject(stylusError(e, req.filename));
      return;
    }
    style.render((err, css) => {
      if (err) {
        reject(stylusError(err, req.filename));
        return;
      }
      const own = path.dirname(requireModule.resolve("stylus"));
      const deps = imports.map((n) => n.path).filter((p) => p && !p.startsWith(own));
      resolve({ code: css, deps: Array.from(new Set(deps)) });
    });
  });
}

async function minify(req) {
  try {
    const out = await lib("esbuild").transform(req.source, {
      loader: req.loader || "js",
      minify: true,
      legalComments: "inline",
      sourcefile: req.filename || "bundle.js",
    });
    return { code: out.code };
  } catch (e) {
    const first = (e.errors && e.errors[0]) || {};
    const loc = first.location || {};
    throw {
      message: first.text || String(e.message || e),
      line: loc.line || 0,
      column: loc.column === undefined ? 0 : loc.column + 1,
      file: loc.file || req.filename,
    };
  }
}

// Load the compilers and run each once, so the first real save after a start
// (when compiled files came from the disk cache) does not pay for loading them.
// Once only: this blocks the worker, and a save arriving meanwhile waits for it.
async function warm() {
  const started = Date.now();
  coffee({ source: "square = (x) -> x * x\nexports.list = (square n for n in [1..3])\n", filename: "warm.coffee" });
  await stylus({ source: "a\n  color darken(#336699, 10%)\n", filename: "warm.styl", paths: [] });
  return { ms: Date.now() - started };
}

const ops = {
  ping: () => ({ pid: process.pid }),
  warm,
  coffee,
  stylus,
  minify,
};

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

async function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    send({ id: null, ok: false, error: { message: "bad request: " + e.message, line: 0, column: 0 } });
    return;
  }
  const op = ops[req.op];
  if (!op) {
    send({ id: req.id, ok: false, error: { message: "unknown op " + req.op, line: 0, column: 0 } });
    return;
  }
  try {
    send({ id: req.id, ok: true, result: await op(req) });
  } catch (e) {
    const error = e instanceof Error ? { message: e.stack || e.message, line: 0, column: 0 } : e;
    send({ id: req.id, ok: false, error });
  }
}

readline.createInterface({ input: process.stdin, crlfDelay: Infinity }).on("line", (line) => {
  if (line.trim()) handle(line);
});
// The parent closing our stdin is the shutdown signal.
process.stdin.on("end", () => process.exit(0));
process.on("uncaughtException", (e) => process.stderr.write("ss worker: " + (e.stack || e) + "\n"));
