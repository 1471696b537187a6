"use strict";
/* The client as /_ss/client.js serves it (ss.client_js.client_source()), in a fake window. */
const test = require("node:test");
const assert = require("node:assert/strict");
const { startClient, flush } = require("./helpers");

const init = (extra) => JSON.stringify(Object.assign({ type: "init", connection_id: "conn-1", env: "production", config: {}, api: { app: { square: 1 } } }, extra));

function connected(options) {
  const c = startClient(options);
  c.clock.advance(0);
  c.WebSocket.last.open();
  c.WebSocket.last.receive(init());
  return c;
}

test("the global API is all there", () => {
  const { SS } = startClient();
  for (const name of ["server", "client", "shared", "tmpl", "config", "socket"]) assert.equal(typeof SS[name], "object", name);
  for (const name of ["call", "CallFailed", "define", "escape"]) assert.equal(typeof SS[name], "function", name);
  for (const name of ["on", "off", "emit", "once"]) assert.equal(typeof SS.events[name], "function", name);
  for (const name of ["on", "off", "once", "send"]) assert.equal(typeof SS.socket[name], "function", name);
  assert.equal(SS.env, null);
  assert.equal(SS.socket.state, "connecting");
  assert.equal(SS.escape("<"), "&lt;");
});

test("connects once the page has loaded, not before", () => {
  const c = startClient({ readyState: "loading" });
  c.clock.advance(10);
  assert.equal(c.WebSocket.sockets.length, 0);
  c.listeners.DOMContentLoaded();
  assert.match(c.WebSocket.last.url, /^ws:\/\/example\.test:3000\/_ss\/socket\?tab=[a-z0-9]+$/);
});

test("init: SS.connection_id (updated on every connection), no SS.session_id, SS.server built", async () => {
  const { SS, WebSocket, clock } = connected();
  assert.equal(SS.socket.state, "connected");
  assert.equal(SS.connection_id, "conn-1");
  assert.equal("session_id" in SS, false);
  const p = SS.server.app.square(5);
  assert.deepEqual(WebSocket.last.messages, [{ type: "call", id: 1, method: "app.square", args: [5] }]);
  WebSocket.last.receive({ type: "reply", id: 1, result: 25 });
  assert.equal(await p, 25);
  WebSocket.last.drop();
  clock.advance(1000);
  WebSocket.last.open();
  WebSocket.last.receive(init({ connection_id: "conn-2", session_id: "ignored" }));
  assert.equal(SS.connection_id, "conn-2");
  assert.equal("session_id" in SS, false);
});

test("reconnect: recover=1 in the URL, recover message first, then calls in id order", async () => {
  const { SS, WebSocket, clock } = connected();
  const events = [];
  SS.socket.on("disconnect", () => events.push("disconnect")).on("reconnect", () => events.push("reconnect"));
  WebSocket.last.receive({ type: "event", event: "newMessage", data: "x", stream: "broadcast", offset: 7 });
  const calls = [1, 2, 3].map((n) => SS.server.app.square(n));
  WebSocket.last.receive({ type: "reply", id: 2, result: 4 });
  WebSocket.last.drop();
  assert.equal(SS.socket.state, "disconnected");
  SS.server.app.square(4);
  clock.advance(10000);
  const socket = WebSocket.last;
  assert.match(socket.url, /\?tab=[a-z0-9]+&recover=1$/);
  socket.open();
  socket.receive(init());
  assert.deepEqual(socket.messages.map((m) => m.type === "call" ? m.id : m), [{ type: "recover", streams: { broadcast: 7 } }, 1, 3, 4]);
  assert.deepEqual(events, ["disconnect", "reconnect"]);
  socket.receive({ type: "reply", id: 1, result: 1 });
  socket.receive({ type: "reply", id: 3, result: 9 });
  assert.deepEqual(await Promise.all(calls), [1, 4, 9]);
});

test("close code 4001 (session changed): back after 1 to 1.5 s, not the usual backoff", () => {
  const { SS, WebSocket, clock, console } = connected();
  WebSocket.last.drop(4001, "session changed");
  const [delay] = clock.delays();
  assert.ok(delay >= 1000 && delay < 1500, String(delay));
  clock.advance(999);
  assert.equal(WebSocket.sockets.length, 1);
  clock.advance(501);
  assert.equal(WebSocket.sockets.length, 2);
  assert.ok(console.lines.some(([, line]) => line.includes("4001 session changed")));
  assert.equal(SS.socket.state, "connecting");
});

test("an ordinary drop reconnects within the first backoff step (0.125-0.25 s)", () => {
  const { WebSocket, clock } = connected();
  WebSocket.last.drop(1006);
  const [delay] = clock.delays();
  assert.ok(delay >= 125 && delay <= 250, String(delay));
});

test("the session message POSTs its token and leaves no id in the page", async () => {
  const { SS, WebSocket, posts } = connected();
  WebSocket.last.receive({ type: "session", token: "one-time" });
  await flush();
  assert.deepEqual(posts.map((p) => [p.url, p.init.method, p.init.body]), [["/_ss/session", "POST", "one-time"]]);
  assert.equal("session_id" in SS, false);
});

test("development: a page with older assets reloads instead of starting", () => {
  const c = startClient({ assetsMeta: "old" });
  c.clock.advance(0);
  c.WebSocket.last.open();
  c.WebSocket.last.receive(init({ env: "development", assets: "new" }));
  assert.equal(c.location.reloads, 1);
  assert.equal(c.SS.socket.state, "connecting");
});

test("wss for an https page", () => {
  const c = startClient({ protocol: "https:" });
  c.clock.advance(0);
  assert.match(c.WebSocket.last.url, /^wss:\/\//);
});

test("a client_call runs SS.client.<method> and its answer goes back on the socket; a lost one is dropped", async () => {
  const { SS, WebSocket, clock } = connected();
  let resolve;
  SS.define("client", "app", (exports) => {
    exports.confirm = (question) => question === "Sure?";
    exports.later = () => new Promise((r) => { resolve = r; });
  });
  WebSocket.last.receive({ type: "client_call", id: 1, method: "app.confirm", args: ["Sure?"] });
  WebSocket.last.receive({ type: "client_call", id: 2, method: "app.nothing", args: [] });
  WebSocket.last.receive({ type: "client_call", id: 3, method: "app.later", args: [] });
  assert.deepEqual(WebSocket.last.messages, [
    { type: "client_reply", id: 1, result: true },
    { type: "client_reply", id: 2, error: { code: "no_such_function", message: "SS.client.app.nothing is not a function" } },
  ]);
  const first = WebSocket.last;
  first.drop();
  clock.advance(10000);
  WebSocket.last.open();
  WebSocket.last.receive(init({ connection_id: "conn-2" }));
  resolve("after the reconnect");
  await flush();
  assert.equal(first.messages.length, 2);
  assert.deepEqual(WebSocket.last.messages.filter((m) => m.type === "client_reply"), []);
});

test("SS.presence: asks for the state once connected, follows diffs, asks again after a reconnect", () => {
  const c = startClient();
  const { SS, WebSocket, clock } = c;
  const room = SS.presence("room1");
  assert.equal(SS.presence("room1"), room);
  const seen = [];
  room.on("join", (uid, metas) => seen.push(["join", uid, metas.length])).on("sync", () => seen.push(["sync"]));
  clock.advance(0);
  WebSocket.last.open();
  WebSocket.last.receive(init());
  assert.deepEqual(WebSocket.last.messages, [{ type: "presence", channel: "room1" }]);
  const ann = { name: "Ann", connection_id: "a.1" };
  WebSocket.last.receive({ type: "presence_state", channel: "room1", state: { ann: [ann] }, version: 4 });
  WebSocket.last.receive({ type: "presence_diff", channel: "room1", joins: { "7": [{ connection_id: "a.2" }] },
                           leaves: {}, version: 5 });
  assert.deepEqual(room.list(), { ann: [ann], "7": [{ connection_id: "a.2" }] });
  assert.deepEqual(seen, [["join", "ann", 1], ["sync"], ["join", "7", 1]]);
  WebSocket.last.drop();
  clock.advance(10000);
  WebSocket.last.open();
  WebSocket.last.receive(init());
  assert.deepEqual(WebSocket.last.messages, [{ type: "presence", channel: "room1" }]);
});
