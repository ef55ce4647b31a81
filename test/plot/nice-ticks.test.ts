import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTick, niceTicks } from '../../src/plot/nice-ticks.js';
import { linearScale } from '../../src/plot/linear-scale.js';

test('nice ticks cover the range with round steps', () => {
  assert.deepEqual(niceTicks(0, 1, 5).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(3, 97, 5).ticks, [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(0, 31, 4).ticks, [0, 10, 20, 30, 40]);
  assert.deepEqual(niceTicks(-1, 1, 4).ticks, [-1, -0.5, 0, 0.5, 1]);
  const flat = niceTicks(5, 5, 5);
  assert.ok(flat.domain[0] < 5 && flat.domain[1] > 5);
});

test('tick labels drop float noise', () => {
  assert.equal(formatTick(0.30000000000000004, 0.1), '0.3');
  assert.equal(formatTick(20), '20');
  assert.equal(formatTick(0.25, 0.25), '0.25');
});

test('linear scale maps and reverses', () => {
  const s = linearScale([0, 10], [100, 0]);
  assert.equal(s(0), 100);
  assert.equal(s(10), 0);
  assert.equal(s(2.5), 75);
});
