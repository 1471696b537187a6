'use strict';
// Node Socket.IO 4 peer: the mainstream reference. Same events as
// bench/peers/socketio_py.py. websocket transport only, like the generator.
//
//   node bench/peers/socketio-node/server.js --port 8003 [--redis redis://127.0.0.1:6391/0] [--polling]
//
// --polling also serves Engine.IO long-polling (the [http] rows: Socket.IO's fallback transport).
//
// With --redis the documented @socket.io/redis-adapter setup (one pub and one
// sub client) carries rooms and broadcasts across instances.
const http = require('http');
const { performance } = require('perf_hooks');
const { Server } = require('socket.io');

function option(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const port = Number(option('--port')) || 8003;
const redisUrl = option('--redis');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('ok');
});
const transports = process.argv.includes('--polling') ? ['polling', 'websocket'] : ['websocket'];
const io = new Server(server, { transports, serveClient: false });

// Wall clock in ms with sub-ms resolution, as the Python peers send.
const wallNow = () => performance.timeOrigin + performance.now();

function publishTicks(count, rate, tag) {
  // Same pacing as the Python targets: on schedule when paced, one event-loop
  // turn per message when not.
  const start = performance.now();
  let i = 0;
  const next = () => {
    if (i >= count) return;
    io.emit('tick', { seq: i, t: wallNow(), tag });
    i++;
    if (i >= count) return;
    const delay = rate > 0 ? start + (i * 1000) / rate - performance.now() : 0;
    // setTimeout never fires sooner than ~1 ms: when behind, take the next turn.
    if (delay > 0) setTimeout(next, delay);
    else setImmediate(next);
  };
  if (rate > 0) next(); else setImmediate(next);
}

io.on('connection', (socket) => {
  socket.on('square', (n, ack) => ack(n * n));
  socket.on('bench.broadcast', (count, rate, tag, ack) => {
    publishTicks(Number(count), Number(rate), tag);
    if (typeof ack === 'function') ack(true);
  });
  socket.on('bench.login', (uid, ack) => {
    socket.join('user:' + uid);
    if (typeof ack === 'function') ack(true);
  });
  socket.on('bench.send_user', (uid, data, ack) => {
    io.to('user:' + uid).emit('bench.ping', data);
    if (typeof ack === 'function') ack(true);
  });
});

async function main() {
  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pubClient = createClient({ url: redisUrl });
    const subClient = pubClient.duplicate();
    await Promise.all([pubClient.connect(), subClient.connect()]);
    io.adapter(createAdapter(pubClient, subClient));
  }
  // Listen only once the adapter is in place: the runner's readiness check
  // must mean "ready for cross-instance traffic".
  server.listen(port, '127.0.0.1');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
