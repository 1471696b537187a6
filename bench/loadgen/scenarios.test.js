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
