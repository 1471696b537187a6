'use strict';
// A small HTTP/1.1 client connection on `net`, made for the load generator's HTTP carriers
// (httpsock.js), as rawws.js is for its WebSockets.
//
// Why not Node's `http`: a sequential call over an HTTP transport is one or two requests, and
// `http.request` costs the generator ~0.2 ms of its core per request (ClientRequest and
// IncomingMessage objects, header validation, stream events), enough to hide a fast server
// behind the generator. Here a request is one preformatted string written to a keep-alive
// socket, and the response is scanned in place: the status, the headers the carriers read
// (lower-cased), and the body by Content-Length or chunked, handed over as it arrives.
//
// One request at a time per connection (no pipelining), as browsers do. What the servers see:
// the request line, Host, the given headers, Content-Length for a body; TCP_NODELAY.
const net = require('net');

const MAX_HEAD = 16 * 1024;

const HEAD = 0;       // reading the status line and headers
const FIXED = 1;      // a body of known length
const CHUNK_SIZE = 2; // a chunk's size line
const CHUNK = 3;      // a chunk's data
const CHUNK_END = 4;  // the CRLF after a chunk's data
const TRAILER = 5;    // after the last chunk: trailers, then an empty line
const UNTIL_CLOSE = 6;

class Http1Connection {
  // handlers: onError(err) when the connection fails (the current request fails with it)
  constructor(host, port, onError) {
    this.host = host;
    this.port = port;
    this.onError = onError;
    this.socket = null;
    this.current = null;  // {onHead(status, headers), onData(buf, start, end), onEnd()}
    this.state = HEAD;
    this.rest = null;     // unread bytes of a head or a chunk-size line split across reads
    this.left = 0;        // bytes left of a fixed body or of a chunk
    this.closed = false;
  }

  connect() {
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    socket.on('data', (buf) => this.read(buf));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;  // the next request opens a new connection
      if (this.current !== null && this.state === UNTIL_CLOSE) this.finish();
      else if (this.current !== null) this.fail(new Error('the server closed the connection'));
    });
    this.socket = socket;
  }

  // head: the request's header lines after Host, each ending in \r\n (body: a string or undefined)
  request(method, path, head, body, handlers) {
    if (this.closed) return;
    if (this.socket === null) this.connect();
    this.current = handlers;
    this.state = HEAD;
    this.rest = null;
    let text = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n${head}`;
    if (body !== undefined) text += `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    else text += '\r\n';
    this.socket.write(text);
  }

  read(buf) {
    let pos = 0;
    while (pos < buf.length && this.current !== null) {
      switch (this.state) {
        case HEAD: {
          const end = this.find(buf, pos, '\r\n\r\n');
          if (end < 0) return;
          pos = end;
          break;
        }
        case FIXED: {
          const n = Math.min(this.left, buf.length - pos);
          this.current.onData(buf, pos, pos + n);
          pos += n;
          this.left -= n;
          if (this.left === 0) this.finish();
          break;
        }
        case CHUNK_SIZE: {
          const end = this.find(buf, pos, '\r\n');
          if (end < 0) return;
          pos = end;
          break;
        }
        case CHUNK: {
          const n = Math.min(this.left, buf.length - pos);
          if (n > 0) this.current.onData(buf, pos, pos + n);
          pos += n;
          this.left -= n;
          if (this.left === 0) { this.state = CHUNK_END; this.left = 2; }
          break;
        }
        case CHUNK_END: {
          const n = Math.min(this.left, buf.length - pos);
          pos += n;
          this.left -= n;
          if (this.left === 0) this.state = CHUNK_SIZE;
          break;
        }
        case TRAILER: {
          const end = this.find(buf, pos, '\r\n');
          if (end < 0) return;
          pos = end;
          break;
        }
        case UNTIL_CLOSE:
          this.current.onData(buf, pos, buf.length);
          pos = buf.length;
          break;
      }
    }
  }

  // Finds `mark` (a line or head end) from pos, carrying a split one over to the next read;
  // handles what it delimits and returns the position after it, or -1 (wait for more).
  find(buf, pos, mark) {
    let data = buf;
    let from = pos;
    if (this.rest !== null) {
      data = Buffer.concat([this.rest, buf.subarray(pos)]);
      from = 0;
    }
    const at = data.indexOf(mark, from, 'latin1');
    if (at < 0) {
      this.rest = Buffer.from(data.subarray(from));
      if (this.rest.length > MAX_HEAD) this.fail(new Error('response head too big'));
      return -1;
    }
    const text = data.toString('latin1', from, at);
    const consumed = at + mark.length - from;   // of data from `from`
    const carried = this.rest === null ? 0 : this.rest.length;
    this.rest = null;
    if (this.state === HEAD) this.head(text);
    else if (this.state === CHUNK_SIZE) this.chunkSize(text);
    else if (text === '') this.finish();         // TRAILER: the empty line ends the response
    return pos + consumed - carried;
  }

  head(text) {
    const lines = text.split('\r\n');
    const status = Number(lines[0].slice(9, 12));
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      if (colon > 0) headers[lines[i].slice(0, colon).toLowerCase()] = lines[i].slice(colon + 1).trim();
    }
    const handlers = this.current;
    handlers.onHead(status, headers);
    if (this.current !== handlers) return;
    if ((headers['transfer-encoding'] || '').toLowerCase().includes('chunked')) {
      this.state = CHUNK_SIZE;
    } else if (headers['content-length'] !== undefined) {
      this.left = Number(headers['content-length']);
      this.state = FIXED;
      if (this.left === 0) this.finish();
    } else if (status === 204 || status === 304 || status < 200) {
      this.finish();
    } else {
      this.state = UNTIL_CLOSE;
    }
  }

  chunkSize(text) {
    const size = parseInt(text, 16);
    if (Number.isNaN(size)) return this.fail(new Error('bad chunk size: ' + text));
    if (size === 0) this.state = TRAILER;
    else { this.state = CHUNK; this.left = size; }
  }

  finish() {
    const handlers = this.current;
    this.current = null;
    this.state = HEAD;
    if (handlers !== null) handlers.onEnd();
  }

  fail(err) {
    if (this.closed) return;
    this.destroy();
    this.onError(err);
  }

  destroy() {
    this.closed = true;
    this.current = null;
    if (this.socket !== null) this.socket.destroy();
    this.socket = null;
  }
}

module.exports = { Http1Connection };
