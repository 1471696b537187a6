'use strict';
// Codec checks without sockets: `node --test bench/loadgen/`.
const test = require('node:test');
const assert = require('node:assert');
const { CODECS, splitAck } = require('./protocols');

test('ss: call frame follows docs/protocol.md', () => {
  assert.deepStrictEqual(JSON.parse(CODECS.ss.encodeCall(7, 'square', [25])),
    { type: 'call', id: 7, method: 'app.square', args: [25] });
  assert.strictEqual(JSON.parse(CODECS.ss.encodeCall(1, 'broadcast', [1, 0, 3])).method, 'bench.broadcast');
});

test('ss: init, reply, error, event', () => {
  const ss = CODECS.ss;
  assert.strictEqual(ss.decode('{"type":"init","session_id":"x","env":"production","config":{},"api":{}}').kind, 'ready');
  assert.deepStrictEqual(ss.decode('{"type":"reply","id":7,"result":625}'), { kind: 'reply', id: 7, result: 625 });
  const e = ss.decode('{"type":"error","id":7,"error":{"code":"unknown_action","message":"no"}}');
  assert.strictEqual(e.kind, 'error');
  assert.strictEqual(e.error.code, 'unknown_action');
  assert.deepStrictEqual(ss.decode('{"type":"event","event":"tick","data":{"seq":1}}'),
    { kind: 'event', event: 'tick', data: { seq: 1 } });
  assert.deepStrictEqual(ss.decode('{"type":"event","event":"tick","data":{},"stream":"broadcast","offset":17}'),
    { kind: 'event', event: 'tick', data: {}, stream: 'broadcast', offset: 17 });
});

test('echo: ready on open, init is not readiness', () => {
  assert.strictEqual(CODECS.echo.readyOnOpen, true);
  assert.strictEqual(CODECS.echo.decode('{"type":"init"}').kind, 'other');
  assert.strictEqual(CODECS.echo.decode('{"type":"reply","id":1,"result":4}').result, 4);
});

test('socket.io: handshake, ping, acks with multi-digit ids, events', () => {
  const sio = CODECS.sio;
  assert.strictEqual(sio.path, '/socket.io/?EIO=4&transport=websocket');
  assert.deepStrictEqual(sio.decode('0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":20000}'),
    { kind: 'send', frame: '40' });
  assert.strictEqual(sio.decode('40{"sid":"b"}').kind, 'ready');
  assert.deepStrictEqual(sio.decode('2'), { kind: 'send', frame: '3' });
  assert.deepStrictEqual(sio.decode('4312345[625]'), { kind: 'reply', id: 12345, result: 625 });
  assert.deepStrictEqual(sio.decode('42["tick",{"seq":3}]'), { kind: 'event', event: 'tick', data: { seq: 3 } });
  assert.strictEqual(sio.decode('44{"message":"nope"}').kind, 'fatal');
  assert.strictEqual(sio.encodeCall(12, 'square', [25]), '4212["square",25]');
});

test('splitAck: no id', () => {
  assert.deepStrictEqual(splitAck('42["x"]', 2), { id: null, body: '["x"]' });
});
