"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load, fakeClock } = require("./helpers");

function setup() {
  const { createHeartbeat } = load("heartbeat");
  const clock = fakeClock();
  const sent = [];
  const heartbeat = createHeartbeat({ setInterval: clock.setInterval, clearInterval: clock.clearInterval,
                                      send: (frame) => { sent.push(JSON.parse(frame)); return true; } });
  return { heartbeat, clock, sent };
}

test("beats every heartbeat_interval seconds until stopped", () => {
  const { heartbeat, clock, sent } = setup();
  heartbeat.start(30);
  assert.deepEqual(clock.delays(), [30000]);
  clock.advance(29999);
  assert.equal(sent.length, 0);
  clock.advance(1);
  clock.advance(60000);
  assert.deepEqual(sent, [{ type: "heartbeat" }, { type: "heartbeat" }, { type: "heartbeat" }]);
  heartbeat.stop();
  clock.advance(120000);
  assert.equal(sent.length, 3);
  assert.deepEqual(clock.delays(), []);
});

test("starting again (a reconnect) replaces the timer instead of adding one", () => {
  const { heartbeat, clock, sent } = setup();
  heartbeat.start(10);
  heartbeat.start(20);
  assert.deepEqual(clock.delays(), [20000]);
  clock.advance(20000);
  assert.equal(sent.length, 1);
});

test("an interval of 0 or none means no heartbeat", () => {
  const { heartbeat, clock } = setup();
  heartbeat.start(10);
  heartbeat.start(0);
  assert.deepEqual(clock.delays(), []);
  heartbeat.start(undefined);
  assert.deepEqual(clock.delays(), []);
});
