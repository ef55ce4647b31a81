import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadCache } from '../../src/cache/head-cache.js';
import { KVCache } from '../../src/cache/kv-cache.js';
import { HALF_TO_FLOAT, floatToHalfBits } from '../../src/formats/half.js';

const round = (x: number) => HALF_TO_FLOAT[floatToHalfBits(x)]!;

function filled(kvType: 'f16' | 'f32', n: number, d = 4): HeadCache {
  const h = new HeadCache(d, 2, kvType);
  for (let i = 0; i < n; i++) {
    const k = Float32Array.from({ length: d }, (_, c) => i + c / 3);
    const v = Float32Array.from({ length: d }, (_, c) => -i - c / 7);
    h.append(k, v, 10 + i);
  }
  return h;
}

test('an f16 head holds half the bytes and reads back the f16-rounded values', () => {
  const a = filled('f32', 5);
  const b = filled('f16', 5);
  assert.equal(b.bytes() * 2, a.bytes());
  assert.equal(b.bytes(), 5 * 4 * 2 * 2);
  for (let i = 0; i < 5 * 4; i++) {
    assert.equal(b.keys[i], round(a.keys[i]!));
    assert.equal(b.values[i], round(a.values[i]!));
  }
  assert.ok(b.keysStored() instanceof Uint16Array);
  assert.equal(b.keysStored().length, 5 * 4);
});

test('writes to an f16 working copy survive retain, removeAt, clone and appends', () => {
  const h = filled('f16', 6);
  h.keys[1 * 4] = 100.5; // slot 1, like a merge writing its pivot
  h.values[3 * 4 + 2] = -8.25;
  h.retain([1, 3, 4, 5]);
  assert.equal(h.key(0)[0], 100.5);
  assert.equal(h.value(1)[2], -8.25);
  h.keys[2 * 4] = 7; // slot 2 = old slot 4
  h.removeAt(0);
  assert.equal(h.length, 3);
  assert.deepEqual([...h.positions.subarray(0, 3)], [13, 14, 15]);
  assert.equal(h.key(1)[0], 7);
  h.values[0] = 3.5;
  const c = h.clone(2);
  assert.equal(c.value(0)[0], 3.5);
  h.keys[0] = 1.25;
  h.append(new Float32Array(4).fill(2), new Float32Array(4).fill(-2), 99);
  assert.equal(h.key(0)[0], 1.25, 'the working copy was kept across the append');
  assert.equal(h.key(3)[0], 2);
  assert.equal(c.key(0)[0], 3, 'the clone is independent (old slot 3)');
});

test('a KVCache passes its kvType to every head and keeps it when cloned', () => {
  const c = new KVCache(2, 3, 8, 4, 'f16');
  assert.equal(c.kvType, 'f16');
  assert.ok(c.layers.every((l) => l.heads.every((h) => h.kvType === 'f16')));
  assert.equal(c.clone().kvType, 'f16');
  assert.equal(new KVCache(1, 1, 4).kvType, 'f32', 'f32 stays the class default');
});
