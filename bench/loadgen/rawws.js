'use strict';
// A small WebSocket client (RFC 6455) on `net`, made for the load generator.
//
// Why not `ws`: in the fan-out scenario the generator receives 50k+ small
// frames a second, and with `ws` each one costs a stream 'data' event, a
// Receiver state-machine pass, a Buffer per frame and a 'message' event:
// enough to saturate the generator's core before the fastest servers do.
// Here every TCP read lands in one shared buffer (net's `onread`, no stream
// machinery, no allocation per read) and a scanner walks the whole chunk in
// one loop, handing each text frame to the consumer as (buffer, start, end)
// without copying it. Only a frame split across two reads is copied.
//
// What the servers see is what `ws` sent them: the same upgrade request (no
// Origin, no extensions: permessage-deflate is never offered), client frames
// masked with a fresh random key per frame (servers unmask them as before;
// Node's `ws` server skips the unmasking for an all-zero key, which would
// favour one target), one socket write per frame, TCP_NODELAY, pings answered
// with pongs and a close frame answered with a close frame.
//
// Buffers handed to `onMessage` are only valid during the call: the next
// read overwrites them. Copy what must outlive it (decoding to a string or
// reading numbers out of it is what the generator does).
const net = require('net');
const crypto = require('crypto');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_PAYLOAD = 64 * 1024 * 1024; // a frame or a message bigger than this is a protocol error here
const MAX_HEAD = 16 * 1024; // the server's 101 response head

// One read buffer for every socket. libuv reads one socket at a time and the
// scanner is done with the bytes (or has copied the tail of a split frame)
// before the callback returns, so no two sockets ever hold it at once. 64 KB
// is what Node's streams read at a time, so the kernel is drained at the same
// pace as with `ws`.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

function acceptFor(key) {
  return crypto.createHash('sha1').update(key + GUID).digest('base64');
}

function newKey() {
  return crypto.randomBytes(16).toString('base64');
}

// The upgrade request, header for header what `ws` sends when it offers no
// extension and no subprotocol.
// `cookie`: a Cookie header value (the reconnect storm's returning tabs), or none.
function handshakeRequest(host, path, key, cookie) {
  return `GET ${path} HTTP/1.1\r\n` +
    'Sec-WebSocket-Version: 13\r\n' +
    `Sec-WebSocket-Key: ${key}\r\n` +
    'Connection: Upgrade\r\n' +
    'Upgrade: websocket\r\n' +
    `Host: ${host}\r\n` +
    (cookie ? `Cookie: ${cookie}\r\n` : '') +
    '\r\n';
}

// Parse a response head (status line and headers, without the blank line).
// Header names are lower-cased; repeated headers are joined with ", ".
function parseResponseHead(text) {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error('invalid HTTP status line: ' + JSON.stringify(lines[0].slice(0, 80)));
  const headers = Object.create(null);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const c = line.indexOf(':');
    if (c <= 0) throw new Error('invalid HTTP header line: ' + JSON.stringify(line.slice(0, 80)));
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    headers[name] = name in headers ? headers[name] + ', ' + value : value;
  }
  return { status: Number(m[1]), reason: m[2] || '', headers };
}

// null when the head accepts our upgrade, else why not (the checks `ws` makes).
function checkHandshake(head, key) {
  if (head.status !== 101) return `Unexpected server response: ${head.status}`;
  const h = head.headers;
  if (!h.upgrade || h.upgrade.toLowerCase() !== 'websocket') return 'Invalid Upgrade header';
  if (!h.connection || !/(^|,)\s*upgrade\s*(,|$)/i.test(h.connection)) return 'Invalid Connection header';
  if (h['sec-websocket-accept'] !== acceptFor(key)) return 'Invalid Sec-WebSocket-Accept header';
  // We offer neither: a server that picks one anyway speaks something else.
  if (h['sec-websocket-extensions'] !== undefined) return 'Server sent a Sec-WebSocket-Extensions header but no extension was requested';
  if (h['sec-websocket-protocol'] !== undefined) return 'Server sent a subprotocol but none was requested';
  return null;
}

// Random mask keys, drawn 4 bytes at a time from a pool refilled in bulk.
const MASK_POOL = Buffer.allocUnsafe(8192);
let maskPos = MASK_POOL.length;

// One client frame: FIN set, masked with a fresh random key. `data` is a
// string (sent as UTF-8) or a Buffer.
function encodeFrame(opcode, data) {
  const isString = typeof data === 'string';
  const n = isString ? Buffer.byteLength(data) : data.length;
  const hdr = n < 126 ? 6 : n < 65536 ? 8 : 14;
  const out = Buffer.allocUnsafe(hdr + n);
  out[0] = 0x80 | opcode;
  if (n < 126) {
    out[1] = 0x80 | n;
  } else if (n < 65536) {
    out[1] = 0x80 | 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  if (maskPos === MASK_POOL.length) {
    crypto.randomFillSync(MASK_POOL);
    maskPos = 0;
  }
  const m = hdr - 4;
  const k0 = (out[m] = MASK_POOL[maskPos]);
  const k1 = (out[m + 1] = MASK_POOL[maskPos + 1]);
  const k2 = (out[m + 2] = MASK_POOL[maskPos + 2]);
  const k3 = (out[m + 3] = MASK_POOL[maskPos + 3]);
  maskPos += 4;
  if (isString) out.write(data, hdr);
  else data.copy(out, hdr);
  let i = hdr;
  const end = hdr + n;
  for (; i + 3 < end; i += 4) {
    out[i] ^= k0;
    out[i + 1] ^= k1;
    out[i + 2] ^= k2;
    out[i + 3] ^= k3;
  }
  if (i < end) out[i++] ^= k0;
  if (i < end) out[i++] ^= k1;
  if (i < end) out[i] ^= k2;
  return out;
}

// Walks server-to-client frames out of the chunks it is pushed, in bulk.
// The sink gets:
//   onMessage(buf, start, end, isBinary)  a whole text or binary message
//   onPing(buf, start, end), onPong(buf, start, end)
//   onCloseFrame(code, reason)            then the scanner stops
//   onProtocolError(err)                  then the scanner stops
// `buf` may be the chunk itself (valid only during the call) or a copy.
class FrameScanner {
  constructor(sink) {
    this.sink = sink;
    this.stopped = false;
    // A frame split across chunks: its bytes so far (our own copy), and its
    // total length once its header is complete (0 until then).
    this.part = null;
    this.partLen = 0;
    this.partNeed = 0;
    // A fragmented message in progress: its opcode and its payload pieces.
    this.fragOpcode = 0;
    this.frags = null;
    this.fragLen = 0;
    // The header just parsed by _header().
    this.hByte0 = 0;
    this.hLen = 0;
  }

  // Parse the header at buf[pos..end). Returns the frame's total length
  // (header + payload), 0 when the header is not all there yet, -1 on a
  // protocol error (already reported).
  _header(buf, pos, end) {
    const avail = end - pos;
    if (avail < 2) return 0;
    const b0 = buf[pos];
    const b1 = buf[pos + 1];
    if (b1 & 0x80) return this._fail('server frames must not be masked');
    if (b0 & 0x70) return this._fail('RSV bits set but no extension was negotiated');
    let len = b1 & 0x7f;
    let hdr = 2;
    if (len === 126) {
      if (avail < 4) return 0;
      len = (buf[pos + 2] << 8) | buf[pos + 3];
      hdr = 4;
    } else if (len === 127) {
      if (avail < 10) return 0;
      const hi = buf.readUInt32BE(pos + 2);
      const lo = buf.readUInt32BE(pos + 6);
      if (hi > 0x1fffff) return this._fail('frame length does not fit 53 bits');
      len = hi * 0x100000000 + lo;
      hdr = 10;
    }
    if (b0 & 0x08) {
      if ((b0 & 0x80) === 0) return this._fail('fragmented control frame');
      if (len > 125) return this._fail('control frame longer than 125 bytes');
    }
    if (len > MAX_PAYLOAD) return this._fail(`frame of ${len} bytes is over the limit`);
    this.hByte0 = b0;
    this.hLen = hdr;
    return hdr + len;
  }

  _fail(message) {
    this.stopped = true;
    this.part = null;
    this.partLen = 0;
    this.frags = null;
    this.sink.onProtocolError(new Error(message));
    return -1;
  }

  // Scan buf[start..end). Everything the sink needs after this returns has
  // been copied.
  push(buf, start = 0, end = buf.length) {
    if (this.stopped) return;
    let pos = start;
    if (this.partLen > 0) {
      pos = this._continuePart(buf, pos, end);
      if (pos < 0 || this.partLen > 0 || this.stopped) return;
    }
    while (pos < end) {
      const total = this._header(buf, pos, end);
      if (total < 0) return;
      if (total === 0 || total > end - pos) {
        this._startPart(buf, pos, end, total);
        return;
      }
      this._frame(this.hByte0, buf, pos + this.hLen, pos + total);
      if (this.stopped) return;
      pos += total;
    }
  }

  // Keep the tail of a chunk that holds only the start of a frame.
  _startPart(buf, pos, end, total) {
    const have = end - pos;
    this.part = Buffer.allocUnsafe(Math.max(total, 14, have));
    buf.copy(this.part, 0, pos, end);
    this.partLen = have;
    this.partNeed = total;
  }

  // Complete a split frame from the next chunk; returns where the chunk's
  // own frames start, or -1 on error.
  _continuePart(buf, pos, end) {
    if (this.partNeed === 0) {
      // Header still incomplete: take at most what a header can span, then
      // give back whatever turns out to belong to the next frame.
      const take = Math.min(14 - this.partLen, end - pos);
      buf.copy(this.part, this.partLen, pos, pos + take);
      this.partLen += take;
      pos += take;
      const total = this._header(this.part, 0, this.partLen);
      if (total < 0) return -1;
      if (total === 0) return pos; // still not enough (the chunk was tiny)
      if (this.partLen > total) {
        pos -= this.partLen - total;
        this.partLen = total;
      }
      this.partNeed = total;
      if (this.part.length < total) {
        const bigger = Buffer.allocUnsafe(total);
        this.part.copy(bigger, 0, 0, this.partLen);
        this.part = bigger;
      }
    }
    // While a split frame is pending nothing else is parsed, so hByte0 and
    // hLen still describe it.
    const take = Math.min(this.partNeed - this.partLen, end - pos);
    buf.copy(this.part, this.partLen, pos, pos + take);
    this.partLen += take;
    pos += take;
    if (this.partLen === this.partNeed) {
      const part = this.part;
      const b0 = this.hByte0;
      const hdr = this.hLen;
      const total = this.partNeed;
      this.part = null;
      this.partLen = 0;
      this.partNeed = 0;
      this._frame(b0, part, hdr, total);
    }
    return pos;
  }

  _frame(b0, buf, s, e) {
    const fin = (b0 & 0x80) !== 0;
    const op = b0 & 0x0f;
    switch (op) {
      case OP_TEXT:
      case OP_BINARY:
        if (this.fragOpcode !== 0) { this._fail('new message inside a fragmented one'); return; }
        if (fin) {
          this.sink.onMessage(buf, s, e, op === OP_BINARY);
        } else {
          this.fragOpcode = op;
          this.frags = [Buffer.from(buf.subarray(s, e))];
          this.fragLen = e - s;
        }
        return;
      case OP_CONT: {
        if (this.fragOpcode === 0) { this._fail('continuation frame without a message to continue'); return; }
        this.fragLen += e - s;
        if (this.fragLen > MAX_PAYLOAD) { this._fail(`message of ${this.fragLen} bytes is over the limit`); return; }
        this.frags.push(Buffer.from(buf.subarray(s, e)));
        if (!fin) return;
        const msg = Buffer.concat(this.frags, this.fragLen);
        const isBinary = this.fragOpcode === OP_BINARY;
        this.fragOpcode = 0;
        this.frags = null;
        this.fragLen = 0;
        this.sink.onMessage(msg, 0, msg.length, isBinary);
        return;
      }
      case OP_PING:
        this.sink.onPing(buf, s, e);
        return;
      case OP_PONG:
        this.sink.onPong(buf, s, e);
        return;
      case OP_CLOSE: {
        if (e - s === 1) { this._fail('close frame with a 1-byte payload'); return; }
        const code = e - s >= 2 ? (buf[s] << 8) | buf[s + 1] : 1005;
        const reason = e - s > 2 ? buf.toString('utf8', s + 2, e) : '';
        this.stopped = true;
        this.sink.onCloseFrame(code, reason);
        return;
      }
      default:
        this._fail(`unknown opcode ${op}`);
    }
  }
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// One client connection. `handlers`: onOpen(), onMessage(buf, start, end,
// isBinary), onError(err), onClose(); onClose comes once, last, whatever
// happened before. Options: `noDelay` (true), `cookie` (a Cookie header to
// send). After the handshake `setCookie` is the 101's Set-Cookie (or null).
class RawWebSocket {
  constructor(url, handlers, options = {}) {
    const u = new URL(url);
    if (u.protocol !== 'ws:') throw new Error(`only ws:// URLs: ${url}`);
    this.handlers = handlers;
    this.state = CONNECTING;
    this.key = newKey();
    this.head = null; // the 101 response so far
    this.setCookie = null;
    this.scanner = new FrameScanner(this);
    this.closeSent = false;
    const port = Number(u.port) || 80;
    const hostHeader = u.port ? `${u.hostname}:${u.port}` : u.hostname;
    const host = u.hostname.replace(/^\[|\]$/g, '');
    this.socket = net.connect({
      host,
      port,
      onread: { buffer: READ_BUFFER, callback: (n, buf) => this._onRead(n, buf) },
    });
    this.socket.on('connect', () => {
      if (options.noDelay !== false) this.socket.setNoDelay(true);
      this.socket.write(handshakeRequest(hostHeader, u.pathname + u.search, this.key, options.cookie));
    });
    this.socket.on('error', (err) => this._error(err));
    this.socket.on('close', () => {
      this.state = CLOSED;
      this.handlers.onClose();
    });
  }

  get readyState() {
    return this.state;
  }

  _onRead(n, buf) {
    if (this.state === OPEN) {
      this.scanner.push(buf, 0, n);
    } else if (this.state === CONNECTING) {
      this._handshakeData(buf, n);
    }
    // CLOSING / CLOSED: nothing more is read into the generator.
  }

  _handshakeData(buf, n) {
    const chunk = Buffer.from(buf.subarray(0, n)); // our own copy: buf is shared
    this.head = this.head === null ? chunk : Buffer.concat([this.head, chunk]);
    const end = this.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.head.length > MAX_HEAD) this._error(new Error('handshake response head too long'));
      return;
    }
    let problem;
    try {
      const head = parseResponseHead(this.head.toString('latin1', 0, end));
      problem = checkHandshake(head, this.key);
      this.setCookie = head.headers['set-cookie'] || null;
    } catch (err) {
      problem = err.message;
    }
    if (problem) {
      this._error(new Error(problem));
      return;
    }
    const rest = this.head.subarray(end + 4);
    this.head = null;
    this.state = OPEN;
    this.handlers.onOpen();
    // Frames the server sent right behind its 101 (ss's init, Engine.IO's open).
    if (rest.length > 0 && this.state === OPEN) this.scanner.push(rest, 0, rest.length);
  }

  _error(err) {
    if (this.state === CLOSED) return;
    this.state = CLOSING;
    this.handlers.onError(err);
    this.socket.destroy();
  }

  // Scanner sink.
  onMessage(buf, s, e, isBinary) {
    // Not after terminate()/close() from a handler earlier in the same read.
    if (this.state === OPEN) this.handlers.onMessage(buf, s, e, isBinary);
  }

  onPing(buf, s, e) {
    if (this.state === OPEN) this.socket.write(encodeFrame(OP_PONG, buf.subarray(s, e)));
  }

  onPong() {}

  onCloseFrame(code) {
    // Answer with a close frame (echoing the code) and end our side.
    if (this.state === OPEN) {
      this.state = CLOSING;
      this._sendClose(code === 1005 ? null : code);
      this.socket.end();
    }
  }

  onProtocolError(err) {
    this._error(err);
  }

  _sendClose(code) {
    if (this.closeSent) return;
    this.closeSent = true;
    const body = code === null ? Buffer.alloc(0) : Buffer.from([code >>> 8, code & 0xff]);
    this.socket.write(encodeFrame(OP_CLOSE, body));
  }

  // One text frame (string) or binary frame (Buffer). False when not open.
  send(data) {
    if (this.state !== OPEN) return false;
    this.socket.write(encodeFrame(typeof data === 'string' ? OP_TEXT : OP_BINARY, data));
    return true;
  }

  // A clean close: our close frame, then the server's answer ends it.
  close(code = 1000) {
    if (this.state === OPEN) {
      this.state = CLOSING;
      this._sendClose(code);
      this.socket.end();
    } else if (this.state === CONNECTING) {
      this.terminate();
    }
  }

  // Drop the TCP connection at once (what the scenarios do when done).
  terminate() {
    if (this.state === CLOSED) return;
    this.state = CLOSING;
    this.socket.destroy();
  }
}

module.exports = {
  RawWebSocket,
  FrameScanner,
  encodeFrame,
  acceptFor,
  handshakeRequest,
  parseResponseHead,
  checkHandshake,
  OP_CONT,
  OP_TEXT,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  CONNECTING,
  OPEN,
  CLOSING,
  CLOSED,
};
