import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';

test('same seed, same sequence; different seeds differ', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 5 }, () => a.nextUint32());
  assert.deepEqual(sa, Array.from({ length: 5 }, () => b.nextUint32()));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, () => c.nextUint32()));
});

test('floats lie in [0, 1) with the moments of a uniform distribution', () => {
  const r = new Rng(7);
  const n = 200000;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    s += x;
    s2 += x * x;
  }
  assert.ok(Math.abs(s / n - 0.5) < 0.005);
  assert.ok(Math.abs(s2 / n - 1 / 3) < 0.005);
});

test('normal samples have mean 0 and variance 1', () => {
  const r = new Rng(3);
  const n = 100000;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    s += x;
    s2 += x * x;
  }
  assert.ok(Math.abs(s / n) < 0.02);
  assert.ok(Math.abs(s2 / n - 1) < 0.02);
});
