#!/usr/bin/env node
'use strict';
// The ss load generator. One program for every target so the client cost is
// the same everywhere; bench/run.py runs it pinned to its own core.
//
//   node main.js --proto ss|echo|sio|ss-http|sio-poll --url http://127.0.0.1:PORT --scenario rpc
//        [--conns 1 --inflight 1] [--warmup 2 --duration 5]
//   ... --scenario fanout --clients 500 [--step 2 --latency-limit 100]
//   ... --scenario idle --clients 5000 [--concurrency 100 --hold 120]
//   ... --scenario xuser --url2 http://127.0.0.1:PORT2
//   ... --scenario storm --clients 5000 [--window 1000 --concurrency 100]
//
// stdout is JSON lines: {"phase":...} markers while it runs, then one
// {"result":{...}} or {"error":"...","not_implemented":bool}. Exit code 0 on
// a result, 2 when the target lacks the feature, 1 on any other failure.
const { CODECS } = require('./protocols');
const scenarios = require('./scenarios');

const DEFAULTS = {
  proto: 'ss',
  url: 'http://127.0.0.1:3000',
  url2: null,
  scenario: 'rpc',
  conns: 1,
  inflight: 1,
  clients: 500,
  warmup: 2,
  duration: 5,
  step: 2,
  'latency-limit': 100,
  concurrency: 100,
  hold: 120,
  window: 1000, // storm: ms over which every tab reconnects
  fast: 1, // fan-out: read tick stamps from the raw frame (0: full JSON.parse, to cross-check)
};

function parseArgs(argv) {
  const o = Object.assign({}, DEFAULTS);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (!(key in DEFAULTS)) throw new Error(`unknown option ${a}`);
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    o[key] = typeof DEFAULTS[key] === 'number' ? Number(v) : v;
    if (Number.isNaN(o[key])) throw new Error(`${a} needs a number`);
  }
  o.codec = CODECS[o.proto];
  if (!o.codec) throw new Error(`unknown --proto ${o.proto} (ss, echo, sio, ss-http, sio-poll)`);
  if (!scenarios[o.scenario] || o.scenario === 'NotImplemented') throw new Error(`unknown --scenario ${o.scenario}`);
  if (o.scenario === 'xuser' && !o.url2) throw new Error('--scenario xuser needs --url2');
  o.url = o.url.replace(/^http/, 'ws');
  if (o.url2) o.url2 = o.url2.replace(/^http/, 'ws');
  o.latencyLimit = o['latency-limit'];
  return o;
}

function emit(obj, code) {
  process.stdout.write(JSON.stringify(obj) + '\n', () => process.exit(code));
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`loadgen: ${err.message}\n`);
    process.exit(64);
  }
  try {
    const result = await scenarios[o.scenario](o);
    emit({ result }, 0);
  } catch (err) {
    const ni = err instanceof scenarios.NotImplemented;
    emit({ error: err.message || String(err), not_implemented: ni }, ni ? 2 : 1);
  }
}

main();
