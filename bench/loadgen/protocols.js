'use strict';
// Wire codecs for the three kinds of target. A codec is pure: it turns a
// logical call into a frame and a frame into what happened ("ready", "reply",
// "event", "send"), so the connection code and every scenario are shared and
// the client cost is the same for every target.
//
// Logical methods used by the scenarios: square, broadcast, login, send_user.

// ss: docs/protocol.md. The socket lives at /_ss/socket; the server speaks
// first with {"type":"init",...}; calls are answered by reply or error.
const SS_METHODS = {
  square: 'app.square',
  broadcast: 'bench.broadcast',
  login: 'bench.login',
  send_user: 'bench.send_user',
};

const ssCodec = {
  name: 'ss',
  path: '/_ss/socket',
  readyOnOpen: false,
  encodeCall(id, method, args) {
    return JSON.stringify({ type: 'call', id, method: SS_METHODS[method] || method, args });
  },
  decode(text) {
    const m = JSON.parse(text);
    switch (m.type) {
      case 'reply': return { kind: 'reply', id: m.id, result: m.result };
      case 'error': return { kind: 'error', id: m.id, error: m.error };
      case 'event': {
        const d = { kind: 'event', event: m.event, data: m.data };
        if (m.offset !== undefined) { d.stream = m.stream; d.offset = m.offset; } // recoverable streams
        return d;
      }
      case 'init': return { kind: 'ready', info: m };
      default: return { kind: 'other', message: m };
    }
  },
};

// Raw echo (the Tornado floor): the same call/reply/event frames as ss, but
// no init message, so the connection is ready as soon as it opens.
const echoCodec = Object.assign({}, ssCodec, {
  name: 'echo',
  path: '/ws',
  readyOnOpen: true,
  decode(text) {
    const d = ssCodec.decode(text);
    return d.kind === 'ready' ? { kind: 'other', message: d.info } : d;
  },
});

// Socket.IO v4 over Engine.IO 4, websocket transport only. Engine.IO packet
// types are one digit: 0 open, 2 ping, 3 pong, 4 message. Socket.IO packets
// ride in Engine.IO messages: 40 connect, 42 event, 43 ack, each optionally
// followed by an ack id before the JSON array.
const SIO_EVENTS = {
  square: 'square',
  broadcast: 'bench.broadcast',
  login: 'bench.login',
  send_user: 'bench.send_user',
};

function splitAck(text, start) {
  // Digits after the packet type are the ack id; the JSON array follows.
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  const id = i > start ? Number(text.slice(start, i)) : null;
  return { id, body: text.slice(i) };
}

const sioCodec = {
  name: 'sio',
  path: '/socket.io/?EIO=4&transport=websocket',
  readyOnOpen: false,
  encodeCall(id, method, args) {
    return '42' + id + JSON.stringify([SIO_EVENTS[method] || method].concat(args));
  },
  decode(text) {
    const eio = text.charCodeAt(0);
    if (eio === 50 /* '2' ping */) return { kind: 'send', frame: '3' };
    if (eio === 48 /* '0' open */) return { kind: 'send', frame: '40' };
    if (eio !== 52 /* '4' message */) return { kind: 'other', message: text };
    const sio = text.charCodeAt(1);
    if (sio === 51 /* '3' ack */) {
      const { id, body } = splitAck(text, 2);
      const arr = JSON.parse(body);
      return { kind: 'reply', id, result: arr[0] };
    }
    if (sio === 50 /* '2' event */) {
      const { body } = splitAck(text, 2);
      const arr = JSON.parse(body);
      return { kind: 'event', event: arr[0], data: arr[1] };
    }
    if (sio === 48 /* '0' connect */) return { kind: 'ready', info: text.slice(2) };
    if (sio === 52 /* '4' connect_error */) return { kind: 'fatal', error: text.slice(2) };
    return { kind: 'other', message: text };
  },
};

// The same codecs over HTTP (httpsock.js): ss's fallback transport, and Engine.IO long-polling.
const ssHttpCodec = Object.assign({}, ssCodec, { name: 'ss-http', path: '/_ss/http', http: 'ss' });
const sioPollCodec = Object.assign({}, sioCodec, { name: 'sio-poll', path: '/socket.io/?EIO=4', http: 'eio' });

const CODECS = { ss: ssCodec, echo: echoCodec, sio: sioCodec, 'ss-http': ssHttpCodec, 'sio-poll': sioPollCodec };

module.exports = { CODECS, splitAck };
