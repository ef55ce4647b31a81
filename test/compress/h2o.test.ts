import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { h2oKeep } from '../../src/compress/methods/h2o.js';
import type { AttentionStats } from '../../src/cache/attention-stats.js';
import { cacheOf, dumpHead, statsOf } from './fixture.js';

test('h2o keeps the last B/2 tokens and the top B/2 by accumulated attention among the others', () => {
  // 8 slots, budget 4: recent = slots 6, 7; heavy among 0..5 by score: slot 0 (5) and slot 2 (4)
  assert.deepEqual(h2oKeep([5, 1, 4, 2, 3, 9, 0, 0].map((x, i) => (i === 5 ? 0 : x)), 8, 4, 2), [0, 2, 6, 7]);
  // a recent token's high score does not count twice: slot 7 is recent anyway; heavy are 1 and 3
  assert.deepEqual(h2oKeep([0, 3, 0, 2, 0, 0, 1, 9], 8, 4, 2), [1, 3, 6, 7]);
  // ties: the later slot wins
  assert.deepEqual(h2oKeep([1, 1, 1, 1, 0, 0], 6, 3, 1), [2, 3, 5]);
  // through the plan, with an odd budget: recent ⌊5/2⌋ = 2, heavy 3
  const keys = Array.from({ length: 10 }, (_, i) => [i + 1, 1]);
  const cache = cacheOf(keys);
  const rep = prepareCompression({ method: 'h2o', budget: { tokens: 5 }, promptLength: 10 }).compress(cache, statsOf([9, 0, 8, 0, 7, 6, 0, 0, 0, 0]));
  assert.deepEqual(dumpHead(cache.layers[0]!.heads[0]!).positions, [0, 2, 4, 8, 9]);
  assert.equal(rep.budgetAchieved, 0.5);
  assert.deepEqual(Array.from(cache.layers[0]!.heads[0]!.score.subarray(0, 5)), [9, 8, 7, 0, 0], 'scores travel with their slots');
});

test('decode-time h2o: scores accumulate each row, the lowest non-recent slot is evicted, and eviction is permanent', () => {
  // prompt of 6 tokens, budget 4 (2 heavy + 2 recent)
  const keys = Array.from({ length: 6 }, (_, i) => [i + 1, 0]);
  const cache = cacheOf(keys);
  const prep = prepareCompression({ method: 'h2o', options: ['when=decode'], budget: { tokens: 4 }, promptLength: 6 });
  prep.compress(cache, statsOf([3, 1, 2.5, 0.5, 0, 0]));
  const head = cache.layers[0]!.heads[0]!;
  assert.deepEqual(dumpHead(head).positions, [0, 2, 4, 5]);
  const policy = prep.decodePolicy()!;
  assert.deepEqual(policy.stats, { columnSums: false, window: 0, lastRow: true });
  const step = (row: number[]) => {
    head.append(Float32Array.of(7, 0), Float32Array.of(0, 0), cache.nextPosition++);
    const stats: AttentionStats = { lastRow: [[Float32Array.from(row)]] };
    policy.afterDecodeStep(cache, stats);
    return dumpHead(head).positions;
  };
  // step 1 (pos 6): row over slots [0, 2, 4, 5, 6]; scores become [3.1, 2.5, 0.1, 0.2, 0.6].
  // recent = the last 2 (5, 6); the lowest among [0, 2, 4] is pos 4 (0.1) → evicted
  assert.deepEqual(step([0.1, 0, 0.1, 0.2, 0.6]), [0, 2, 5, 6]);
  assert.ok(Math.abs(head.score[0]! - 3.1) < 1e-6);
  // step 2 (pos 7): pos 5 leaves the recent window with score 0.2 + 0 and is the lowest → evicted
  assert.deepEqual(step([0, 0, 0, 0.5, 0.5]), [0, 2, 6, 7]);
  // step 3 (pos 8): every query now attends to what pos 4 and 5 would have been; they never come back, only kept
  // slots compete: pos 2 (2.5) vs pos 0 (3.1) vs pos 6 leaving recent (0.6 + 0.5 = 1.1) → pos 6 evicted
  assert.deepEqual(step([0, 0, 0, 0, 1]), [0, 2, 7, 8]);
  assert.equal(policy.evicted, 3);
  assert.equal(cache.nextPosition, 9, 'positions continue from the true length');
  for (let i = 0; i < 5; i++) assert.ok(!step([0, 0, 0, 0, 1]).includes(4), 'an evicted token never returns');
});

test('h2o without when=decode has no decode policy; a budget of 1 has none either', () => {
  assert.equal(prepareCompression({ method: 'h2o', budget: { ratio: 0.5 }, promptLength: 8 }).decodePolicy(), undefined);
  assert.equal(prepareCompression({ method: 'h2o', options: ['when=decode'], budget: { ratio: 1 }, promptLength: 8 }).decodePolicy(), undefined);
});
