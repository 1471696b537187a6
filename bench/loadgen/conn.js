'use strict';
// One WebSocket connection to a target, with pending calls and event
// listeners. Calls take a callback, not a promise: at 50k+ calls/s the
// promise machinery is a visible share of the generator's own CPU.
// The socket is rawws.js, the generator's own client: the same bytes on the
// wire as `ws` sent, at a fraction of its CPU per received frame.
const { RawWebSocket } = require('./rawws');
const { HttpSocket } = require('./httpsock');

class Conn {
  // `options`: `query` (added to the URL, e.g. 'tab=t1&recover=1'), `cookie` (a Cookie header to send).
  constructor(codec, baseUrl, options = {}) {
    this.codec = codec;
    this.url = baseUrl.replace(/\/$/, '') + codec.path;
    if (options.query) this.url += (this.url.includes('?') ? '&' : '?') + options.query;
    this.cookie = options.cookie || null;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.onEvent = null; // (event, data, decoded) => void; decoded has ss's stream and offset
    this.onOther = null; // (message) => void: messages no scenario asked for (ss's recovery_failed)
    // Optional fast path for the fan-out's high-volume frames:
    // (buf, start, end) => true when it consumed the frame in buf[start..end).
    // Saves a string copy and a JSON.parse per delivery, so the generator
    // stays ahead of the servers. buf is only valid during the call.
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
      // No extension is offered (permessage-deflate stays off for every
      // target: aiohttp would accept it and compress), and text frames are
      // not UTF-8 validated: the generator only reads ASCII JSON it checks
      // itself.
      const Socket = this.codec.http ? HttpSocket : RawWebSocket;
      const socketOptions = this.codec.http ? this.codec.http : { cookie: this.cookie };
      this.ws = new Socket(this.url, {
        onOpen: () => {
          if (this.codec.readyOnOpen) finish();
        },
        onError: (err) => finish(err),
        onClose: () => {
          this.closed = true;
          finish(new Error('closed before ready: ' + this.url));
          const err = new Error('connection closed');
          for (const cb of this.pending.values()) cb(err);
          this.pending.clear();
        },
        onMessage: (buf, start, end, isBinary) => {
          if (this.fastFrame !== null && this.fastFrame(buf, start, end)) return;
          this._message(isBinary ? Buffer.from(buf.subarray(start, end)) : buf.toString('utf8', start, end), finish);
        },
      }, socketOptions);
    });
  }

  _message(frame, finish) {
    const d = this.codec.decode(frame);
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
        if (this.onEvent) this.onEvent(d.event, d.data, d);
        break;
      case 'other':
        if (this.onOther) this.onOther(d.message);
        break;
      case 'ready':
        this.info = d.info;
        finish();
        break;
      case 'send':
        this.ws.send(d.frame);
        break;
      case 'fatal':
        finish(new Error('refused: ' + d.error));
        break;
      default:
        break;
    }
  }

  call(method, args, cb) {
    const id = this.nextId++;
    this.pending.set(id, cb);
    if (!this.ws.send(this.codec.encodeCall(id, method, args))) {
      this.pending.delete(id);
      cb(new Error('connection closed'));
    }
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
      this.ws.terminate();
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
