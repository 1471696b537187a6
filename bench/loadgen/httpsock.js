'use strict';
// HTTP carriers with the interface conn.js uses of RawWebSocket (onOpen, onMessage(buf, start, end),
// onClose, onError; send(text) -> bool; terminate()), so every scenario runs unchanged over:
//   'ss'  ss's HTTP fallback transport (docs/protocol.md, "The HTTP transport"): POST open, a
//         streamed GET poll (stream=1, one message per line), batched POSTs (one message per line);
//   'eio' Engine.IO 4 long-polling, what python-socketio and Node Socket.IO fall back to: GET
//         handshake ("0{sid...}"), GET polls and POSTs whose packets are separated by \x1e.
// Sends made in one turn go out in one POST, one POST at a time per connection (as the browsers do).
const http = require('http');

const RS = 0x1e;

class HttpSocket {
  constructor(url, handlers, flavor) {
    this.base = url.replace(/^ws/, 'http');
    this.h = handlers;
    this.flavor = flavor;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.queue = [];
    this.posting = false;
    this.closed = false;
    this.cid = null;
    this.secret = null;
    this.open();
  }

  request(method, path, headers, body, onResponse) {
    const req = http.request(this.base + path, { method, headers, agent: this.agent }, onResponse);
    req.setNoDelay(true);
    req.on('error', (err) => this.fail(err));
    req.end(body);
  }

  open() {
    if (this.flavor === 'ss') {
      this.request('POST', '/open?tab=' + Math.random().toString(36).slice(2, 10), { 'X-SS-Transport': 'http' }, '',
        (res) => this.collect(res, (body) => {
          if (res.statusCode !== 200) return this.fail(new Error('open: HTTP ' + res.statusCode + ' ' + body));
          const answer = JSON.parse(body);
          this.cid = encodeURIComponent(answer.connection);
          this.secret = answer.secret;
          this.h.onOpen();
          this.poll();
        }));
    } else {
      this.request('GET', '&transport=polling', {}, undefined, (res) => this.collect(res, (body) => {
        if (res.statusCode !== 200) return this.fail(new Error('handshake: HTTP ' + res.statusCode));
        const first = body.split('\x1e')[0];
        this.cid = JSON.parse(first.slice(1)).sid;
        this.h.onOpen();
        this.deliverPackets(Buffer.from(body));
        this.poll();
      }));
    }
  }

  collect(res, done) {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    res.on('error', (err) => this.fail(err));
  }

  poll() {
    if (this.closed) return;
    if (this.flavor === 'ss') {
      this.request('GET', '/poll?stream=1&c=' + this.cid, { 'X-SS-Secret': this.secret }, undefined, (res) => {
        if (res.statusCode !== 200) return this.collect(res, (b) => this.fail(new Error('poll: HTTP ' + res.statusCode + ' ' + b)));
        let rest = null;   // an incomplete line from the previous chunk
        res.on('data', (chunk) => {
          const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
          let start = 0;
          for (let i = 0; i < buf.length; i++) {
            if (buf[i] === 10) {
              if (i > start) this.h.onMessage(buf, start, i, false);
              start = i + 1;
            }
          }
          rest = start < buf.length ? buf.subarray(start) : null;
        });
        res.on('end', () => this.poll());
        res.on('error', (err) => this.fail(err));
      });
    } else {
      this.request('GET', '&transport=polling&sid=' + this.cid, {}, undefined, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return this.fail(new Error('poll: HTTP ' + res.statusCode));
          this.deliverPackets(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
          this.poll();
        });
      });
    }
  }

  deliverPackets(buf) {
    let start = 0;
    for (let i = 0; i <= buf.length; i++) {
      if (i === buf.length || buf[i] === RS) {
        if (i > start) this.h.onMessage(buf, start, i, false);
        start = i + 1;
      }
    }
  }

  send(text) {
    if (this.closed || this.cid === null) return false;
    this.queue.push(text);
    if (!this.posting) {
      this.posting = true;
      setImmediate(() => this.post());
    }
    return true;
  }

  post() {
    if (this.closed || this.queue.length === 0) { this.posting = false; return; }
    const batch = this.queue;
    this.queue = [];
    const ss = this.flavor === 'ss';
    const body = batch.join(ss ? '\n' : '\x1e');
    const path = ss ? '/send?c=' + this.cid : '&transport=polling&sid=' + this.cid;
    const headers = { 'Content-Type': 'text/plain;charset=UTF-8', 'Content-Length': Buffer.byteLength(body) };
    if (ss) headers['X-SS-Secret'] = this.secret;
    this.request('POST', path, headers, body, (res) => this.collect(res, (b) => {
      if (res.statusCode !== (ss ? 204 : 200)) return this.fail(new Error('send: HTTP ' + res.statusCode + ' ' + b));
      this.post();
    }));
  }

  fail(err) {
    if (this.closed) return;
    this.h.onError(err);
    this.terminate();
  }

  terminate() {
    if (this.closed) return;
    this.closed = true;
    this.agent.destroy();
    this.h.onClose();
  }
}

module.exports = { HttpSocket };
