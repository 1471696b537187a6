"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load, fakeClock, quietConsole, flush } = require("./helpers");

/* createCalls with a link the test controls: `online` decides whether frames go out. */
function setup({ online = true, development = false } = {}) {
  const { createCalls, isCallOptions, CallFailed } = load("calls");
  const clock = fakeClock();
  const sent = [];
  const logged = [];
  const link = { online, ready: () => link.online, send: (frame) => { if (!link.online) return false; sent.push(JSON.parse(frame)); return true; } };
  const tree = {};
  const console = quietConsole();
  const calls = createCalls({
    link, tree, console,
    setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout,
    log: (...args) => logged.push(args),
    isDevelopment: () => development,
  });
  return { calls, link, sent, tree, clock, logged, console, isCallOptions, CallFailed };
}

test("each call gets the next id and its promise resolves with the reply", async () => {
  const { calls, sent } = setup();
  const first = calls.call("app.square", [5]);
  const second = calls.call("app.double", [2]);
  assert.deepEqual(sent, [
    { type: "call", id: 1, method: "app.square", args: [5] },
    { type: "call", id: 2, method: "app.double", args: [2] },
  ]);
  calls.receive({ type: "reply", id: 2, result: 4 });
  calls.receive({ type: "reply", id: 1, result: 25 });
  assert.equal(await first, 25);
  assert.equal(await second, 4);
  assert.deepEqual(calls.pendingIds(), []);
});

test("with a callback the call returns nothing and the callback gets the result", async () => {
  const { calls } = setup();
  const results = [];
  assert.equal(calls.call("app.square", [3], (r) => results.push(r)), undefined);
  calls.receive({ type: "reply", id: 1, result: 9 });
  await flush();
  assert.deepEqual(results, [9]);
});

test("an error reply rejects with CallFailed carrying code, method and traceback", async () => {
  const { calls, CallFailed, logged } = setup();
  const p = calls.call("app.fail", []);
  calls.receive({ type: "error", id: 1, error: { code: "action_failed", message: "boom", traceback: "Traceback..." } });
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof CallFailed && e instanceof Error);
    assert.equal(e.code, "action_failed");
    assert.equal(e.message, "app.fail: boom");
    assert.equal(e.traceback, "Traceback...");
    return true;
  });
  assert.ok(logged.some(([kind, text]) => kind === "error" && text.includes("app.fail: boom")));
});

test("an error without an id is reported on the console, failing no call", async () => {
  const { calls, console } = setup();
  calls.call("app.slow", []);
  calls.receive({ type: "error", id: null, error: { code: "bad_json", message: "not JSON" } });
  assert.deepEqual(calls.pendingIds(), [1]);
  assert.deepEqual(console.lines, [["error", "ss: the server refused a message: bad_json: not JSON"]]);
});

test("option objects are told apart from data", () => {
  const { isCallOptions } = setup();
  for (const options of [{ timeout: 5 }, { volatile: true }, { silent: true, timeout: 1 }]) assert.equal(isCallOptions(options), true, JSON.stringify(options));
  for (const data of [{}, { timeout: 5, name: "a" }, { name: "a" }, [1], null, "timeout", 3, { constructor: 1 }]) assert.equal(isCallOptions(data), false, JSON.stringify(data));
});

test("SS.server functions take args, then an optional callback, then optional options", async () => {
  const { calls, tree, sent, clock } = setup();
  calls.mount({ app: { square: 1, admin: { ban: 1 } } });
  assert.equal(typeof tree.app.square, "function");
  assert.equal(typeof tree.app.admin.ban, "function");
  const got = [];
  assert.equal(tree.app.square(4, (r) => got.push(r), { silent: true }), undefined);
  tree.app.admin.ban({ timeout: 5, name: "x" });   // data: it has a key that is not an option
  const timedOut = assert.rejects(tree.app.square(7, { timeout: 100 }), { code: "timeout" });
  assert.deepEqual(sent, [
    { type: "call", id: 1, method: "app.square", args: [4], silent: true },
    { type: "call", id: 2, method: "app.admin.ban", args: [{ timeout: 5, name: "x" }] },
    { type: "call", id: 3, method: "app.square", args: [7] },
  ]);
  calls.receive({ type: "reply", id: 1, result: 16 });
  clock.advance(100);
  await flush();
  assert.deepEqual(got, [16]);
  await timedOut;
});

test("a new API tree replaces the old one", () => {
  const { calls, tree } = setup();
  calls.mount({ app: { square: 1 }, old: { gone: 1 } });
  calls.mount({ app: { cube: 1 } });
  assert.deepEqual(Object.keys(tree), ["app"]);
  assert.deepEqual(Object.keys(tree.app), ["cube"]);
});

test("calls made offline wait; after reconnecting every unanswered call is re-sent, oldest first", async () => {
  const { calls, link, sent } = setup({ online: false });
  const a = calls.call("app.a", []);
  link.online = true;
  calls.call("app.b", []);
  calls.call("app.c", []);
  calls.receive({ type: "reply", id: 2, result: "b" });
  link.online = false;   // connection lost with 1 and 3 unanswered
  calls.dropVolatile();
  for (let i = 4; i <= 11; i++) calls.call("app.more", [i]);   // ids past 9: order is numeric, not textual
  link.online = true;
  sent.length = 0;
  calls.resend();
  assert.deepEqual(sent.map((m) => m.id), [1, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(sent[0].method, "app.a");
  calls.receive({ type: "reply", id: 1, result: "a" });
  assert.equal(await a, "a");
});

test("a volatile call made offline fails at once, unsent", async () => {
  const { calls, sent } = setup({ online: false });
  await assert.rejects(calls.call("app.ping", [], null, { volatile: true }), { code: "offline" });
  assert.deepEqual(calls.pendingIds(), []);
  assert.deepEqual(sent, []);
});

test("a disconnect fails volatile calls and keeps the others", async () => {
  const { calls, link } = setup();
  const kept = calls.call("app.save", []);
  const dropped = assert.rejects(calls.call("app.ping", [], null, { volatile: true }), { code: "disconnected" });
  link.online = false;
  calls.dropVolatile();
  await dropped;
  assert.deepEqual(calls.pendingIds(), [1]);
  calls.receive({ type: "reply", id: 1, result: true });
  assert.equal(await kept, true);
});

test("{timeout} fails an unanswered call once, and a late reply is ignored", async () => {
  const { calls, clock } = setup();
  const timedOut = assert.rejects(calls.call("app.slow", [], null, { timeout: 500 }),
                                  { code: "timeout", message: "app.slow: no reply within 500 ms" });
  clock.advance(499);
  assert.deepEqual(calls.pendingIds(), [1]);
  clock.advance(1);
  await timedOut;
  assert.deepEqual(calls.pendingIds(), []);
  calls.receive({ type: "reply", id: 1, result: "late" });   // no second settle, no throw
});

test("an answered call cancels its timeout", async () => {
  const { calls, clock } = setup();
  const p = calls.call("app.quick", [], null, { timeout: 500 });
  calls.receive({ type: "reply", id: 1, result: 1 });
  assert.deepEqual(clock.delays(), []);
  assert.equal(await p, 1);
});

test("in development the result of a promise call is logged; silent calls are not", async () => {
  const { calls, console } = setup({ development: true });
  calls.call("app.square", [3]);
  calls.call("app.square", [4], null, { silent: true });
  calls.receive({ type: "reply", id: 1, result: 9 });
  calls.receive({ type: "reply", id: 2, result: 16 });
  await flush();
  assert.deepEqual(console.lines, [["log", "app.square(3) \u2192 9"]]);
});
