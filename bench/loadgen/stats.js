'use strict';
// Small helpers shared by the scenarios: percentiles, the generator's own CPU,
// a wall clock with sub-millisecond resolution, and phase markers.
const { performance } = require('perf_hooks');

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function latencySummary(values) {
  const s = Float64Array.from(values).sort();
  const r = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  return {
    n: s.length,
    p50_ms: r(percentile(s, 50)),
    p99_ms: r(percentile(s, 99)),
    max_ms: r(s.length ? s[s.length - 1] : null),
  };
}

// The generator's CPU over a window, as a fraction of one core. Above
// ~0.85 the figure may be limited by the client, not the server: the runner
// marks it.
function cpuMeter() {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const c = process.cpuUsage(c0);
    const wall = (performance.now() - t0) / 1000;
    return { client_cpu: Math.round(((c.user + c.system) / 1e6 / wall) * 1000) / 1000 };
  };
}

// Servers stamp broadcast payloads with their wall clock (ms since epoch).
// Date.now() is floored to whole milliseconds, so take the largest of many
// samples of (Date.now() - performance.now()) as the offset: that is within a
// few microseconds of the true one, and performance.now() does the rest.
function wallClock() {
  let off = -Infinity;
  for (let i = 0; i < 20000; i++) {
    const o = Date.now() - performance.now();
    if (o > off) off = o;
  }
  return () => off + performance.now();
}

function phase(name, extra) {
  process.stdout.write(JSON.stringify(Object.assign({ phase: name }, extra || {})) + '\n');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { percentile, latencySummary, cpuMeter, wallClock, phase, sleep, performance };
