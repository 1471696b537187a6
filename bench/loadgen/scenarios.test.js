'use strict';
// `node --test bench/loadgen/`: the fan-out fast path's byte-level number reader.
const test = require('node:test');
const assert = require('node:assert');
const { readNumber } = require('./scenarios');

test('readNumber reads integers and fractions straight from bytes', () => {
  const b = Buffer.from('{"type":"event","event":"tick","data":{"seq":3,"t":1764120000123.25,"tag":917}}');
  assert.strictEqual(readNumber(b, b.indexOf('"tag":') + 6), 917);
  assert.ok(Math.abs(readNumber(b, b.indexOf('"t":') + 4) - 1764120000123.25) < 1e-3);
});

test('readNumber gives NaN where there is no number', () => {
  assert.ok(Number.isNaN(readNumber(Buffer.from('{"tag":null}'), 7)));
  assert.ok(Number.isNaN(readNumber(Buffer.from('x'), 5)));
});

const { readTick, TICK } = require('./scenarios');

test('readTick: stamp and tag from every target\'s tick frame', () => {
  const frames = [
    '{"type":"event","event":"tick","data":{"seq":3,"t":1764120000123.25,"tag":917}}', // ss, raw Tornado
    '42["tick",{"seq":3,"t":1764120000123.25,"tag":917}]', // Socket.IO
    '{"data":{"tag":917,"t":1764120000123.25,"seq":3},"event":"tick","type":"event"}', // any key order
  ];
  for (const f of frames) {
    const b = Buffer.from(f);
    assert.strictEqual(readTick(b, 0, b.length), true, f);
    assert.ok(Math.abs(TICK[0] - 1764120000123.25) < 1e-3, f);
    assert.strictEqual(TICK[1], 917, f);
  }
});

test('readTick: only within [start, end), and not for other frames', () => {
  const other = '{"type":"reply","id":1,"result":625}';
  const tick = '{"type":"event","event":"tick","data":{"seq":3,"t":5.5,"tag":42}}';
  const b = Buffer.from(other + tick);
  assert.strictEqual(readTick(b, 0, other.length), false, 'the tick after it does not count');
  assert.strictEqual(readTick(b, other.length, b.length), true);
  assert.deepStrictEqual([...TICK], [5.5, 42]);
  // A field cut off by the frame's end is not there.
  const cut = Buffer.from('42["tick",{"t":5,"tag":42}]');
  assert.strictEqual(readTick(cut, 0, cut.indexOf('"tag"') + 4), false);
  assert.strictEqual(readTick(Buffer.from('42["tock",{"t":5,"tag":42}]'), 0, 27), false);
  assert.strictEqual(readTick(Buffer.from('42["tick",{"t":5}]'), 0, 18), false);
  const bad = Buffer.from('42["tick",{"t":5,"tag":null}]');
  assert.strictEqual(readTick(bad, 0, bad.length), true);
  assert.ok(Number.isNaN(TICK[1]), 'a tag that is no number never matches a run');
});
