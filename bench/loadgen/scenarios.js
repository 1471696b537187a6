'use strict';
// The benchmark scenarios. Each takes the parsed options and returns a plain
// result object; phase markers on stdout let the runner sample the server's
// CPU and memory at the right moments.
const readline = require('readline');
const { Conn, openMany } = require('./conn');
const { latencySummary, cpuMeter, wallClock, phase, sleep, performance } = require('./stats');

class NotImplemented extends Error {}

// A non-negative decimal number (digits, optional fraction, as JSON writes
// stamps and tags) read straight from bytes before `end`: no string, no
// allocation. NaN when there is none, so a malformed frame never matches a tag.
function readNumber(buf, i, end = buf.length) {
  let v = 0;
  let any = false;
  let c;
  while (i < end && (c = buf[i]) >= 48 && c <= 57) { v = v * 10 + (c - 48); i++; any = true; }
  if (i < end && buf[i] === 46) {
    let scale = 0.1;
    i++;
    while (i < end && (c = buf[i]) >= 48 && c <= 57) { v += (c - 48) * scale; scale /= 10; i++; any = true; }
  }
  return any ? v : NaN;
}

// Read a tick's stamp and tag out of one frame, buf[start..end), in a single
// pass over its bytes: every target sends {"seq":i,"t":<ms>,"tag":<n>} inside
// its own envelope. True when the frame names "tick" and has both fields;
// then TICK[0] is t and TICK[1] is tag (NaN where no number follows). The
// first occurrence of each counts, as a byte search would find them.
// (Three Buffer.indexOf calls did the same at ~40x the scanner's cost per
// frame: each is a call into C++.)
const TICK = new Float64Array(2);
function readTick(buf, start, end) {
  let tick = false;
  let t = -1;
  let tag = -1;
  for (let i = start; i < end; i++) {
    if (buf[i] !== 34 /* " */ || i + 3 >= end || buf[i + 1] !== 116 /* t */) continue;
    const c = buf[i + 2];
    if (c === 34 /* "t" */) {
      if (t < 0 && buf[i + 3] === 58 /* : */) t = i + 4;
    } else if (c === 105 /* i */) {
      if (!tick && i + 5 < end && buf[i + 3] === 99 /* c */ && buf[i + 4] === 107 /* k */ && buf[i + 5] === 34) tick = true;
    } else if (c === 97 /* a */) {
      if (tag < 0 && i + 5 < end && buf[i + 3] === 103 /* g */ && buf[i + 4] === 34 && buf[i + 5] === 58) tag = i + 6;
    } else {
      continue;
    }
    if (tick && t >= 0 && tag >= 0) {
      TICK[0] = readNumber(buf, t, end);
      TICK[1] = readNumber(buf, tag, end);
      return true;
    }
  }
  return false;
}

function remoteFailure(err, what) {
  // An error reply (e.g. unknown_action) means the target has no such feature
  // yet: the runner prints "n/a (not implemented)" instead of a number.
  if (err && err.remote) {
    return new NotImplemented(`${what}: ${err.remote.code || ''} ${err.remote.message || ''}`.trim());
  }
  return err;
}

// RPC: `conns` connections, each keeping `inflight` calls of square(25) in
// flight. conns=1, inflight=1 is the sequential round-trip figure.
async function rpc(o) {
  const conns = await openMany(o.codec, o.url, o.conns);
  const counts = new Array(conns.length).fill(0);
  const lat = [];
  let measuring = false;
  let stopping = false;
  let failure = null;

  const issue = (i) => {
    const t0 = performance.now();
    conns[i].call('square', [25], (err, res) => {
      if (err || res !== 625) {
        if (!failure) failure = err ? remoteFailure(err, 'square') : new Error(`square(25) returned ${JSON.stringify(res)}`);
        stopping = true;
        return;
      }
      if (measuring) {
        counts[i]++;
        lat.push(performance.now() - t0);
      }
      if (!stopping) issue(i);
    });
  };
  for (let i = 0; i < conns.length; i++) for (let k = 0; k < o.inflight; k++) issue(i);

  await sleep(o.warmup * 1000);
  if (failure) throw failure;
  phase('measure_start');
  const cpu = cpuMeter();
  const t0 = performance.now();
  measuring = true;
  await sleep(o.duration * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const client = cpu();
  phase('measure_end');
  stopping = true;
  if (failure) throw failure;
  // Let in-flight calls drain so the server is not mid-write when it is stopped.
  const deadline = performance.now() + 2000;
  while (performance.now() < deadline && conns.some((c) => c.pending.size > 0)) await sleep(10);
  conns.forEach((c) => c.close());

  const total = counts.reduce((a, b) => a + b, 0);
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  return Object.assign(
    {
      calls_per_s: Math.round(total / elapsed),
      calls: total,
      seconds: Math.round(elapsed * 1000) / 1000,
      fairness: max > 0 ? Math.round((min / max) * 1000) / 1000 : null,
      min_calls_per_conn: min,
      max_calls_per_conn: max,
    },
    latencySummary(lat),
    client,
  );
}

// Broadcast fan-out: `clients` connections; the first also asks the server to
// publish. Every payload carries the server's wall-clock stamp `t` and a run
// tag, so late frames from an earlier step are never counted in a later one.
async function fanout(o) {
  const conns = await openMany(o.codec, o.url, o.clients);
  const now = wallClock();
  const pub = conns[0];
  let run = null;
  let tagSeq = Math.floor(Math.random() * 1e6);
  // Latencies go into a Float64Array sized for the run (run.expected), not
  // an array that grows by push.
  const onTick = (ev, data) => {
    if (ev !== 'tick' || run === null || !data || data.tag !== run.tag) return;
    const t = now();
    run.lat[run.received++] = t - data.t;
    run.last = t;
    if (run.received === run.expected) run.done();
  };
  // The fast path: t and tag straight from the frame's bytes, buf[start..end)
  // (buf may hold other frames around it).
  const fastTick = (buf, start, end) => {
    if (run === null || !readTick(buf, start, end)) return false;
    if (TICK[1] !== run.tag) return true;
    const t = now();
    run.lat[run.received++] = t - TICK[0];
    run.last = t;
    if (run.received === run.expected) run.done();
    return true;
  };
  for (const c of conns) { c.onEvent = onTick; c.fastFrame = o.fast ? fastTick : null; }

  async function publish(count, rate, timeoutMs) {
    const tag = ++tagSeq;
    const expected = count * conns.length;
    let done;
    const finished = new Promise((r) => { done = r; });
    run = { tag, expected, received: 0, lat: new Float64Array(expected), last: null, done };
    const start = now();
    try {
      await pub.callP('broadcast', [count, rate, tag]);
    } catch (err) {
      run = null;
      throw remoteFailure(err, 'broadcast');
    }
    const timer = new Promise((r) => setTimeout(r, timeoutMs));
    await Promise.race([finished, timer]);
    const r = run;
    run = null;
    const seconds = ((r.last === null ? now() : r.last) - start) / 1000;
    return Object.assign(
      {
        count,
        rate,
        delivered: r.received,
        expected,
        complete: r.received === expected,
        seconds: Math.round(seconds * 1000) / 1000,
        deliveries_per_s: Math.round(r.received / seconds),
      },
      latencySummary(r.lat.subarray(0, Math.min(r.received, expected))),
    );
  }

  // Warm-up, and a first guess at the server's pace for sizing the burst.
  const calib = await publish(20, 0, 20000);
  if (!calib.complete) throw new Error(`warm-up burst incomplete: ${calib.delivered}/${calib.expected}`);
  const guessPubRate = Math.max(1, calib.deliveries_per_s / conns.length);

  // 1. Saturation: publish as fast as the server will, for about `duration` s.
  const burstCount = Math.max(20, Math.min(20000, Math.round(guessPubRate * o.duration)));
  phase('measure_start');
  const cpu = cpuMeter();
  const burst = await publish(burstCount, 0, o.duration * 6000 + 10000);
  const client = cpu();
  phase('measure_end');
  await sleep(300);

  // 2. Paced: the highest publish rate whose p99 publish-to-receive latency
  // stays under the limit with every message delivered. Rates step up as
  // fractions of the burst's pace and stop at the first failure after a pass.
  const burstPubRate = Math.max(1, burst.deliveries_per_s / conns.length);
  // Paced sends can sustain more than a burst (no backlog to wade through),
  // so the steps go well past the burst's pace.
  const fractions = [0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0];
  const steps = [];
  let best = null;
  for (const f of fractions) {
    const rate = Math.max(1, Math.round(burstPubRate * f));
    const count = Math.max(5, Math.round(rate * o.step));
    let ok = false;
    // On a shared machine one stall can sink a step: a rate fails only when
    // it fails twice in a row.
    for (let attempt = 0; attempt < 2 && !ok; attempt++) {
      const s = await publish(count, rate, o.step * 1000 + 5000);
      // The server stamps t when it actually publishes, so a server that falls
      // behind the schedule would still show low latency: the step must also
      // finish on time (within 10%, plus the latency limit) to count.
      const onTime = s.seconds <= (count / rate) * 1.1 + o.latencyLimit / 1000;
      ok = s.complete && onTime && s.p99_ms !== null && s.p99_ms < o.latencyLimit;
      steps.push({ rate, ok, on_time: onTime, seconds: s.seconds, deliveries_per_s: s.deliveries_per_s,
                   p99_ms: s.p99_ms, p50_ms: s.p50_ms, delivered: s.delivered, expected: s.expected });
      if (ok) best = s;
      // A failed step leaves frames queued: let them drain before the next one.
      await sleep(ok ? 200 : 1500);
    }
    if (!ok && best) break;
  }
  conns.forEach((c) => c.close());
  return {
    clients: conns.length,
    deliveries_per_s: burst.deliveries_per_s,
    burst,
    max_rate_under_limit: best ? best.rate : 0,
    // true when even the last step passed: the real limit is higher still.
    sweep_capped: steps.length > 0 && steps[steps.length - 1].ok && steps[steps.length - 1].rate === Math.max(1, Math.round(burstPubRate * fractions[fractions.length - 1])),
    deliveries_per_s_under_limit: best ? best.deliveries_per_s : 0,
    p99_ms_at_max_rate: best ? best.p99_ms : null,
    latency_limit_ms: o.latencyLimit,
    steps,
    client_cpu: client.client_cpu,
  };
}

// Idle connections: open `clients` sockets, report the time it took, tell the
// runner (phase "ready") so it can read the server's RSS, and hold them until
// the runner writes a line on stdin (or a safety timeout passes).
async function idle(o) {
  const t0 = performance.now();
  const conns = await openMany(o.codec, o.url, o.clients, o.concurrency);
  const openSeconds = (performance.now() - t0) / 1000;
  phase('ready', { open_seconds: openSeconds });
  await new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin });
    const timer = setTimeout(resolve, o.hold * 1000);
    rl.once('line', () => { clearTimeout(timer); resolve(); });
    rl.once('close', () => { clearTimeout(timer); resolve(); });
  });
  const alive = conns.filter((c) => !c.closed).length;
  conns.forEach((c) => c.close());
  return {
    clients: conns.length,
    open_seconds: Math.round(openSeconds * 1000) / 1000,
    opens_per_s: Math.round(conns.length / openSeconds),
    alive_at_end: alive,
  };
}

// Cross-instance publish.user: B logs in as a user on instance 2, A asks
// instance 1 to publish to that user; latency is A's send to B's receipt,
// both on this process's monotonic clock. One message at a time.
async function xuser(o) {
  const b = await new Conn(o.codec, o.url2).open();
  const a = await new Conn(o.codec, o.url).open();
  const uid = 'bench-' + process.pid;
  try {
    await b.callP('login', [uid]);
  } catch (err) {
    throw remoteFailure(err, 'login');
  }
  let waiting = null;
  b.onEvent = (ev, data) => {
    if (ev === 'bench.ping' && waiting && data && data.seq === waiting.seq) waiting.resolve(performance.now());
  };
  let seq = 0;
  let sendFailure = null;
  async function once(timeoutMs) {
    const mySeq = ++seq;
    const t0 = performance.now();
    const got = new Promise((resolve) => { waiting = { seq: mySeq, resolve }; });
    a.call('send_user', [uid, { seq: mySeq }], (err) => { if (err && !sendFailure) sendFailure = remoteFailure(err, 'send_user'); });
    const t1 = await Promise.race([got, sleep(timeoutMs).then(() => null)]);
    waiting = null;
    if (sendFailure) throw sendFailure;
    return t1 === null ? null : t1 - t0;
  }
  // Warm-up also proves delivery works at all (subscriptions are live).
  let delivered = 0;
  const wEnd = performance.now() + o.warmup * 1000;
  while (performance.now() < wEnd) if ((await once(1000)) !== null) delivered++;
  if (delivered === 0) throw new Error('no cross-instance delivery during warm-up');

  phase('measure_start');
  const cpu = cpuMeter();
  const lat = [];
  let lost = 0;
  const end = performance.now() + o.duration * 1000;
  while (performance.now() < end) {
    const l = await once(1000);
    if (l === null) lost++; else lat.push(l);
  }
  const client = cpu();
  phase('measure_end');
  a.close();
  b.close();
  return Object.assign({ lost }, latencySummary(lat), client);
}


// The first name=value pair of a Set-Cookie header: what a browser sends back.
function cookiePair(setCookie) {
  return setCookie ? setCookie.split(';')[0].trim() : null;
}

// The reconnect storm, the moment after a deploy: `clients` tabs connected
// (each with its session cookie, a tab id, and the offset of the last
// broadcast it saw) all lose their sockets at once; a few broadcasts are
// published while they are away; then every tab reconnects at a uniformly
// random moment within `window` ms, with its cookie, its tab id and
// `recover=1`, and asks for what it missed (ss: the recover message). A tab
// whose attempt fails tries again after a second, as a browser would.
// Meanwhile a separate, already connected client calls square(25) one call
// at a time: its latencies during the storm are the "everyone else" figure.
// Targets without recovery (no offsets on their events) count a tab as back
// once its socket is ready.
async function storm(o) {
  const n = o.clients;
  const tabs = new Array(n);
  for (let i = 0; i < n; i++) tabs[i] = { tab: `storm${process.pid}x${i}`, cookie: null, offset: null, conn: null };
  // 1. Everyone connected, each with its own session cookie and tab id.
  let next = 0;
  async function opener() {
    while (next < n) {
      const t = tabs[next++];
      t.conn = await new Conn(o.codec, o.url, { query: `tab=${t.tab}` }).open();
      t.cookie = cookiePair(t.conn.ws.setCookie);
    }
  }
  await Promise.all(Array.from({ length: Math.min(o.concurrency, n) }, opener));
  const probe = await new Conn(o.codec, o.url).open();
  // 2. One broadcast everyone sees: its offset is where each tab will recover from.
  const tag0 = 1000 + (process.pid % 1000);
  let seen = 0;
  const seenAll = new Promise((resolve) => {
    tabs.forEach((t) => {
      t.conn.onEvent = (ev, data, d) => {
        if (ev !== 'tick' || !data || data.tag !== tag0 || t.offset !== null) return;
        t.offset = d && d.offset !== undefined ? d.offset : false;
        t.stream = d && d.stream;
        if (++seen === n) resolve();
      };
    });
  });
  await probe.callP('broadcast', [1, 0, tag0]);
  await Promise.race([seenAll, sleep(30000)]);
  if (seen < n) throw new Error(`only ${seen} of ${n} tabs saw the first broadcast`);
  const recovering = tabs[0].offset !== false && tabs[0].offset !== null;
  // 3. The cut: every socket drops at once, and messages go out while the tabs are away.
  tabs.forEach((t) => { t.conn.onEvent = null; t.conn.close(); });
  await sleep(300); // the server notices the closes
  const missedTag = tag0 + 1;
  const missed = 3;
  await probe.callP('broadcast', [missed, 0, missedTag]);
  await sleep(200);
  // 4. The storm, with the probe calling throughout.
  phase('measure_start');
  const cpu = cpuMeter();
  const t0 = performance.now();
  const lat = [];
  let storming = true;
  const probing = (async () => {
    while (storming) {
      const c0 = performance.now();
      await probe.callP('square', [25], 30000);
      lat.push(performance.now() - c0);
    }
  })();
  let back = 0;
  let recovered = 0;
  let failedRecoveries = 0;
  let newSessions = 0;
  let retries = 0;
  let lastBack = 0;
  let lastRecovered = 0;
  const deadline = t0 + o.window + 120000;
  const done = new Promise((resolve) => {
    const finishOne = () => {
      recovered++;
      lastRecovered = performance.now() - t0;
      if (recovered === n) resolve();
    };
    const attempt = (t) => {
      const query = `tab=${t.tab}` + (recovering ? '&recover=1' : '');
      const conn = new Conn(o.codec, o.url, { query, cookie: t.cookie });
      let got = 0;
      let finished = false;
      conn.onEvent = (ev, data) => {
        if (finished || ev !== 'tick' || !data || data.tag !== missedTag) return;
        if (++got === missed) { finished = true; finishOne(); }
      };
      conn.onOther = (m) => {
        if (!finished && m && m.type === 'recovery_failed') { finished = true; failedRecoveries++; finishOne(); }
      };
      conn.open().then(() => {
        t.conn = conn;
        back++;
        lastBack = performance.now() - t0;
        if (conn.ws.setCookie) newSessions++;
        if (recovering) {
          conn.ws.send(JSON.stringify({ type: 'recover', streams: { [t.stream]: t.offset } }));
        } else {
          finished = true;
          finishOne();
        }
      }, (err) => {
        if (process.env.STORM_DEBUG) process.stderr.write(`storm: ${err.message}\n`);
        retries++;
        if (performance.now() < deadline) setTimeout(() => attempt(t), 1000);
      });
    };
    tabs.forEach((t) => setTimeout(() => attempt(t), Math.random() * o.window));
  });
  await Promise.race([done, sleep(o.window + 120000)]);
  storming = false;
  await probing;
  const client = cpu();
  phase('measure_end');
  const summary = latencySummary(lat);
  tabs.forEach((t) => t.conn && t.conn.close());
  probe.close();
  if (recovered < n) throw new Error(`only ${recovered} of ${n} tabs were back and recovered after ${Math.round((performance.now() - t0) / 1000)} s`);
  return Object.assign({
    clients: n,
    window_ms: o.window,
    recovering,
    back_s: Math.round(lastBack) / 1000,
    recovered_s: Math.round(lastRecovered) / 1000,
    recovery_failed: failedRecoveries,
    new_sessions: newSessions,
    retries,
    probe_calls: lat.length,
    probe_p50_ms: summary.p50_ms,
    probe_p99_ms: summary.p99_ms,
    probe_max_ms: summary.max_ms,
  }, client);
}

module.exports = { rpc, fanout, idle, xuser, storm, NotImplemented, readNumber, readTick, TICK };
