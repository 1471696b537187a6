"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load } = require("./helpers");

/* A presence module over a fake link: `sent` is what it asked the server, `events` what it emitted. */
function setup(connected = true) {
  const { createPresence } = load("emitter", "presence");
  const link = { up: connected, sent: [] };
  const presence = createPresence({
    send: (message) => { if (!link.up) return false; link.sent.push(message); return true; },
    log: () => {},
  });
  return { presence, link };
}

function watch(room) {
  const events = [];
  ["join", "leave", "update"].forEach((name) => room.on(name, (uid, metas) => events.push([name, uid, metas])));
  room.on("sync", (list) => events.push(["sync", list]));
  return events;
}

const ann1 = { name: "Ann", status: "idle", connection_id: "a.1" };
const ann2 = { name: "Ann", status: "idle", connection_id: "b.2" };
const bob = { name: "Bob", connection_id: "a.3" };
const state = (s, version) => ({ type: "presence_state", channel: "room1", state: s, version });
const diff = (joins, leaves, version) => ({ type: "presence_diff", channel: "room1", joins, leaves, version });

test("SS.presence(name) is one object per name and asks for the state once connected", () => {
  const { presence, link } = setup(false);
  const room = presence.channel("room1");
  assert.equal(presence.channel("room1"), room);
  assert.deepEqual(link.sent, []);                       // offline: asks when the connection is up
  link.up = true;
  presence.connected();
  assert.deepEqual(link.sent, [{ type: "presence", channel: "room1" }]);
  presence.channel("room2");                             // online: asks at once
  assert.deepEqual(link.sent[1], { type: "presence", channel: "room2" });
  assert.throws(() => presence.channel(""), /channel name/);
});

test("the state arrives: a join per user, then sync; list() is a copy", () => {
  const { presence } = setup();
  const room = presence.channel("room1");
  const events = watch(room);
  presence.state(state({ ann: [ann1, ann2], "7": [bob] }, 10));
  // (integer-like keys come first in a JS object: user 7 before ann)
  assert.deepEqual(events, [["join", "7", [bob]], ["join", "ann", [ann1, ann2]],
                            ["sync", { ann: [ann1, ann2], "7": [bob] }]]);
  const listed = room.list();
  listed.ann.pop();
  assert.equal(room.list().ann.length, 2);
});

test("diffs: a first meta is a join, a changed one an update, the last one gone a leave", () => {
  const { presence } = setup();
  const room = presence.channel("room1");
  presence.state(state({}, 10));
  const events = watch(room);
  presence.diff(diff({ ann: [ann1] }, {}, 11));
  presence.diff(diff({ ann: [ann2] }, {}, 12));          // a second tab of Ann: an update
  const typing = { ...ann1, status: "typing" };
  presence.diff(diff({ ann: [typing] }, { ann: [ann1] }, 13));
  presence.diff(diff({}, { ann: [ann2] }, 14));
  presence.diff(diff({}, { ann: [typing] }, 15));
  assert.deepEqual(events, [
    ["join", "ann", [ann1]],
    ["update", "ann", [ann1, ann2]],
    ["update", "ann", [ann2, typing]],
    ["update", "ann", [typing]],
    ["leave", "ann", [typing]],                          // the metas that left
  ]);
  assert.deepEqual(room.list(), {});
});

test("diffs apply idempotently: a join again replaces, a leave of an absent meta is ignored", () => {
  const { presence } = setup();
  const room = presence.channel("room1");
  presence.state(state({ ann: [ann1] }, 10));
  const events = watch(room);
  presence.diff(diff({ ann: [ann1] }, {}, 11));          // nothing changed: no event
  presence.diff(diff({}, { bob: [bob] }, 12));           // never there: ignored
  assert.deepEqual(events, []);
  assert.deepEqual(room.list(), { ann: [ann1] });
});

test("diffs that arrive before the state wait for it; those the state already holds are dropped", () => {
  const { presence } = setup();
  const room = presence.channel("room1");
  const events = watch(room);
  const typing = { ...ann1, status: "typing" };
  presence.diff(diff({ ann: [typing] }, { ann: [ann1] }, 11));   // in the state below already
  presence.diff(diff({}, { ann: [typing] }, 12));                // after the state was read
  presence.diff(diff({ "7": [bob] }, {}, 13));
  assert.deepEqual(events, []);
  presence.state(state({ ann: [typing] }, 11));
  assert.deepEqual(room.list(), { "7": [bob] });
  assert.deepEqual(events.map((e) => e.slice(0, 2)),
                   [["join", "ann"], ["leave", "ann"], ["join", "7"], ["sync", { "7": [bob] }]]);
  presence.diff(diff({ ann: [ann1] }, {}, 11));                  // older than the state: dropped
  assert.deepEqual(room.list(), { "7": [bob] });
});

test("after a reconnect the state is asked again and only the differences are emitted", () => {
  const { presence, link } = setup();
  const room = presence.channel("room1");
  presence.state(state({ ann: [ann1], "7": [bob] }, 10));
  const events = watch(room);
  link.up = false;
  link.up = true;
  presence.connected();
  assert.deepEqual(link.sent, [{ type: "presence", channel: "room1" }, { type: "presence", channel: "room1" }]);
  presence.diff(diff({ ann: [ann2] }, {}, 3));           // versions may restart: held until the state
  presence.state(state({ ann: [ann1, ann2] }, 2));
  assert.deepEqual(events, [["leave", "7", [bob]], ["update", "ann", [ann1, ann2]],
                            ["sync", { ann: [ann1, ann2] }]]);
});

test("a refused state is reported and asked again at the channel's next change", () => {
  const { presence, link } = setup();
  const room = presence.channel("room1");
  const errors = [];
  room.on("error", (error) => errors.push(error.code));
  presence.state({ type: "presence_state", channel: "room1", error: { code: "not_subscribed", message: "subscribe" } });
  assert.deepEqual(errors, ["not_subscribed"]);
  presence.diff(diff({ ann: [ann1] }, {}, 5));           // subscribed now: ask again
  assert.equal(link.sent.length, 2);
  presence.state(state({ ann: [ann1] }, 5));
  assert.deepEqual(room.list(), { ann: [ann1] });
  room.refresh();
  assert.equal(link.sent.length, 3);
});

test("messages for channels nobody watches are ignored; a failing handler does not stop the others", () => {
  const { presence } = setup();
  presence.diff({ ...diff({ ann: [ann1] }, {}, 1), channel: "other" });
  presence.state({ ...state({ ann: [ann1] }, 1), channel: "other" });
  const room = presence.channel("room1");
  const seen = [];
  room.on("join", () => { throw new Error("bad handler"); });
  room.on("join", (uid) => seen.push(uid));
  const original = console.error;
  console.error = () => {};
  try {
    presence.state(state({ ann: [ann1] }, 1));
  } finally {
    console.error = original;
  }
  assert.deepEqual(seen, ["ann"]);
});
