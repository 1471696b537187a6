"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load } = require("./helpers");

const { backoffDelay, reconnectPlan, CLOSE_CODES } = load("reconnect");
const lowest = () => 0;
const highest = () => 0.999999;

test("backoff doubles per attempt from min_delay, with equal jitter (half fixed, half random)", () => {
  const cfg = { min_delay: 0.25, max_delay: 10 };
  for (let attempt = 0; attempt < 5; attempt++) {
    const full = 250 * 2 ** attempt;
    assert.equal(backoffDelay(attempt, cfg, lowest), full / 2);
    assert.ok(Math.abs(backoffDelay(attempt, cfg, highest) - full) < 0.01);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt, cfg, Math.random);
      assert.ok(d >= full / 2 && d <= full, `attempt ${attempt}: ${d}`);
    }
  }
});

test("backoff stops growing at max_delay", () => {
  const cfg = { min_delay: 1, max_delay: 4 };
  assert.equal(backoffDelay(2, cfg, lowest), 2000);
  assert.equal(backoffDelay(3, cfg, lowest), 2000);
  assert.equal(backoffDelay(30, cfg, lowest), 2000);
  assert.ok(backoffDelay(30, cfg, highest) <= 4000);
});

test("without client.reconnect the defaults are 0.25 s to 10 s", () => {
  assert.equal(backoffDelay(0, undefined, lowest), 125);
  assert.equal(backoffDelay(20, {}, lowest), 5000);
});

test("a usual close (network, server restart) uses the backoff and counts as an attempt", () => {
  for (const code of [1006, 1000, 4999]) {
    const plan = reconnectPlan(code, 3, { min_delay: 0.25, max_delay: 10 }, lowest);
    assert.deepEqual([plan.reconnect, plan.backoff, plan.delay], [true, true, 1000], String(code));
  }
});

test("4001 (session changed) waits 1 to 1.5 s whatever the attempt count, with jitter", () => {
  assert.equal(CLOSE_CODES[4001].reason, "session changed");
  for (const attempt of [0, 7]) {
    assert.equal(reconnectPlan(4001, attempt, {}, lowest).delay, 1000);
    assert.ok(reconnectPlan(4001, attempt, {}, highest).delay < 1500);
  }
  const delays = Array.from({ length: 200 }, () => reconnectPlan(4001, 0, {}, Math.random));
  assert.ok(delays.every((p) => p.reconnect && !p.backoff && p.delay >= 1000 && p.delay < 1500));
  assert.ok(new Set(delays.map((p) => Math.round(p.delay))).size > 20, "the delay is spread, not one value");
});

test("1012 (server restarting) spreads the tabs over 0.25 to 5 s, outside the backoff", () => {
  assert.equal(CLOSE_CODES[1012].reason, "server restarting");
  assert.equal(reconnectPlan(1012, 0, {}, lowest).delay, 250);
  assert.ok(reconnectPlan(1012, 0, {}, highest).delay < 5000);
  const delays = Array.from({ length: 1000 }, () => reconnectPlan(1012, 0, {}, Math.random).delay);
  assert.ok(delays.every((d) => d >= 250 && d < 5000));
  const firstSecond = delays.filter((d) => d < 1000).length;   // a storm is spread, not bunched up
  assert.ok(firstSecond > 80 && firstSecond < 250, String(firstSecond));
});

test("a code listed with reconnect: false stays closed", () => {
  const { reconnectPlan: plan, CLOSE_CODES: codes } = load("reconnect");   // a private copy of the table
  codes[4003] = { reason: "go away", reconnect: false };
  assert.deepEqual(plan(4003, 0, {}, Math.random), { reconnect: false, delay: 0, backoff: false, reason: "go away" });
});

test("4002 (the app disconnected this user) stays closed", () => {
  const plan = reconnectPlan(4002, 0, {}, Math.random);
  assert.deepEqual([plan.reconnect, plan.reason], [false, "disconnected by the server"]);
});
