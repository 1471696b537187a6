"use strict";
/* emitter, define, escape, log, devhooks: the small modules. */
const test = require("node:test");
const assert = require("node:assert/strict");
const { load, quietConsole } = require("./helpers");

test("emitter: on, once, off, and a throwing handler does not stop the others", () => {
  const { Emitter } = load("emitter");
  const errors = [];
  const e = new Emitter((name, err) => errors.push([name, err.message]));
  const got = [];
  const keep = (x) => got.push(["keep", x]);
  e.on("a", () => { throw new Error("bad handler"); });
  e.on("a", keep);
  e.once("a", (x, y) => got.push(["once", x, y]));
  e.emit("a", 1, 2);
  e.emit("a", 3);
  e.off("a", keep);
  e.emit("a", 4);
  e.emit("nobody listens");
  assert.deepEqual(got, [["keep", 1], ["once", 1, 2], ["keep", 3]]);
  assert.deepEqual(errors, [["a", "bad handler"], ["a", "bad handler"], ["a", "bad handler"]]);
  e.off("a");
  e.emit("a", 5);
  assert.equal(errors.length, 3);
});

test("define mounts a module's exports at its path, keeping a folder of the same name", () => {
  const { createDefine } = load("define");
  const SS = { client: {}, shared: {} };
  const define = createDefine(SS);
  define("shared", "calculate", (exports) => { exports.double = (x) => 2 * x; });
  define("client", "people/customers", (exports, module) => { module.exports = { list: () => ["a"] }; });
  define("client", "people", (exports) => { exports.count = 2; });
  assert.equal(SS.shared.calculate.double(4), 8);
  assert.deepEqual(SS.client.people.customers.list(), ["a"]);
  assert.equal(SS.client.people.count, 2);
});

test("escape turns the five HTML specials into entities and null into nothing", () => {
  const { escapeHtml } = load("escape");
  assert.equal(escapeHtml(`<a href="x">Tom & Jerry's</a>`), "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  assert.equal(escapeHtml(null), "");
  assert.equal(escapeHtml(undefined), "");
  assert.equal(escapeHtml(0), "0");
});

test("log writes what the level lets through, errors to console.error", () => {
  const { createLog } = load("log");
  const out = quietConsole();
  let config = {};
  const log = createLog(() => config, out);
  log("info", "shown at the default level");
  log("calls", "hidden at the default level");
  config = { log: { level: 1 } };
  log("info", "hidden at level 1");
  log("error", "always", 1);
  config = { log: { level: 4 } };
  log("debug", "shown at 4");
  assert.deepEqual(out.lines, [["log", "shown at the default level"], ["error", "always 1"], ["log", "shown at 4"]]);
});

test("devhooks: stale assets are told by the page's meta tag, errors go to SS.dev or the console", () => {
  const { createDevHooks } = load("devhooks");
  const out = quietConsole();
  let dev;
  const shown = [];
  const hooks = createDevHooks({
    location: { reload() {} }, console: out, dev: () => dev,
    document: { querySelector: (sel) => (sel === 'meta[name="ss-assets"]' ? { content: "v1" } : null) },
  });
  assert.equal(hooks.staleAssets({ assets: "v1" }), false);
  assert.equal(hooks.staleAssets({ assets: "v2" }), true);
  assert.equal(hooks.staleAssets({}), false);   // production: no assets version sent
  hooks.assetError({ message: "no overlay yet" });
  dev = { showError: (e) => shown.push(["show", e.message]), hideError: () => shown.push(["hide"]) };
  hooks.assetError({ message: "line 3" });
  hooks.assetOk();
  assert.equal(out.lines.length, 1);
  assert.deepEqual(shown, [["show", "line 3"], ["hide"]]);
});
