"use strict";
/* The connection against a fake transport: what any transport (WebSocket, or a later HTTP
 * fallback) must be enough for. */
const test = require("node:test");
const assert = require("node:assert/strict");
const { load, fakeClock, quietConsole, flush } = require("./helpers");

function fakeTransport() {
  return {
    state: "idle", sent: [],
    send(frame) { if (this.state !== "open") return false; this.sent.push(JSON.parse(frame)); return true; },
    // test side
    open() { this.state = "open"; this.onopen && this.onopen(); },
    deliver(msg) { this.onmessage(JSON.stringify(msg)); },
    lose(code = 1006) { this.state = "waiting"; this.onclose({ code, reason: "", wasOpen: true, reconnect: true, delay: 100 }); },
  };
}

function setup() {
  const m = load("emitter", "calls", "events", "heartbeat", "connection");
  const clock = fakeClock();
  const transport = fakeTransport();
  const out = quietConsole();
  const SS = { client: {}, server: {}, config: {}, env: null, events: new m.Emitter() };
  const socketEvents = new m.Emitter();
  const log = () => {};
  let connection;
  const calls = m.createCalls({ link: { ready: () => connection.connected(), send: (f) => transport.send(f) }, tree: SS.server,
                                setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, log, console: out, isDevelopment: () => false });
  const events = m.createEvents({ emit: (...a) => SS.events.emit(...a), failed: (lost) => socketEvents.emit("recovery_failed", lost), log });
  const rotated = [];
  const dev = { staleAssets: () => false, reload() {}, css() {}, assetError() {}, assetOk() {} };
  connection = m.createConnection({
    SS, transport, calls, events, dev, log, console: out, socketEvents,
    session: { rotated: (msg) => rotated.push(msg) },
    heartbeat: m.createHeartbeat({ setInterval: clock.setInterval, clearInterval: clock.clearInterval, send: (f) => connection.connected() && transport.send(f) }),
  });
  const seen = [];
  for (const name of ["connect", "disconnect", "reconnect", "recovery_failed"]) socketEvents.on(name, (arg) => seen.push(arg === undefined ? name : [name, arg]));
  return { SS, transport, connection, calls, clock, seen, rotated, out };
}

const init = (extra) => Object.assign({ type: "init", connection_id: "c1", env: "production", config: {}, api: { app: { square: 1 } } }, extra);

test("state goes connecting, connected (at init, not at open), disconnected", () => {
  const { transport, connection, seen } = setup();
  assert.equal(connection.state(), "connecting");
  transport.open();
  assert.equal(connection.state(), "connecting");
  transport.deliver(init());
  assert.equal(connection.state(), "connected");
  transport.lose();
  assert.equal(connection.state(), "disconnected");
  assert.deepEqual(seen, ["connect", "disconnect"]);
});

test("init sets env, config, SS.connection_id and SS.server; SS.session_id never appears", () => {
  const { SS, transport } = setup();
  transport.open();
  transport.deliver(init({ session_id: "an old server would send this", config: { a: 1 } }));
  assert.equal(SS.env, "production");
  assert.deepEqual(SS.config, { a: 1 });
  assert.equal(SS.connection_id, "c1");
  assert.equal(typeof SS.server.app.square, "function");
  assert.equal("session_id" in SS, false);
  transport.lose();
  transport.open();
  transport.deliver(init({ connection_id: "c2" }));
  assert.equal(SS.connection_id, "c2", "each connection has its own id");
});

test("SS.client.app.init runs once; later inits are reconnects", () => {
  const { SS, transport, seen } = setup();
  let inits = 0;
  SS.client.app = { init: () => { inits += 1; } };
  transport.open();
  transport.deliver(init());
  transport.lose();
  transport.open();
  transport.deliver(init());
  assert.equal(inits, 1);
  assert.deepEqual(seen, ["connect", "disconnect", "connect", "reconnect"]);
});

test("after a reconnect: recover first, then unanswered calls in id order, then queued messages", async () => {
  const { SS, transport, connection, calls } = setup();
  transport.open();
  transport.deliver(init());
  transport.deliver({ type: "event", event: "newMessage", data: "hi", stream: "channel:room1", offset: 41 });
  const first = SS.server.app.square(2);
  SS.server.app.square(3);
  transport.deliver({ type: "reply", id: 2, result: 9 });
  transport.lose();
  const volatile = assert.rejects(SS.server.app.square(4, { volatile: true }), { code: "offline" });
  SS.server.app.square(5);
  connection.send({ type: "custom", n: 1 });
  assert.equal(connection.send({ type: "custom", n: 2 }, true), false, "a volatile message is not kept");
  transport.sent.length = 0;
  transport.open();
  transport.deliver(init());
  assert.deepEqual(transport.sent, [
    { type: "recover", streams: { "channel:room1": 41 } },
    { type: "call", id: 1, method: "app.square", args: [2] },
    { type: "call", id: 4, method: "app.square", args: [5] },   // 3 was the volatile one
    { type: "custom", n: 1 },
  ]);
  transport.deliver({ type: "reply", id: 1, result: 4 });
  assert.equal(await first, 4);
  await volatile;
  assert.deepEqual(calls.pendingIds(), [4]);
});

test("a disconnect fails volatile calls in flight", async () => {
  const { SS, transport } = setup();
  transport.open();
  transport.deliver(init());
  const dropped = assert.rejects(SS.server.app.square(1, { volatile: true }), { code: "disconnected" });
  transport.lose();
  await dropped;
});

test("messages are routed: events, duplicates dropped, recovery_failed, session", () => {
  const { SS, transport, seen, rotated } = setup();
  const got = [];
  SS.events.on("newMessage", (data, channel) => got.push([data, channel]));
  transport.open();
  transport.deliver(init());
  transport.deliver({ type: "event", event: "newMessage", data: "a", channel: "room1", stream: "channel:room1", offset: 1 });
  transport.deliver({ type: "event", event: "newMessage", data: "a", channel: "room1", stream: "channel:room1", offset: 1 });
  transport.deliver({ type: "recovery_failed", streams: { "channel:room1": "expired", "user:9": "not_subscribed" } });
  transport.deliver({ type: "session", token: "tok" });
  assert.deepEqual(got, [["a", "room1"]]);
  assert.deepEqual(seen, ["connect", ["recovery_failed", { "channel:room1": "expired" }]]);
  assert.deepEqual(rotated, [{ type: "session", token: "tok" }]);
});

test("heartbeats follow client.heartbeat_interval while connected and stop on disconnect", () => {
  const { transport, clock } = setup();
  transport.open();
  transport.deliver(init({ config: { heartbeat_interval: 25 } }));
  clock.advance(50000);
  assert.deepEqual(transport.sent, [{ type: "heartbeat" }, { type: "heartbeat" }]);
  transport.lose();
  assert.deepEqual(clock.delays(), []);
});

test("unreadable frames and unknown types are survived", () => {
  const { transport, out, connection } = setup();
  transport.open();
  transport.onmessage("{not json");
  transport.deliver({ type: "from_the_future" });
  transport.deliver(init());
  assert.equal(connection.state(), "connected");
  assert.equal(out.lines[0][0], "error");
  assert.match(out.lines[0][1], /unreadable message/);
});

test("a 4002 close (ss.users.disconnect) emits disconnect on SS.events with the reason, once", () => {
  const { SS, transport, seen } = setup();
  const got = [];
  SS.events.on("disconnect", (reason) => got.push(reason));
  transport.open();
  transport.deliver(init());
  transport.state = "closed";
  transport.onclose({ code: 4002, reason: "banned for spam", wasOpen: true, reconnect: false, delay: 0 });
  assert.deepEqual(got, ["banned for spam"]);
  assert.deepEqual(seen, ["connect", "disconnect"]);
  transport.lose(1006);                            // other closes are SS.socket's business only
  assert.deepEqual(got, ["banned for spam"]);
});

test("a client_call goes to the client calls", () => {
  const m = load("emitter", "calls", "events", "heartbeat", "connection");
  const transport = fakeTransport();
  const received = [];
  const connection = m.createConnection({
    SS: { client: {}, server: {}, config: {} }, transport, calls: { receive() {}, mount() {}, resend() {}, dropVolatile() {} },
    clientCalls: { receive: (msg) => received.push(msg) },
    events: m.createEvents({ emit() {}, failed() {}, log() {} }), dev: { staleAssets: () => false },
    session: { rotated() {} }, heartbeat: { start() {}, stop() {} }, socketEvents: new m.Emitter(), log() {}, console: quietConsole(),
  });
  transport.open();
  transport.deliver({ type: "client_call", id: 1, method: "app.x", args: [] });
  assert.deepEqual(received, [{ type: "client_call", id: 1, method: "app.x", args: [] }]);
  assert.equal(connection.state(), "connecting");
});
