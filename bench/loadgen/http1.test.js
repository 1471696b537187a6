'use strict';
// The generator's own HTTP/1.1 client (http1.js): `node --test bench/loadgen/`. A hand-written
// server answers with exact bytes, split across writes at awkward places.
const test = require('node:test');
const assert = require('node:assert');
const net = require('net');
const { Http1Connection } = require('./http1');

// A server that answers the n-th request on a connection with answers[n], each a list of writes.
function server(answers) {
  const seen = [];
  const srv = net.createServer((socket) => {
    let n = 0;
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        const length = Number((/content-length: (\d+)/i.exec(head) || [0, 0])[1]);
        if (buf.length < end + 4 + length) return;
        seen.push(buf.slice(0, end + 4 + length));
        buf = buf.slice(end + 4 + length);
        const writes = answers[n++];
        writes.forEach((w, i) => setTimeout(() => socket.write(w), i * 5));
      }
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, port: srv.address().port, seen })));
}

function ask(conn, method, path, head, body) {
  return new Promise((resolve) => {
    const got = { status: 0, headers: null, parts: [] };
    conn.request(method, path, head, body, {
      onHead: (s, h) => { got.status = s; got.headers = h; },
      onData: (buf, start, end) => got.parts.push(buf.toString('utf8', start, end)),
      onEnd: () => resolve(got),
    });
  });
}

test('fixed, chunked and empty responses on one keep-alive connection, split anywhere', async () => {
  const { srv, port, seen } = await server([
    ['HTTP/1.1 200 OK\r\nContent-Le', 'ngth: 5\r\nX-SS-Seq: 7\r\n\r\nhe', 'llo'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\n\r\n', '8\r\n{"a":1}\n\r', '\n0\r\n\r\n'],
    ['HTTP/1.1 204 No Content\r\n\r\n'],
  ]);
  const errors = [];
  const conn = new Http1Connection('127.0.0.1', port, (err) => errors.push(err));
  try {
    const a = await ask(conn, 'POST', '/send?c=1', 'X-SS-Secret: s\r\n', 'x\ny');
    assert.strictEqual(a.status, 200);
    assert.strictEqual(a.headers['x-ss-seq'], '7');
    assert.strictEqual(a.parts.join(''), 'hello');
    const b = await ask(conn, 'GET', '/poll?stream=1', '', undefined);
    assert.strictEqual(b.parts.join(''), '\n{"a":1}\n');
    assert.ok(b.parts.length >= 2, 'chunks handed over as they come');
    const c = await ask(conn, 'POST', '/send', '', '');
    assert.strictEqual(c.status, 204);
    assert.deepStrictEqual(c.parts, []);
    assert.deepStrictEqual(errors, []);
    assert.match(seen[0], /^POST \/send\?c=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nX-SS-Secret: s\r\nContent-Length: 3\r\n\r\nx\ny$/);
    assert.match(seen[1], /^GET \/poll\?stream=1 HTTP\/1\.1\r\nHost: [^\r]+\r\n\r\n$/);
  } finally {
    conn.destroy();
    srv.close();
  }
});

test('a connection the server closes mid-response fails', async () => {
  const srv = net.createServer((socket) => socket.once('data', () => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    setTimeout(() => socket.destroy(), 10);
  }));
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const err = await new Promise((resolve) => {
      const conn = new Http1Connection('127.0.0.1', srv.address().port, resolve);
      conn.request('GET', '/', '', undefined, { onHead() {}, onData() {}, onEnd() { resolve(null); } });
    });
    assert.ok(err instanceof Error);
  } finally {
    srv.close();
  }
});
