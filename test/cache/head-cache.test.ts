import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadCache } from '../../src/cache/head-cache.js';
import { KVCache } from '../../src/cache/kv-cache.js';

function filled(n: number, d: number): HeadCache {
  const h = new HeadCache(d, 2);
  for (let i = 0; i < n; i++) {
    const k = Float32Array.from({ length: d }, (_, j) => i * 10 + j);
    const v = Float32Array.from({ length: d }, (_, j) => -(i * 10 + j));
    h.append(k, v, 100 + i);
  }
  return h;
}

test('append grows geometrically and keeps content', () => {
  const h = filled(7, 3);
  assert.equal(h.length, 7);
  assert.ok(h.capacity >= 7);
  assert.deepEqual([...h.key(6)], [60, 61, 62]);
  assert.deepEqual([...h.value(2)], [-20, -21, -22]);
  assert.deepEqual([...h.positions.subarray(0, 7)], [100, 101, 102, 103, 104, 105, 106]);
});

test('retain compacts physically and keeps positions', () => {
  const h = filled(6, 2);
  h.score.set([1, 2, 3, 4, 5, 6]);
  h.retain([0, 3, 5]);
  assert.equal(h.length, 3);
  assert.equal(h.capacity, 3);
  assert.equal(h.keys.length, 6);
  assert.deepEqual([...h.keysInUse()], [0, 1, 30, 31, 50, 51]);
  assert.deepEqual([...h.positions], [100, 103, 105]);
  assert.deepEqual([...h.score], [1, 4, 6]);
  assert.equal(h.bytes(), 3 * 2 * 2 * 4);
  assert.throws(() => h.retain([1, 1]), /strictly increasing/);
  assert.throws(() => h.retain([5]), /out of range/);
});

test('removeAt shifts later slots down without reallocating', () => {
  const h = filled(4, 2);
  const before = h.keys;
  h.removeAt(1);
  assert.equal(h.keys, before);
  assert.deepEqual([...h.positions.subarray(0, 3)], [100, 102, 103]);
  assert.deepEqual([...h.keysInUse()], [0, 1, 20, 21, 30, 31]);
});

test('KVCache byte accounting sums unequal heads, and nextPosition is independent of slots', () => {
  const c = new KVCache(2, 2, 4, 4);
  const z = new Float32Array(4);
  for (let t = 0; t < 5; t++) {
    for (const l of c.layers) for (const h of l.heads) h.append(z, z, t);
    c.nextPosition++;
  }
  c.layers[0]!.heads[1]!.retain([0, 4]);
  assert.equal(c.slots(), 5 * 4 - 3);
  assert.equal(c.bytes(), (5 * 4 - 3) * 4 * 2 * 4);
  assert.deepEqual(c.layers[0]!.lengths(), [5, 2]);
  assert.equal(c.nextPosition, 5);
  const reserved = c.layers[1]!.heads[0]!.keys;
  c.reserve(10);
  assert.notEqual(c.layers[1]!.heads[0]!.keys, reserved);
  const grown = c.layers[1]!.heads[0]!.keys;
  for (let i = 0; i < 10; i++) c.layers[1]!.heads[0]!.append(z, z, 5 + i);
  assert.equal(c.layers[1]!.heads[0]!.keys, grown, 'no reallocation within the reserve');
});
