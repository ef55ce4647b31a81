import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { camGate, camMerge, camCompressHead } from '../../src/compress/methods/cam.js';
import type { AttentionStats } from '../../src/cache/attention-stats.js';
import { Rng } from '../../src/util/rng.js';
import { cacheOf, dumpHead, headOf, statsOf } from './fixture.js';

test('the gate: p = clamp(ā_i / mean(ā_targets), 0, 1)', () => {
  assert.equal(camGate(0.2, [0.4, 0.4]), 0.5);
  assert.equal(camGate(0.1, [0.1, 0.3]), 0.5);
  assert.equal(camGate(0.9, [0.1, 0.3]), 1);
  assert.equal(camGate(0, [0.1, 0.3]), 0);
  assert.equal(camGate(0.3, [0, 0]), 1, 'mean 0 and a positive score: merge');
  assert.equal(camGate(0, [0, 0]), 0);
  assert.equal(camGate(1, []), 0, 'no targets: nothing to merge into');
});

test('the merge update: p = 1 always merges with v_t += v_i / M; p = 0 never; p = 0.5 follows the seeded draws', () => {
  for (let seed = 0; seed < 20; seed++) {
    const h = headOf([[0], [0], [0], [0]], [[8], [1], [2], [3]]);
    assert.ok(camMerge(h, 0, [1, 2], 1, 4, new Rng(seed)));
    assert.deepEqual(dumpHead(h).values, [[8], [3], [4], [3]], 'v_i / M = 8 / 4 = 2 added to the two targets');
    const h0 = headOf([[0], [0]], [[8], [1]]);
    assert.ok(!camMerge(h0, 0, [1], 0, 4, new Rng(seed)));
    assert.deepEqual(dumpHead(h0).values, [[8], [1]]);
  }
  // p = 0.5: fires exactly when the generator's next draw is below 0.5
  const rng = new Rng(42);
  const twin = new Rng(42);
  let fired = 0;
  for (let i = 0; i < 200; i++) {
    const h = headOf([[0], [0]], [[2], [0]]);
    const f = camMerge(h, 0, [1], 0.5, 2, rng);
    assert.equal(f, twin.next() < 0.5);
    assert.equal(h.values[1], f ? 1 : 0);
    if (f) fired++;
  }
  assert.ok(fired > 70 && fired < 130, `about half fire; got ${fired}`);
});

test('one-shot CaM after prefill replays the window: each evicted value spreads over the M tokens after it', () => {
  // 6 tokens (d = 1), budget 4 = 2 start + 2 recent, M = 2, equal attention (p = 1):
  // token 2 (v 3) leaves → v3 += 1.5, v4 += 1.5 (v3 = 5.5, v4 = 6.5);
  // token 3 (v 5.5) leaves → v4 += 2.75, v5 += 2.75 (v4 = 9.25, v5 = 8.75). Kept: 0, 1, 4, 5.
  const h = headOf([[1], [1], [1], [1], [1], [1]], [[1], [2], [3], [4], [5], [6]]);
  const merged = camCompressHead(h, 4, { recent: 2, mergeWindow: 2, eviction: 'window', gate: [1, 1, 1, 1, 1, 1], selectScores: [1, 1, 1, 1, 1, 1] }, new Rng(1), 0);
  assert.equal(merged, 2);
  assert.deepEqual(dumpHead(h).positions, [0, 1, 4, 5]);
  assert.deepEqual(dumpHead(h).values, [[1], [2], [9.25], [8.75]]);
  assert.deepEqual(dumpHead(h).keys, [[1], [1], [1], [1]], 'evicted keys are dropped, kept keys untouched');
  // zero attention on the evicted tokens: p = 0, nothing merges
  const z = headOf([[1], [1], [1], [1], [1], [1]], [[1], [2], [3], [4], [5], [6]]);
  camCompressHead(z, 4, { recent: 2, mergeWindow: 2, eviction: 'window', gate: [1, 1, 0, 0, 1, 1], selectScores: [] }, new Rng(1), 0);
  assert.deepEqual(dumpHead(z).values, [[1], [2], [5], [6]]);
});

test('CaM on H2O\'s eviction: each dropped token merges into the next M kept slots', () => {
  // 6 tokens, budget 4: recent 2 (4, 5), heavy 2 by score among 0..3: 0 and 2 → dropped 1 and 3
  // token 1 (v 2) → next kept after it: 2, 4 (M = 2): +1 each; token 3 (v 4) → 4, 5: +2 each
  const h = headOf([[1], [1], [1], [1], [1], [1]], [[1], [2], [3], [4], [5], [6]]);
  camCompressHead(h, 4, { recent: 2, mergeWindow: 2, eviction: 'h2o', gate: [1, 1, 1, 1, 1, 1], selectScores: [9, 1, 8, 2, 0, 0] }, new Rng(1), 0);
  assert.deepEqual(dumpHead(h).positions, [0, 2, 4, 5]);
  assert.deepEqual(dumpHead(h).values, [[1], [4], [8], [8]]);
});

test('CaM through the plan is deterministic for a seed and its decode policy keeps the budget', () => {
  const keys = Array.from({ length: 12 }, (_, i) => [1, i]);
  const values = Array.from({ length: 12 }, (_, i) => [i, -i]);
  const run = (seed: number) => {
    const cache = cacheOf(keys, values);
    const prep = prepareCompression({ method: 'cam', options: { mergeWindow: 3, when: 'decode' }, budget: { tokens: 6 }, promptLength: 12, seed });
    const rep = prep.compress(cache, statsOf([0.5, 0.1, 0.4, 0.2, 0.3, 0.05, 0.3, 0.2, 0.1, 0.3, 0.4, 0.5]));
    const policy = prep.decodePolicy()!;
    const head = cache.layers[0]!.heads[0]!;
    for (let s = 0; s < 4; s++) {
      head.append(Float32Array.of(1, 0), Float32Array.of(1, 1), cache.nextPosition++);
      const stats: AttentionStats = { lastRow: [[Float32Array.from({ length: head.length }, (_, j) => 1 / (j + 1))]] };
      policy.afterDecodeStep(cache, stats);
      assert.equal(head.length, 6);
    }
    return { rep, d: dumpHead(head) };
  };
  const a = run(3);
  const b = run(3);
  assert.deepEqual(a.d, b.d);
  assert.deepEqual(a.d.positions, [0, 1, 2, 13, 14, 15], 'start share 3 + the 3 most recent');
});
