"use strict";
/* The server calling SS.client.<method> in this tab: lookup, call, await, answer once. */
const test = require("node:test");
const assert = require("node:assert/strict");
const { load, flush } = require("./helpers");

function setup({ connected = true } = {}) {
  const { createClientCalls } = load("clientcalls");
  const SS = { client: {} };
  const state = { connected, connectionId: "c1" };
  const sent = [];
  const logged = [];
  const clientCalls = createClientCalls({
    tree: () => SS.client,
    connectionId: () => state.connectionId,
    send: (frame) => { if (!state.connected) return false; sent.push(JSON.parse(frame)); return true; },
    log: (...args) => logged.push(args),
  });
  return { SS, state, sent, logged, clientCalls };
}

const call = (id, method, args) => ({ type: "client_call", id, method, args });

test("runs SS.client.<method> with the args and answers with its result", () => {
  const { SS, sent, clientCalls } = setup();
  SS.client.app = { confirm: (question, n) => question + "!" + n };
  clientCalls.receive(call(3, "app.confirm", ["Sure?", 2]));
  assert.deepEqual(sent, [{ type: "client_reply", id: 3, result: "Sure?!2" }]);
});

test("`this` is the module, and nested paths are followed", () => {
  const { SS, sent, clientCalls } = setup();
  SS.client.admin = { users: { prefix: "u:", name(id) { return this.prefix + id; } } };
  clientCalls.receive(call(1, "admin.users.name", [7]));
  assert.deepEqual(sent, [{ type: "client_reply", id: 1, result: "u:7" }]);
});

test("undefined is sent as null, and missing args as none", () => {
  const { SS, sent, clientCalls } = setup();
  let got = null;
  SS.client.app = { quiet: (...args) => { got = args; } };
  clientCalls.receive({ type: "client_call", id: 4, method: "app.quiet" });
  assert.deepEqual(got, []);
  assert.deepEqual(sent, [{ type: "client_reply", id: 4, result: null }]);
});

test("a Promise's resolved value is the result", async () => {
  const { SS, sent, clientCalls } = setup();
  let resolve;
  SS.client.app = { ask: () => new Promise((r) => { resolve = r; }) };
  clientCalls.receive(call(5, "app.ask", []));
  await flush();
  assert.deepEqual(sent, []);
  resolve({ yes: true });
  await flush();
  assert.deepEqual(sent, [{ type: "client_reply", id: 5, result: { yes: true } }]);
});

test("a thrown error or a rejected Promise is client_error with the error's message", async () => {
  const { SS, sent, clientCalls } = setup();
  SS.client.app = {
    boom: () => { throw new Error("no way"); },
    later: () => Promise.reject(new TypeError("not now")),
    odd: () => { throw "a plain string"; },   // eslint-disable-line no-throw-literal
  };
  clientCalls.receive(call(1, "app.boom", []));
  clientCalls.receive(call(2, "app.later", []));
  clientCalls.receive(call(3, "app.odd", []));
  await flush();
  assert.deepEqual(sent, [
    { type: "client_reply", id: 1, error: { code: "client_error", message: "no way" } },
    { type: "client_reply", id: 3, error: { code: "client_error", message: "a plain string" } },
    { type: "client_reply", id: 2, error: { code: "client_error", message: "not now" } },
  ]);
});

test("what is not a function under SS.client is no_such_function", () => {
  const { SS, sent, clientCalls } = setup();
  SS.client.app = { notAFunction: 5, _hidden: () => 1, inner: { _x: () => 1 } };
  const methods = ["app.missing", "nothere.fn", "app.notAFunction", "app._hidden", "app.inner._x", "app.toString",
                   "app.constructor", "__proto__.x", "app", "", "app..x"];
  methods.forEach((m, i) => clientCalls.receive(call(i, m, [])));
  assert.equal(sent.length, methods.length);
  sent.forEach((reply, i) => {
    assert.equal(reply.id, i);
    assert.equal(reply.error.code, "no_such_function", methods[i]);
    assert.equal(reply.error.message, "SS.client." + methods[i] + " is not a function");
  });
});

test("a result JSON cannot carry is bad_result", async () => {
  const { SS, sent, clientCalls } = setup();
  const cycle = {};
  cycle.self = cycle;
  SS.client.app = { cycle: () => cycle, big: () => Promise.resolve(10n), fn: () => () => 1 };
  clientCalls.receive(call(1, "app.cycle", []));
  clientCalls.receive(call(2, "app.fn", []));
  clientCalls.receive(call(3, "app.big", []));
  await flush();
  assert.deepEqual(sent.map((r) => [r.id, r.error && r.error.code]), [[1, "bad_result"], [2, "bad_result"], [3, "bad_result"]]);
  assert.match(sent[0].error.message, /circular/i);
  assert.equal(sent[1].error.message, "a function cannot be sent as JSON");
});

test("each call is answered once, even by a function that resolves and throws", async () => {
  const { SS, sent, clientCalls } = setup();
  // a thenable that calls back twice, then throws
  SS.client.app = { twice: () => ({ then(ok, fail) { ok(1); ok(2); fail(new Error("x")); throw new Error("y"); } }) };
  clientCalls.receive(call(1, "app.twice", []));
  await flush();
  assert.deepEqual(sent, [{ type: "client_reply", id: 1, result: 1 }]);
});

test("an answer ready after the connection was lost or replaced is dropped", async () => {
  const { SS, state, sent, clientCalls } = setup();
  const resolvers = [];
  SS.client.app = { ask: () => new Promise((r) => resolvers.push(r)) };
  clientCalls.receive(call(1, "app.ask", []));
  clientCalls.receive(call(2, "app.ask", []));
  state.connected = false;
  resolvers[0]("too late");
  await flush();
  state.connected = true;
  state.connectionId = "c2";                 // reconnected: a new connection, which never asked
  resolvers[1]("too late too");
  await flush();
  assert.deepEqual(sent, []);
});

test("a long error message is cut", () => {
  const { SS, sent, clientCalls } = setup();
  SS.client.app = { boom: () => { throw new Error("x".repeat(5000)); } };
  clientCalls.receive(call(1, "app.boom", []));
  assert.equal(sent[0].error.message.length, 1000);
});

test("a call with an id that is not a number is ignored", () => {
  const { SS, sent, clientCalls } = setup();
  SS.client.app = { f: () => 1 };
  clientCalls.receive({ type: "client_call", id: "x", method: "app.f", args: [] });
  clientCalls.receive({ type: "client_call", id: 1, method: "app.f", args: "not a list" });
  assert.deepEqual(sent, [{ type: "client_reply", id: 1, result: 1 }]);
});
