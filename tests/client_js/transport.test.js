"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load, fakeClock, fakeWebSocketClass } = require("./helpers");

function setup({ protocol = "http:", random = () => 0, reconnect = { min_delay: 0.25, max_delay: 10 } } = {}) {
  const { createWebSocketTransport } = load("reconnect", "transport");
  const clock = fakeClock();
  const WebSocket = fakeWebSocketClass();
  let query = "tab=abc";
  const events = [];
  const transport = createWebSocketTransport({
    WebSocket, location: { protocol, host: "example.test:3000" }, setTimeout: clock.setTimeout, random,
    path: "/_ss/socket", query: () => query, reconnectConfig: () => reconnect,
  });
  transport.onopen = () => events.push(["open"]);
  transport.onmessage = (text) => events.push(["message", text]);
  transport.onclose = (info) => events.push(["close", info]);
  return { transport, clock, WebSocket, events, setQuery: (q) => { query = q; } };
}

test("connects to the page's host, ws or wss as the page, with the query read on every attempt", () => {
  const { transport, WebSocket, clock, setQuery } = setup();
  assert.equal(transport.state, "idle");
  transport.start();
  assert.equal(transport.state, "connecting");
  assert.equal(WebSocket.last.url, "ws://example.test:3000/_ss/socket?tab=abc");
  setQuery("tab=abc&recover=1");
  WebSocket.last.drop();
  clock.advance(10000);
  assert.equal(WebSocket.last.url, "ws://example.test:3000/_ss/socket?tab=abc&recover=1");

  const secure = setup({ protocol: "https:" });
  secure.transport.start();
  assert.equal(secure.WebSocket.last.url, "wss://example.test:3000/_ss/socket?tab=abc");
});

test("send writes only while open; the caller keeps what was refused", () => {
  const { transport, WebSocket, events } = setup();
  transport.start();
  assert.equal(transport.send("early"), false);
  WebSocket.last.open();
  assert.equal(transport.state, "open");
  assert.equal(transport.send("now"), true);
  WebSocket.last.readyState = 2;   // closing: the browser would drop it
  assert.equal(transport.send("closing"), false);
  assert.deepEqual(WebSocket.last.sent, ["now"]);
  WebSocket.last.receive("hello");
  assert.deepEqual(events, [["open"], ["message", "hello"]]);
});

test("reconnect delays grow while attempts fail and start afresh once the server speaks", () => {
  const { transport, WebSocket, clock, events } = setup();
  transport.start();
  const delays = [];
  for (let i = 0; i < 4; i++) {
    WebSocket.last.drop();
    assert.equal(transport.state, "waiting");
    delays.push(clock.delays()[0]);
    clock.advance(clock.delays()[0]);
    assert.equal(transport.state, "connecting");
  }
  assert.deepEqual(delays, [125, 250, 500, 1000]);   // random() = 0: the lower bound of each
  assert.equal(WebSocket.sockets.length, 5);
  WebSocket.last.open();
  WebSocket.last.receive('{"type":"init"}');
  WebSocket.last.drop();
  assert.deepEqual(clock.delays(), [125]);
  const closes = events.filter((e) => e[0] === "close").map((e) => e[1]);
  assert.deepEqual(closes.map((c) => c.wasOpen), [false, false, false, false, true]);
  assert.deepEqual(closes[4], { code: 1006, reason: "", wasOpen: true, reconnect: true, delay: 125 });
});

test("close code 4001 reconnects after 1 to 1.5 s instead of the backoff, without growing it", () => {
  const { transport, WebSocket, clock, events } = setup({ random: () => 0.5 });
  transport.start();
  WebSocket.last.open();
  WebSocket.last.receive("{}");
  WebSocket.last.drop(4001, "session changed");
  assert.deepEqual(clock.delays(), [1250]);
  assert.deepEqual(events.at(-1), ["close", { code: 4001, reason: "session changed", wasOpen: true, reconnect: true, delay: 1250 }]);
  clock.advance(1249);
  assert.equal(WebSocket.sockets.length, 1, "not before the delay");
  clock.advance(1);
  assert.equal(WebSocket.sockets.length, 2);
  WebSocket.last.drop();   // that attempt fails: the backoff starts at its first step
  assert.deepEqual(clock.delays(), [187.5]);
});

test("a code listed as stay-closed leaves the transport closed", () => {
  const { createWebSocketTransport, CLOSE_CODES } = load("reconnect", "transport");   // a private table
  CLOSE_CODES[4003] = { reason: "not welcome", reconnect: false };
  const clock = fakeClock();
  const WebSocket = fakeWebSocketClass();
  const transport = createWebSocketTransport({
    WebSocket, location: { protocol: "http:", host: "h" }, setTimeout: clock.setTimeout, random: Math.random,
    path: "/_ss/socket", query: () => "", reconnectConfig: () => ({}),
  });
  const infos = [];
  transport.onclose = (info) => infos.push(info);
  transport.start();
  WebSocket.last.open();
  WebSocket.last.drop(4003);
  assert.equal(transport.state, "closed");
  assert.deepEqual(infos, [{ code: 4003, reason: "not welcome", wasOpen: true, reconnect: false, delay: 0 }]);
  clock.advance(60000);
  assert.equal(WebSocket.sockets.length, 1);
});

test("a WebSocket constructor that throws is retried like a failed connection", () => {
  const { createWebSocketTransport } = load("reconnect", "transport");
  const clock = fakeClock();
  let tries = 0;
  function Throwing() { tries += 1; throw new SyntaxError("bad url"); }
  const transport = createWebSocketTransport({
    WebSocket: Throwing, location: { protocol: "http:", host: "h" }, setTimeout: clock.setTimeout, random: () => 0,
    path: "/_ss/socket", query: () => "", reconnectConfig: () => ({}),
  });
  const infos = [];
  transport.onclose = (info) => infos.push(info);
  transport.start();
  assert.equal(transport.state, "waiting");
  clock.advance(125);
  assert.equal(tries, 2);
  assert.equal(infos[0].code, 1006);
  assert.match(infos[0].reason, /bad url/);
});
