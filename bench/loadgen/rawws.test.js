'use strict';
// The generator's own WebSocket client: `node --test bench/loadgen/`.
// Frame scanner and handshake checks without sockets, then two loopback
// runs: a hand-written server (exact bytes) and `ws` as a reference server.
const test = require('node:test');
const assert = require('node:assert');
const net = require('net');
const {
  RawWebSocket, FrameScanner, encodeFrame, acceptFor, handshakeRequest, parseResponseHead, checkHandshake,
  OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG,
} = require('./rawws');

// A server-to-client frame (unmasked). `form` forces the 16- or 64-bit
// length form for a short payload (not minimal, but legal to parse).
function serverFrame(opcode, payload, { fin = true, form = 0, rsv = 0 } = {}) {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const n = p.length;
  let head;
  if (form === 127 || n > 0xffff) {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    head.writeUInt32BE(n >>> 0, 6);
  } else if (form === 126 || n > 125) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(2);
    head[1] = n;
  }
  head[0] = (fin ? 0x80 : 0) | rsv | opcode;
  return Buffer.concat([head, p]);
}

// Decode one client frame (masked), checking the mask bit.
function decodeClientFrame(buf) {
  const b0 = buf[0];
  const b1 = buf[1];
  assert.ok(b1 & 0x80, 'client frames are masked');
  let n = b1 & 0x7f;
  let pos = 2;
  if (n === 126) { n = buf.readUInt16BE(2); pos = 4; } else if (n === 127) { n = buf.readUInt32BE(2) * 0x100000000 + buf.readUInt32BE(6); pos = 10; }
  const mask = buf.subarray(pos, pos + 4);
  pos += 4;
  const payload = Buffer.alloc(n);
  for (let i = 0; i < n; i++) payload[i] = buf[pos + i] ^ mask[i & 3];
  return { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, lenForm: b1 & 0x7f, mask: Buffer.from(mask), payload, size: pos + n };
}

// Records what the scanner reports, copying at once (the scanner's buffers
// are only valid during the call).
function recorder() {
  const events = [];
  return {
    events,
    onMessage(buf, s, e, isBinary) { events.push(['message', isBinary, buf.toString(isBinary ? 'hex' : 'utf8', s, e)]); },
    onPing(buf, s, e) { events.push(['ping', buf.toString('utf8', s, e)]); },
    onPong(buf, s, e) { events.push(['pong', buf.toString('utf8', s, e)]); },
    onCloseFrame(code, reason) { events.push(['close', code, reason]); },
    onProtocolError(err) { events.push(['error', err.message]); },
  };
}

// Feed `stream` cut at `cuts`, each piece copied into one reused chunk
// buffer that is scribbled over after every push, like the shared read buffer.
function feed(stream, cuts) {
  const rec = recorder();
  const sc = new FrameScanner(rec);
  const chunk = Buffer.alloc(stream.length + 16);
  let prev = 0;
  for (const cut of [...cuts, stream.length]) {
    const off = 3; // a piece does not start at 0 in the read buffer either
    stream.copy(chunk, off, prev, cut);
    sc.push(chunk, off, off + cut - prev);
    chunk.fill(0xee);
    prev = cut;
  }
  return rec.events;
}

const MID = 'x'.repeat(300); // 16-bit length form
const STREAM = Buffer.concat([
  serverFrame(OP_TEXT, '{"type":"init"}'),
  serverFrame(OP_PING, 'p1'),
  serverFrame(OP_TEXT, MID),
  serverFrame(OP_TEXT, 'sixty-four', { form: 127 }), // 64-bit length form, short payload
  serverFrame(OP_TEXT, 'sixteen', { form: 126 }),
  serverFrame(OP_TEXT, ''),
  serverFrame(OP_TEXT, 'frag-1/', { fin: false }),
  serverFrame(OP_PING, 'mid'), // control frames may come between fragments
  serverFrame(OP_CONT, 'frag-2/', { fin: false }),
  serverFrame(OP_CONT, 'frag-3'),
  serverFrame(OP_BINARY, Buffer.from([0, 1, 254, 255])),
  serverFrame(OP_PONG, ''),
  serverFrame(OP_TEXT, 'héllo ✓'),
  serverFrame(OP_CLOSE, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')])),
]);
const EXPECTED = [
  ['message', false, '{"type":"init"}'],
  ['ping', 'p1'],
  ['message', false, MID],
  ['message', false, 'sixty-four'],
  ['message', false, 'sixteen'],
  ['message', false, ''],
  ['ping', 'mid'],
  ['message', false, 'frag-1/frag-2/frag-3'],
  ['message', true, '0001feff'],
  ['pong', ''],
  ['message', false, 'héllo ✓'],
  ['close', 1000, 'bye'],
];

test('scanner: all frames in one chunk', () => {
  assert.deepStrictEqual(feed(STREAM, []), EXPECTED);
});

test('scanner: split in two at every byte boundary', () => {
  for (let cut = 1; cut < STREAM.length; cut++) {
    assert.deepStrictEqual(feed(STREAM, [cut]), EXPECTED, `cut at ${cut}`);
  }
});

test('scanner: one byte at a time, and random cuts', () => {
  const every = [];
  for (let i = 1; i < STREAM.length; i++) every.push(i);
  assert.deepStrictEqual(feed(STREAM, every), EXPECTED);
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let round = 0; round < 300; round++) {
    const cuts = new Set();
    const k = 1 + (rnd() % 12);
    for (let i = 0; i < k; i++) cuts.add(1 + (rnd() % (STREAM.length - 1)));
    assert.deepStrictEqual(feed(STREAM, [...cuts].sort((a, b) => a - b)), EXPECTED, `cuts ${[...cuts]}`);
  }
});

test('scanner: every cut around three frames in one chunk', () => {
  // The shape of a fan-out read: many small frames back to back; each pair of
  // cuts leaves frames wholly inside a chunk and others split.
  const s = Buffer.concat([serverFrame(OP_TEXT, 'a1'), serverFrame(OP_TEXT, 'b22'), serverFrame(OP_TEXT, 'c333')]);
  const want = [['message', false, 'a1'], ['message', false, 'b22'], ['message', false, 'c333']];
  for (let i = 1; i < s.length; i++) {
    for (let j = i + 1; j < s.length; j++) assert.deepStrictEqual(feed(s, [i, j]), want, `cuts ${i},${j}`);
  }
});

test('scanner: real 16-bit and 64-bit lengths (65535 and 70000 bytes)', () => {
  const big16 = Buffer.alloc(65535, 'a');
  const big64 = Buffer.alloc(70000, 'b');
  big64.write('start', 0);
  big64.write('end', 70000 - 3);
  const s = Buffer.concat([serverFrame(OP_TEXT, big16), serverFrame(OP_TEXT, big64), serverFrame(OP_TEXT, 'tail')]);
  assert.strictEqual(s[1], 126);
  assert.strictEqual(s[4 + 65535 + 1], 127);
  const want = [['message', false, big16.toString()], ['message', false, big64.toString()], ['message', false, 'tail']];
  const cuts = new Set();
  const second = 4 + 65535;
  for (let i = 1; i < 16; i++) { cuts.add(i); cuts.add(second - 8 + i); cuts.add(s.length - i); }
  cuts.add(40000);
  cuts.add(second + 10 + 35000);
  for (const c of cuts) assert.deepStrictEqual(feed(s, [c]), want, `cut at ${c}`);
  // Also in 64 KB reads, as the socket delivers it.
  const reads = [];
  for (let c = 65536; c < s.length; c += 65536) reads.push(c);
  assert.deepStrictEqual(feed(s, reads), want);
});

test('scanner: a close frame stops it; with no body the code is 1005', () => {
  const s = Buffer.concat([serverFrame(OP_CLOSE, ''), serverFrame(OP_TEXT, 'after')]);
  assert.deepStrictEqual(feed(s, []), [['close', 1005, '']]);
});

test('scanner: protocol errors are reported once and stop it', () => {
  const masked = serverFrame(OP_TEXT, 'abc');
  masked[1] |= 0x80;
  const cases = [
    [masked, 'server frames must not be masked'],
    [serverFrame(OP_TEXT, 'x', { rsv: 0x40 }), 'RSV bits set but no extension was negotiated'],
    [serverFrame(OP_CONT, 'x'), 'continuation frame without a message to continue'],
    [serverFrame(OP_PING, 'x'.repeat(126)), 'control frame longer than 125 bytes'],
    [serverFrame(OP_PING, 'x', { fin: false }), 'fragmented control frame'],
    [Buffer.concat([serverFrame(OP_TEXT, 'a', { fin: false }), serverFrame(OP_TEXT, 'b')]), 'new message inside a fragmented one'],
    [serverFrame(0x3, 'x'), 'unknown opcode 3'],
    [serverFrame(OP_CLOSE, 'x'), 'close frame with a 1-byte payload'],
  ];
  for (const [frame, message] of cases) {
    const s = Buffer.concat([frame, serverFrame(OP_TEXT, 'never')]);
    assert.deepStrictEqual(feed(s, []), [['error', message]], message);
    assert.deepStrictEqual(feed(s, [1]), [['error', message]], message + ' (split)');
  }
});

test('client frames: masked, minimal length form, payload intact', () => {
  for (const n of [0, 1, 2, 3, 4, 5, 125, 126, 127, 65535, 65536, 70001]) {
    const text = 'é'.repeat(Math.floor(n / 2)) + 'z'.repeat(n % 2); // n UTF-8 bytes
    const f = decodeClientFrame(encodeFrame(OP_TEXT, text));
    assert.strictEqual(f.fin, true);
    assert.strictEqual(f.opcode, OP_TEXT);
    assert.strictEqual(f.lenForm, n < 126 ? n : n < 65536 ? 126 : 127, `length form for ${n}`);
    assert.strictEqual(f.payload.toString(), text);
    assert.strictEqual(f.size, encodeFrame(OP_TEXT, text).length);
  }
  const bin = decodeClientFrame(encodeFrame(OP_PONG, Buffer.from('pp')));
  assert.strictEqual(bin.opcode, OP_PONG);
  assert.strictEqual(bin.payload.toString(), 'pp');
  // A fresh key per frame.
  const masks = new Set();
  for (let i = 0; i < 50; i++) masks.add(decodeClientFrame(encodeFrame(OP_TEXT, 'x')).mask.toString('hex'));
  assert.ok(masks.size > 45);
});

test('handshake: accept key (RFC 6455 example), request, response checks', () => {
  assert.strictEqual(acceptFor('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  const req = handshakeRequest('127.0.0.1:8121', '/socket.io/?EIO=4&transport=websocket', 'k==');
  assert.ok(req.startsWith('GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n'));
  assert.ok(req.endsWith('\r\n\r\n'));
  assert.match(req, /\r\nHost: 127\.0\.0\.1:8121\r\n/);
  assert.match(req, /\r\nUpgrade: websocket\r\n/);
  assert.match(req, /\r\nConnection: Upgrade\r\n/);
  assert.match(req, /\r\nSec-WebSocket-Version: 13\r\n/);
  assert.match(req, /\r\nSec-WebSocket-Key: k==\r\n/);
  assert.doesNotMatch(req, /Extensions|Origin|Protocol/i, 'offers no extension (no permessage-deflate)');

  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const ok = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2';
  const head = parseResponseHead(ok);
  assert.strictEqual(head.status, 101);
  assert.strictEqual(head.headers['set-cookie'], 'a=1, b=2');
  assert.strictEqual(checkHandshake(head, key), null);
  assert.strictEqual(checkHandshake(parseResponseHead(ok.replace('Upgrade\r\nSec', 'keep-alive, upgrade\r\nSec')), key), null);
  assert.strictEqual(checkHandshake(parseResponseHead('HTTP/1.1 403 Forbidden\r\nContent-Length: 0'), key),
    'Unexpected server response: 403');
  assert.strictEqual(checkHandshake(parseResponseHead(ok), 'other-key=='), 'Invalid Sec-WebSocket-Accept header');
  assert.match(checkHandshake(parseResponseHead(ok + '\r\nSec-WebSocket-Extensions: permessage-deflate'), key), /Extensions/);
  assert.strictEqual(checkHandshake(parseResponseHead(ok.replace('Upgrade: websocket', 'Upgrade: h2c')), key), 'Invalid Upgrade header');
  assert.throws(() => parseResponseHead('SSH-2.0-OpenSSH'), /status line/);
});

// A loopback server written against the RFC, byte for byte, so the test
// sees exactly what the client writes.
function rawServer(onSocket) {
  return new Promise((resolve) => {
    const server = net.createServer((sock) => {
      let head = Buffer.alloc(0);
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.removeListener('data', onData);
        const text = head.toString('latin1', 0, end);
        const key = /\r\nSec-WebSocket-Key: (.+)/i.exec(text)[1];
        onSocket(sock, text, acceptFor(key), head.subarray(end + 4));
      };
      sock.on('data', onData);
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// Collect client frames from a server-side socket.
function clientFrames(sock, first, onFrame) {
  let buf = first;
  const take = () => {
    for (;;) {
      if (buf.length < 2) return;
      let n = buf[1] & 0x7f;
      const hdr = n === 126 ? 8 : n === 127 ? 14 : 6;
      if (buf.length < hdr) return;
      if (n === 126) n = buf.readUInt16BE(2); else if (n === 127) n = buf.readUInt32BE(6);
      if (buf.length < hdr + n) return;
      const f = decodeClientFrame(buf.subarray(0, hdr + n));
      buf = buf.subarray(hdr + n);
      onFrame(f);
    }
  };
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); take(); });
  take();
}

test('loopback: handshake, frames behind the 101, ping -> pong, split writes, close -> close', async () => {
  const seen = { request: null, frames: [] };
  const server = await rawServer((sock, request, accept, rest) => {
    seen.request = request;
    // The 101 and the first frame in one write, as ss sends its init.
    sock.write(Buffer.concat([
      Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`),
      serverFrame(OP_TEXT, 'init'),
      serverFrame(OP_PING, 'are you there'),
    ]));
    clientFrames(sock, rest, (f) => {
      seen.frames.push([f.opcode, f.payload.toString(f.opcode === OP_CLOSE ? 'hex' : 'utf8')]);
      if (f.opcode === OP_TEXT && f.payload.toString() === 'echo me') {
        const frame = serverFrame(OP_TEXT, 'echo me'.repeat(40));
        sock.write(frame.subarray(0, 3)); // split inside the 16-bit length
        setTimeout(() => sock.write(frame.subarray(3, 100)), 5);
        setTimeout(() => sock.write(Buffer.concat([frame.subarray(100), serverFrame(OP_CLOSE, Buffer.from([0x03, 0xe9]))])), 10);
      }
    });
  });
  const { port } = server.address();
  const got = [];
  await new Promise((resolve, reject) => {
    const ws = new RawWebSocket(`ws://127.0.0.1:${port}/_ss/socket?x=1`, {
      onOpen: () => got.push(['open']),
      onMessage: (buf, s, e) => {
        const text = buf.toString('utf8', s, e);
        got.push(['message', text]);
        if (text === 'init') ws.send('echo me');
      },
      onError: reject,
      onClose: resolve,
    });
  });
  server.close();
  assert.match(seen.request, /^GET \/_ss\/socket\?x=1 HTTP\/1\.1\r\n/);
  assert.match(seen.request, new RegExp(`\\r\\nHost: 127\\.0\\.0\\.1:${port}(\\r|$)`));
  assert.deepStrictEqual(got, [['open'], ['message', 'init'], ['message', 'echo me'.repeat(40)]]);
  // 'echo me' is sent while the init frame is handled, before the ping behind
  // it in the same read; the close is answered with the server's code (1001).
  assert.deepStrictEqual(seen.frames, [[OP_TEXT, 'echo me'], [OP_PONG, 'are you there'], [OP_CLOSE, '03e9']]);
});

test('loopback: a refused upgrade is an error, then a close', async () => {
  const server = await rawServer((sock) => sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
  const { port } = server.address();
  const events = [];
  await new Promise((resolve) => {
    // eslint-disable-next-line no-new
    new RawWebSocket(`ws://127.0.0.1:${port}/`, {
      onOpen: () => events.push('open'),
      onMessage: () => events.push('message'),
      onError: (err) => events.push('error: ' + err.message),
      onClose: resolve,
    });
  });
  server.close();
  assert.deepStrictEqual(events, ['error: Unexpected server response: 403']);
});

// `ws` as an independent reference server (devDependency, tests only).
test('loopback against the ws server: sizes, server ping, client close, no deflate', async (t) => {
  let WebSocketServer;
  try {
    ({ WebSocketServer } = require('ws'));
  } catch (e) {
    t.skip('ws not installed');
    return;
  }
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
  await new Promise((r) => wss.on('listening', r));
  const sizes = [0, 10, 125, 126, 300, 65535, 65536, 70000];
  const serverSide = { pongs: [], received: [], closeCode: null, extensions: null };
  wss.on('connection', (sock, req) => {
    serverSide.extensions = req.headers['sec-websocket-extensions'] || null;
    sock.on('pong', (d) => serverSide.pongs.push(d.toString()));
    sock.on('message', (d) => serverSide.received.push(d.length));
    sock.on('close', (code) => { serverSide.closeCode = code; });
    sock.ping('hb');
    for (const n of sizes) sock.send('y'.repeat(n));
  });
  const got = [];
  await new Promise((resolve, reject) => {
    const ws = new RawWebSocket(`ws://127.0.0.1:${wss.address().port}/`, {
      onOpen: () => {},
      onMessage: (buf, s, e) => {
        got.push(e - s);
        ws.send(buf.toString('utf8', s, e));
        if (got.length === sizes.length) setTimeout(() => ws.close(1000), 20);
      },
      onError: reject,
      onClose: resolve,
    });
  });
  await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => wss.close(r));
  assert.deepStrictEqual(got, sizes);
  assert.deepStrictEqual(serverSide.received, sizes);
  assert.deepStrictEqual(serverSide.pongs, ['hb']);
  assert.strictEqual(serverSide.closeCode, 1000);
  assert.strictEqual(serverSide.extensions, null);
});
