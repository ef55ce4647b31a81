import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { kernelWeights, gaussianMerge } from '../../src/compress/methods/kvmerger/gaussian-merge.js';
import { pivotOf } from '../../src/compress/methods/kvmerger/pivot.js';
import { adjacentCosines, mergingSets, thresholdCuts } from '../../src/compress/methods/kvmerger/merging-sets.js';
import { faithfulShares, reservationOrder, reservedMask } from '../../src/compress/methods/kvmerger/reserved-tokens.js';
import { cacheOf, close, dumpHead, headOf, randomCache, randomStats, statsOf } from './fixture.js';

/** Faithful KVMerger with no reserved tokens unless given. */
function faithful(keys: number[][], attention: number[], opts: Record<string, string | number> = {}, values?: number[][]) {
  const cache = cacheOf(keys, values);
  const prep = prepareCompression({
    method: 'kvmerger',
    options: { budgetMode: 'faithful', recentRatio: 0, attnRatio: 0, ...opts },
    budget: { ratio: 0.5 },
    promptLength: keys.length,
  });
  const report = prep.compress(cache, statsOf(attention));
  return { head: cache.layers[0]!.heads[0]!, report };
}

test('identical keys form one set: one slot, mass |S|, equal weights, value = |S| · mean = Σ v (setSize)', () => {
  const keys = [[1, 2], [1, 2], [1, 2], [1, 2]];
  const values = [[1, 0], [2, 0], [3, 0], [6, 4]];
  const { head } = faithful(keys, [0.1, 0.5, 0.2, 0.1], {}, values);
  const d = dumpHead(head);
  assert.equal(head.length, 1);
  assert.deepEqual(d.positions, [1], 'the pivot (highest attention, slot 1) keeps its position');
  assert.deepEqual(d.mass, [4]);
  assert.deepEqual(d.keys, [[1, 2]]);
  assert.ok(close(d.values[0]!, [12, 4]), `got ${d.values[0]}`);
});

test('the threshold is strict: cosine exactly ε cuts, just above merges', () => {
  // δ((3,4),(4,3)) = 24/25 = 0.96 exactly in binary64 (same rounding as the literal)
  const keys = [[3, 4], [4, 3]];
  assert.equal(adjacentCosines(Float32Array.from(keys.flat()), 2, 2)[0], 0.96);
  assert.equal(faithful(keys, [1, 1], { epsilon: 0.96 }).head.length, 2);
  assert.equal(faithful(keys, [1, 1], { epsilon: 0.9599 }).head.length, 1);
});

test('reserved tokens never merge and break runs', () => {
  // five identical keys; slot 2 has the highest attention and is reserved by attnRatio (⌈0.2·5⌉ = 1)
  const keys = [[1, 1], [1, 1], [1, 1], [1, 1], [1, 1]];
  const values = [[1], [2], [30], [4], [5]].map((v) => [v[0]!, 0]);
  const { head } = faithful(keys, [0.1, 0.2, 0.9, 0.3, 0.1], { attnRatio: 0.2 }, values);
  const d = dumpHead(head);
  assert.deepEqual(d.positions, [1, 2, 3], 'sets {0,1} and {3,4} with pivots 1 and 3; slot 2 alone');
  assert.deepEqual(d.mass, [2, 1, 2]);
  assert.deepEqual(d.values[1], [30, 0], 'the reserved slot is untouched');
  // recent reservation: the last ⌈0.4·5⌉ = 2 slots stay, the first three merge
  const r = faithful(keys, [0.1, 0.2, 0.9, 0.3, 0.1], { recentRatio: 0.4 });
  assert.deepEqual(dumpHead(r.head).positions, [2, 3, 4]);
  assert.deepEqual(dumpHead(r.head).mass, [3, 1, 1]);
  // sink tokens
  const s = faithful(keys, [0.1, 0.2, 0.9, 0.3, 0.1], { sinkTokens: 1 });
  assert.deepEqual(dumpHead(s.head).positions, [0, 2]);
});

test('merging sets are the maximal runs between cuts; singletons stay untouched', () => {
  const cut = Uint8Array.from([0, 1, 1, 0, 0, 1]); // 7 slots: {0,1} | {2} | {3,4,5} | {6}
  assert.deepEqual(mergingSets(cut, 7), [[0, 1], [3, 5]]);
  const reserved = Uint8Array.from([0, 0, 0, 1]);
  assert.deepEqual([...thresholdCuts(Float64Array.from([0.9, 0.8, 0.99]), reserved, 0.85)], [0, 1, 1]);
  // reservation order: sinks, then recent newest-first, then attention highest-first (ties: later)
  const order = reservationOrder(8, [0, 5, 1, 7, 7, 2, 0, 0], 1, 2, 2);
  assert.deepEqual([...order], [0, 7, 6, 4, 3]);
  assert.deepEqual([...reservedMask(8, order, 3)], [1, 0, 0, 0, 0, 0, 1, 1]);
});

test('kernel weights: each sigma mode by hand, sum 1, largest on the pivot', () => {
  // set of three: pivot (0,0) at slot 0, then (1,0) and (0,2): distances 0, 1, 2
  const keys = Float32Array.from([0, 0, 1, 0, 0, 2]);
  const expect = (twoSigma2: number) => {
    const g = [1, Math.exp(-1 / twoSigma2), Math.exp(-4 / twoSigma2)];
    const s = g[0]! + g[1]! + g[2]!;
    return g.map((x) => x / s);
  };
  // meanDistance: σ = (0 + 1 + 2)/3 / √2 = 1/√2 → 2σ² = 1
  const mean = kernelWeights(keys, 2, 0, 2, 0, { sigma: 'meanDistance', weighting: 'gaussian' });
  assert.ok(Math.abs(mean.sigma - 1 / Math.SQRT2) < 1e-12);
  assert.ok(close(mean.weights, expect(1), 1e-12));
  // rmsDistance: σ² = (0 + 1 + 4)/3 = 5/3 → 2σ² = 10/3
  const rms = kernelWeights(keys, 2, 0, 2, 0, { sigma: 'rmsDistance', weighting: 'gaussian' });
  assert.ok(Math.abs(rms.sigma ** 2 - 5 / 3) < 1e-12);
  assert.ok(close(rms.weights, expect(10 / 3), 1e-12));
  // a fixed σ = 5 → 2σ² = 50
  const fixed = kernelWeights(keys, 2, 0, 2, 0, { sigma: 5, weighting: 'gaussian' });
  assert.ok(close(fixed.weights, expect(50), 1e-12));
  for (const w of [mean.weights, rms.weights, fixed.weights]) {
    assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok(w[0]! > w[1]! && w[0]! > w[2]!);
  }
  // weighting 'mean' and σ = 0 both give equal weights
  assert.ok(close(kernelWeights(keys, 2, 0, 2, 0, { sigma: 5, weighting: 'mean' }).weights, [1 / 3, 1 / 3, 1 / 3], 1e-12));
  const same = Float32Array.from([1, 1, 1, 1]);
  assert.ok(close(kernelWeights(same, 2, 0, 1, 1, { sigma: 'meanDistance', weighting: 'gaussian' }).weights, [0.5, 0.5], 1e-12));
});

test('gaussianMerge: merged key = Σ w k, value weights sum to |S| under setSize (1 under none), mass and score add up', () => {
  // values e1, e2, e3: the merged value's entries ARE the value weights
  const mk = () => {
    const h = headOf([[0, 0, 0], [1, 0, 0], [0, 2, 0]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    h.mass.set([2, 1, 3]);
    h.score.set([0.5, 0.25, 0.125]);
    return h;
  };
  const h = mk();
  const { weights } = gaussianMerge(h, 0, 2, 0, { sigma: 'meanDistance', valueScale: 'setSize', weighting: 'gaussian' });
  const w = Array.from(weights);
  assert.ok(close(Array.from(h.key(0)), [w[1]!, 2 * w[2]!, 0]));
  const v = Array.from(h.value(0));
  assert.ok(close(v, w.map((x) => 3 * x)));
  assert.ok(Math.abs(v.reduce((a, b) => a + b, 0) - 3) < 1e-6, 'value weights sum to |S| = 3');
  assert.equal(h.mass[0], 6);
  assert.equal(h.score[0], 0.875);
  assert.equal(h.positions[0], 0);
  const h2 = mk();
  gaussianMerge(h2, 0, 2, 0, { sigma: 'meanDistance', valueScale: 'none', weighting: 'gaussian' });
  assert.ok(Math.abs(Array.from(h2.value(0)).reduce((a, b) => a + b, 0) - 1) < 1e-6, 'value weights sum to 1 under none');
});

test('the pivot is the highest-attention member, ties → the later one, and keeps its position', () => {
  assert.equal(pivotOf([0.1, 0.7, 0.3], 0, 2), 1);
  assert.equal(pivotOf([0.7, 0.7, 0.3], 0, 2), 1);
  assert.equal(pivotOf([0.1, 0.7, 0.7, 0.9], 0, 2), 2);
  const { head } = faithful([[1, 0], [1, 0.01], [1, 0.02]], [0.2, 0.2, 0.1], { epsilon: 0.5 });
  assert.deepEqual(dumpHead(head).positions, [1]);
});

test('faithful shares: the paper\'s points, linear between and beyond, clamped to [0, 1]', () => {
  const near = (a: { recentRatio: number; attnRatio: number }, r: number, t: number) =>
    assert.ok(Math.abs(a.recentRatio - r) < 1e-12 && Math.abs(a.attnRatio - t) < 1e-12, JSON.stringify(a));
  near(faithfulShares(0.5), 0.17, 0.12);
  near(faithfulShares(0.35), 0.08, 0.02);
  near(faithfulShares(0.425), 0.125, 0.07);
  near(faithfulShares(0.6), 0.23, 0.12 + 0.1 / 1.5);
  near(faithfulShares(1), 0.47, 0.02 + 0.65 / 0.15 * 0.1);
  near(faithfulShares(0.2), 0, 0);
  // resolved into the report's options; explicit values override
  const prep = prepareCompression({ method: 'kvmerger', budget: { ratio: 0.35 }, promptLength: 10 });
  const cache = randomCache(1, 1, 4, 10);
  const rep = prep.compress(cache, randomStats(cache, 1));
  assert.equal(rep.options['recentRatio'], 0.08);
  assert.equal(rep.options['attnRatio'], 0.02);
  const prep2 = prepareCompression({ method: 'kvmerger', options: ['recentRatio=0.3'], budget: { ratio: 0.35 }, promptLength: 10 });
  const c2 = randomCache(1, 1, 4, 10);
  assert.equal(prep2.compress(c2, randomStats(c2, 1)).options['recentRatio'], 0.3);
});

test('exact mode hits the requested slot count exactly: per layer, global, headShared; reserved shares beyond the budget', () => {
  const T = 60;
  for (const [opts, budget] of [
    [[], 0.5],
    [[], 0.35],
    [['thresholdScope=global'], 0.35],
    [['granularity=headShared'], 0.5],
    [['granularity=headShared', 'thresholdScope=global'], 0.35],
    [['recentRatio=0.6', 'attnRatio=0.3'], 0.3],
    [['sinkTokens=4', 'scores=window', 'gqaReduce=max'], 0.2],
  ] as [string[], number][]) {
    const cache = randomCache(3, 2, 8, T, 7);
    const prep = prepareCompression({ method: 'kvmerger', options: opts, budget: { ratio: budget }, promptLength: T });
    const rep = prep.compress(cache, randomStats(cache, 4));
    const B = Math.floor(budget * T + 1e-9);
    const what = `${opts.join(',')} @ ${budget}`;
    if (opts.includes('thresholdScope=global')) assert.equal(cache.slots(), 3 * 2 * B, what);
    else assert.deepEqual(cache.slotsPerLayer(), [2 * B, 2 * B, 2 * B], what);
    assert.ok(Math.abs(rep.budgetAchieved - (3 * 2 * B) / (3 * 2 * T)) < 1e-12);
    for (const layer of cache.layers) {
      for (const h of layer.heads) {
        const pos = Array.from(h.positions.subarray(0, h.length));
        assert.ok(pos.every((p, i) => i === 0 || p > pos[i - 1]!), 'positions stay increasing originals');
        assert.equal(h.mass.subarray(0, h.length).reduce((a, b) => a + b, 0), T, 'mass adds up to T');
      }
      if (opts.includes('granularity=headShared')) {
        const p0 = Array.from(layer.heads[0]!.positions.subarray(0, layer.heads[0]!.length));
        for (const h of layer.heads) assert.deepEqual(Array.from(h.positions.subarray(0, h.length)), p0, 'one layout per layer');
      }
    }
  }
});

test('exact mode merges the pairs with the highest cosine', () => {
  // adjacent cosines: (0,1) = 1, (1,2) = 0 (orthogonal), (2,3) = 0.6; budget 2 of 4 → merge {0,1} and {2,3}; 3 of 4 → only {0,1}
  const keys = [[1, 0], [2, 0], [0, 1], [0.8, 0.6]];
  const run = (tokens: number) => {
    const cache = cacheOf(keys);
    prepareCompression({ method: 'kvmerger', options: { recentRatio: 0, attnRatio: 0 }, budget: { tokens }, promptLength: 4 }).compress(cache, statsOf([0.1, 0.2, 0.3, 0.4]));
    return dumpHead(cache.layers[0]!.heads[0]!);
  };
  assert.deepEqual(run(3).positions, [1, 2, 3]);
  assert.deepEqual(run(2).positions, [1, 3]);
  assert.deepEqual(run(1).positions, [3]);
});
