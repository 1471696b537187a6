'use strict';
// One WebSocket connection to a target, with pending calls and event
// listeners. Calls take a callback, not a promise: at 50k+ calls/s the
// promise machinery is a visible share of the generator's own CPU.
const WebSocket = require('ws');

class Conn {
  constructor(codec, baseUrl) {
    this.codec = codec;
    this.url = baseUrl.replace(/\/$/, '') + codec.path;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.onEvent = null; // (event, data) => void
    // Optional fast path for the fan-out's high-volume frames: (Buffer) =>
    // true when it consumed the frame. Saves a string copy and a JSON.parse
    // per delivery, so the generator stays ahead of the servers.
    this.fastFrame = null;
    this.closed = false;
  }

  open(timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err); else resolve(this);
      };
      const timer = setTimeout(() => finish(new Error('open timed out: ' + this.url)), timeoutMs);
      // perMessageDeflate off: ws offers it by default and aiohttp accepts,
      // which would make one peer compress and skew the comparison.
      // skipUTF8Validation: the generator only reads ASCII JSON it can check
      // itself; validating every frame is a measurable share of its CPU when
      // it counts 50k+ deliveries a second.
      const ws = new WebSocket(this.url, { perMessageDeflate: false, skipUTF8Validation: true });
      this.ws = ws;
      ws.on('open', () => {
        ws._socket.setNoDelay(true);
        if (this.codec.readyOnOpen) finish();
      });
      ws.on('error', (err) => finish(err));
      ws.on('close', () => {
        this.closed = true;
        finish(new Error('closed before ready: ' + this.url));
        const err = new Error('connection closed');
        for (const cb of this.pending.values()) cb(err);
        this.pending.clear();
      });
      ws.on('message', (buf, isBinary) => {
        if (this.fastFrame !== null && this.fastFrame(buf)) return;
        const d = this.codec.decode(isBinary ? buf : buf.toString());
        switch (d.kind) {
          case 'reply': {
            const cb = this.pending.get(d.id);
            if (cb) { this.pending.delete(d.id); cb(null, d.result); }
            break;
          }
          case 'error': {
            const cb = this.pending.get(d.id);
            if (cb) { this.pending.delete(d.id); cb(Object.assign(new Error(d.error && d.error.message), { remote: d.error })); }
            break;
          }
          case 'event':
            if (this.onEvent) this.onEvent(d.event, d.data);
            break;
          case 'ready':
            this.info = d.info;
            finish();
            break;
          case 'send':
            ws.send(d.frame);
            break;
          case 'fatal':
            finish(new Error('refused: ' + d.error));
            break;
          default:
            break;
        }
      });
    });
  }

  call(method, args, cb) {
    const id = this.nextId++;
    this.pending.set(id, cb);
    this.ws.send(this.codec.encodeCall(id, method, args));
  }

  callP(method, args, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method} timed out`)), timeoutMs);
      this.call(method, args, (err, res) => {
        clearTimeout(timer);
        if (err) reject(err); else resolve(res);
      });
    });
  }

  close() {
    if (this.ws && !this.closed) {
      try { this.ws.terminate(); } catch (e) { /* already gone */ }
    }
  }
}

// Open n connections with at most `concurrency` handshakes in flight, so the
// target's accept queue is not what we measure.
async function openMany(codec, baseUrl, n, concurrency = 50) {
  const conns = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      conns[i] = await new Conn(codec, baseUrl).open();
    }
  }
  const workers = [];
  for (let w = 0; w < Math.min(concurrency, n); w++) workers.push(worker());
  await Promise.all(workers);
  return conns;
}

module.exports = { Conn, openMany };
