"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load } = require("./helpers");

function setup() {
  const { createEvents } = load("events");
  const emitted = [];
  const failures = [];
  const events = createEvents({ emit: (...args) => emitted.push(args), failed: (lost) => failures.push(lost), log: () => {} });
  return { events, emitted, failures };
}

const ev = (stream, offset, data) => ({ type: "event", event: "newMessage", data, channel: "room1", stream, offset });

test("events reach SS.events with their data and channel", () => {
  const { events, emitted } = setup();
  events.deliver({ type: "event", event: "hello", data: { a: 1 } });
  events.deliver(ev("channel:room1", 5, "x"));
  assert.deepEqual(emitted, [["hello", { a: 1 }, undefined], ["newMessage", "x", "room1"]]);
});

test("an event at or below its stream's last offset is a duplicate and is dropped", () => {
  const { events, emitted } = setup();
  events.deliver(ev("channel:room1", 10, "a"));
  events.deliver(ev("channel:room1", 10, "a again"));
  events.deliver(ev("channel:room1", 9, "older"));
  events.deliver(ev("user:7", 3, "other stream"));
  events.deliver(ev("channel:room1", 11, "b"));
  assert.deepEqual(emitted.map((e) => e[1]), ["a", "other stream", "b"]);
  assert.equal(events.offset("channel:room1"), 11);
});

test("the recover message lists the last offset of every stream seen", () => {
  const { events } = setup();
  assert.equal(events.recovering(), false);
  assert.equal(events.recoverMessage(), null);
  events.deliver({ type: "event", event: "plain", data: 1 });   // no stream: nothing to recover
  assert.equal(events.recovering(), false);
  events.deliver(ev("channel:room1", 41, "a"));
  events.deliver(ev("user:7", 7, "b"));
  events.deliver(ev("channel:room1", 42, "c"));
  assert.equal(events.recovering(), true);
  assert.deepEqual(events.recoverMessage(), { type: "recover", streams: { "channel:room1": 42, "user:7": 7 } });
});

test("recovery_failed forgets those streams and reports them, leaving out not_subscribed", () => {
  const { events, emitted, failures } = setup();
  events.deliver(ev("channel:room1", 100, "a"));
  events.deliver(ev("channel:left", 5, "b"));
  events.deliver(ev("broadcast", 9, "c"));
  events.recoveryFailed({ type: "recovery_failed", streams: { "channel:room1": "trimmed", "channel:left": "not_subscribed" } });
  assert.deepEqual(failures, [{ "channel:room1": "trimmed" }]);
  assert.deepEqual(events.recoverMessage(), { type: "recover", streams: { broadcast: 9 } });
  events.deliver(ev("channel:room1", 3, "a restarted stream"));   // forgotten: a lower offset is new again
  assert.equal(emitted.at(-1)[1], "a restarted stream");
});

test("recovery_failed with only not_subscribed streams tells the app nothing", () => {
  const { events, failures } = setup();
  events.deliver(ev("channel:left", 5, "b"));
  events.recoveryFailed({ type: "recovery_failed", streams: { "channel:left": "not_subscribed" } });
  assert.deepEqual(failures, []);
  assert.equal(events.recovering(), false);
});
