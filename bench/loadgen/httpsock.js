'use strict';
// HTTP carriers with the interface conn.js uses of RawWebSocket (onOpen, onMessage(buf, start, end),
// onClose, onError; send(text) -> bool; terminate()), so every scenario runs unchanged over:
//   'ss'  ss's HTTP fallback transport (docs/protocol.md, "The HTTP transport"): POST open, a
//         streamed GET poll (stream=1, one message per line, each batch after a line #N: its first
//         message's number), batched POSTs (one message per line) asking for the replies ready by
//         their answer (replies=1: numbered from X-SS-Seq); messages are taken in by number, as the
//         browser does;
//   'eio' Engine.IO 4 long-polling, what python-socketio and Node Socket.IO fall back to: GET
//         handshake ("0{sid...}"), GET polls and POSTs whose packets are separated by \x1e.
// Two keep-alive connections per carrier, as a browser uses for one page: one for the polls, one
// for the POSTs (and the open), each one request at a time (http1.js). Sends made in one turn go
// out in one POST, one POST at a time per carrier (as the browsers do).
const { Http1Connection } = require('./http1');

const RS = 0x1e;
const NL = 10;
const HASH = 0x23;

class HttpSocket {
  constructor(url, handlers, flavor) {
    const u = new URL(url.replace(/^ws/, 'http'));
    this.prefix = u.pathname + u.search;   // '/_ss/http' or '/socket.io/?EIO=4'
    this.h = handlers;
    this.flavor = flavor;
    const fail = (err) => this.fail(err);
    this.poller = new Http1Connection(u.hostname, Number(u.port), fail);
    this.poster = new Http1Connection(u.hostname, Number(u.port), fail);
    this.queue = [];
    this.posting = false;
    this.closed = false;
    this.cid = null;
    this.auth = '';         // ss: the secret header line
    this.delivered = 0;     // ss: messages taken in, in the server's numbering (the init is 0)
    this.early = new Map(); // ss: number -> Buffer, messages that came before earlier ones
    this.open();
  }

  // A request whose whole body is wanted: done(status, headers, body Buffer).
  collect(conn, method, path, head, body, done) {
    let status = 0;
    let headers = null;
    const chunks = [];
    conn.request(method, this.prefix + path, head, body, {
      onHead: (s, h) => { status = s; headers = h; },
      onData: (buf, start, end) => chunks.push(Buffer.from(buf.subarray(start, end))),
      onEnd: () => done(status, headers, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)),
    });
  }

  open() {
    if (this.flavor === 'ss') {
      const tab = Math.random().toString(36).slice(2, 10);
      this.collect(this.poster, 'POST', '/open?tab=' + tab, 'X-SS-Transport: http\r\n', '', (status, _, body) => {
        if (status !== 200) return this.fail(new Error('open: HTTP ' + status + ' ' + body));
        const answer = JSON.parse(body.toString('utf8'));
        this.cid = encodeURIComponent(answer.connection);
        this.auth = 'X-SS-Secret: ' + answer.secret + '\r\n';
        this.h.onOpen();
        this.poll();
      });
    } else {
      this.collect(this.poller, 'GET', '&transport=polling', '', undefined, (status, _, body) => {
        if (status !== 200) return this.fail(new Error('handshake: HTTP ' + status));
        const first = body.toString('utf8').split('\x1e')[0];
        this.cid = JSON.parse(first.slice(1)).sid;
        this.h.onOpen();
        this.deliverPackets(body);
        this.poll();
      });
    }
  }

  poll() {
    if (this.closed) return;
    if (this.flavor === 'ss') {
      let status = 0;
      let rest = null;   // an incomplete line from the previous chunk
      let number = 0;    // the next message's number (a line #N sets it)
      const error = [];
      this.poller.request('GET', this.prefix + '/poll?stream=1&c=' + this.cid, this.auth, undefined, {
        onHead: (s) => { status = s; },
        onData: (chunk, from, to) => {
          if (status !== 200) { error.push(Buffer.from(chunk.subarray(from, to))); return; }
          let buf = chunk;
          let start = from;
          if (rest !== null) {
            buf = Buffer.concat([rest, chunk.subarray(from, to)]);
            start = 0;
            to = buf.length;
            rest = null;
          }
          for (let i = start; i < to; i++) {
            if (buf[i] === NL) {
              if (i > start) {
                if (buf[start] === HASH) number = Number(buf.toString('latin1', start + 1, i));
                else this.take(number++, buf, start, i);
              }
              start = i + 1;
            }
          }
          if (start < to) rest = Buffer.from(buf.subarray(start, to));
        },
        onEnd: () => {
          if (status !== 200) return this.fail(new Error('poll: HTTP ' + status + ' ' + Buffer.concat(error)));
          if (this.early.size !== 0 && !this.posting) {
            return this.fail(new Error('messages lost: nothing on its way brings message ' + this.delivered));
          }
          this.poll();
        },
      });
    } else {
      this.collect(this.poller, 'GET', '&transport=polling&sid=' + this.cid, '', undefined, (status, _, body) => {
        if (status !== 200) return this.fail(new Error('poll: HTTP ' + status));
        this.deliverPackets(body);
        this.poll();
      });
    }
  }

  // ss: message `number` is taken in if it is the next one (then those that waited for it), else kept.
  take(number, buf, start, end) {
    if (number < this.delivered) return;
    if (number > this.delivered) {
      this.early.set(number, Buffer.from(buf.subarray(start, end)));
      return;
    }
    this.delivered++;
    this.h.onMessage(buf, start, end, false);
    while (this.early.size !== 0 && this.early.has(this.delivered)) {
      const kept = this.early.get(this.delivered);
      this.early.delete(this.delivered++);
      this.h.onMessage(kept, 0, kept.length, false);
    }
  }

  answered(first, buf) {
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] === NL) {
        if (i > start) this.take(first++, buf, start, i);
        start = i + 1;
      }
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
    const path = ss ? '/send?replies=1&c=' + this.cid : '&transport=polling&sid=' + this.cid;
    const head = 'Content-Type: text/plain;charset=UTF-8\r\n' + (ss ? this.auth : '');
    this.collect(this.poster, 'POST', path, head, body, (status, headers, answer) => {
      if (ss && status === 200) {
        this.answered(Number(headers['x-ss-seq']), answer);
      } else if (status !== (ss ? 204 : 200)) {
        return this.fail(new Error('send: HTTP ' + status + ' ' + answer.toString('utf8')));
      }
      this.post();
    });
  }

  fail(err) {
    if (this.closed) return;
    this.h.onError(err);
    this.terminate();
  }

  terminate() {
    if (this.closed) return;
    this.closed = true;
    this.poller.destroy();
    this.poster.destroy();
    this.h.onClose();
  }
}

module.exports = { HttpSocket };
