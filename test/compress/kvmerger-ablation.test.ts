// Issue 19: KVMerger's proportional attention, random merging sets, centre pivot, decode-time merging; CaM's
// proportional merge. Hand-computed cases and invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadCache } from '../../src/cache/head-cache.js';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { gaussianMerge } from '../../src/compress/methods/kvmerger/gaussian-merge.js';
import { mergingSets, shuffledCuts } from '../../src/compress/methods/kvmerger/merging-sets.js';
import { centrePivot } from '../../src/compress/methods/kvmerger/pivot.js';
import { camCompressHead, camGate, camMerge } from '../../src/compress/methods/cam.js';
import { Rng } from '../../src/util/rng.js';
import { cacheOf, close, dumpHead, headOf, randomCache, randomStats, statsOf } from './fixture.js';

function faithful(keys: number[][], attention: number[], opts: Record<string, string | number> = {}, values?: number[][]) {
  const cache = cacheOf(keys, values);
  const prep = prepareCompression({ method: 'kvmerger', options: { budgetMode: 'faithful', recentRatio: 0, attnRatio: 0, ...opts }, budget: { ratio: 0.5 }, promptLength: keys.length });
  prep.compress(cache, statsOf(attention));
  return cache.layers[0]!.heads[0]!;
}

test('proportional=true: identical keys merge into one slot of mass |S| holding the mean value (valueScale=none), flagged proportional', () => {
  const head = faithful([[1, 2], [1, 2], [1, 2], [1, 2]], [0.1, 0.5, 0.2, 0.1], { proportional: 'true', valueScale: 'none' }, [[1, 0], [2, 0], [3, 0], [6, 4]]);
  const d = dumpHead(head);
  assert.equal(head.proportional, true);
  assert.deepEqual(d.mass, [4]);
  assert.ok(close(d.values[0]!, [3, 1]), `got ${d.values[0]}`);
  // bytes() counts the masses of a proportional head: 4 bytes a slot beside keys and values (f32: 2 · 2 · 4)
  assert.equal(head.bytes(), 1 * (2 * 2 * 4 + 4));
  // default: not proportional, bytes as before
  const plain = faithful([[1, 2], [1, 2]], [0.1, 0.5]);
  assert.equal(plain.proportional, false);
  assert.equal(plain.bytes(), 1 * 2 * 2 * 4);
});

test('proportional=true: kernel weights are multiplied by the members\' masses (by hand)', () => {
  // two identical keys (kernel weights 1/2 each) with masses 3 and 1: weights 3/4 and 1/4
  const h = headOf([[1, 0], [1, 0]], [[4, 0], [0, 8]]);
  h.mass[0] = 3;
  gaussianMerge(h, 0, 1, 1, { sigma: 'meanDistance', valueScale: 'none', weighting: 'gaussian', proportional: 'true' });
  assert.ok(close(Array.from(h.value(1)), [3, 2]), `got ${Array.from(h.value(1))}`);
  assert.equal(h.mass[1], 4);
  // without proportional: 1/2 each
  const g = headOf([[1, 0], [1, 0]], [[4, 0], [0, 8]]);
  g.mass[0] = 3;
  gaussianMerge(g, 0, 1, 1, { sigma: 'meanDistance', valueScale: 'none', weighting: 'gaussian' });
  assert.ok(close(Array.from(g.value(1)), [2, 4]));
});

test('sets=random keeps the set sizes of each stretch between reserved slots, and reserved slots single', () => {
  const n = 20;
  const reserved = new Uint8Array(n);
  reserved[7] = 1;
  reserved[15] = 1;
  const cut = new Uint8Array(n - 1).fill(1);
  for (const [s, e] of [[0, 2], [4, 5], [9, 13], [16, 18]]) for (let i = s!; i < e!; i++) cut[i] = 0;
  for (const i of [6, 7, 14, 15]) cut[i] = 1;
  const rng = new Rng(4);
  const sizes = (c: Uint8Array, lo: number, hi: number) => mergingSets(c, n).filter(([s, e]) => s >= lo && e <= hi).map(([s, e]) => e - s + 1).sort();
  let moved = false;
  for (let k = 0; k < 10; k++) {
    const out = shuffledCuts(cut, n, reserved, () => rng.next());
    for (const [lo, hi] of [[0, 6], [8, 14], [16, 19]]) assert.deepEqual(sizes(out, lo!, hi!), sizes(cut, lo!, hi!));
    for (const r of [7, 15]) assert.ok(out[r - 1] === 1 && out[r] === 1, 'reserved slot stays single');
    if (out.some((x, i) => x !== cut[i])) moved = true;
  }
  assert.ok(moved, 'the sets move');
});

test('sets=random and pivot=centre keep the exact budget; centre pivot of 2 is the later, of 3 the middle', () => {
  assert.equal(centrePivot(4, 5), 5);
  assert.equal(centrePivot(4, 6), 5);
  assert.equal(centrePivot(4, 7), 6);
  for (const options of [{ sets: 'random' }, { pivot: 'centre' }, { proportional: 'true', valueScale: 'none' }] as const) {
    const cache = randomCache(2, 2, 8, 60, 3);
    const prep = prepareCompression({ method: 'kvmerger', options, budget: { ratio: 0.35 }, promptLength: 60, seed: 1 });
    const report = prep.compress(cache, randomStats(cache, 4));
    assert.equal(report.budgetAchieved, 21 / 60, JSON.stringify(options));
    for (const l of cache.layers) for (const h of l.heads) {
      let m = 0;
      for (let j = 0; j < h.length; j++) m += h.mass[j]!;
      assert.equal(m, 60, 'masses add up to the prompt');
    }
  }
});

test('the paper\'s defaults are unchanged by the new options (defaults = explicit defaults, bit for bit)', () => {
  const run = (options: Record<string, string>) => {
    const cache = randomCache(2, 2, 8, 50, 5);
    prepareCompression({ method: 'kvmerger', options, budget: { ratio: 0.5 }, promptLength: 50, seed: 2 }).compress(cache, randomStats(cache, 4));
    return cache.layers.map((l) => l.heads.map((h) => dumpHead(h)));
  };
  assert.deepEqual(run({}), run({ proportional: 'false', sets: 'similarity', pivot: 'attention', when: 'prefill' }));
});

test('when=decode: the budget holds at every step, by merges of adjacent slots; masses add up', () => {
  for (const granularity of ['perHead', 'headShared'] as const) {
    const T = 40;
    const cache = randomCache(2, 2, 8, T, 7);
    const prep = prepareCompression({ method: 'kvmerger', options: { when: 'decode', valueScale: 'none', proportional: 'true', granularity, decodeWindow: 8 }, budget: { ratio: 0.5 }, promptLength: T, seed: 3 });
    prep.compress(cache, randomStats(cache, 4));
    const policy = prep.decodePolicy()!;
    assert.ok(policy, 'a decode policy');
    const rng = new Rng(11);
    for (let step = 0; step < 15; step++) {
      for (const l of cache.layers) for (const h of l.heads) h.append(Float32Array.from({ length: 8 }, () => rng.normal()), Float32Array.from({ length: 8 }, () => rng.normal()), T + step);
      cache.nextPosition++;
      const rows = cache.layers.map((l) => Array.from({ length: 4 }, (_, q) => Float32Array.from({ length: l.heads[q >> 1]!.length }, () => rng.next())));
      policy.afterDecodeStep(cache, { lastRow: rows });
      for (const l of cache.layers) {
        assert.equal(l.slots(), 40, `step ${step}: the layer at its budget`);
        for (const h of l.heads) {
          let m = 0;
          for (let j = 0; j < h.length; j++) m += h.mass[j]!;
          assert.equal(m, T + step + 1);
          for (let j = 1; j < h.length; j++) assert.ok(h.positions[j]! > h.positions[j - 1]!, 'positions stay increasing');
          assert.equal(h.proportional, true);
        }
        if (granularity === 'headShared') assert.deepEqual(Array.from(l.heads[0]!.positions.subarray(0, 20)), Array.from(l.heads[1]!.positions.subarray(0, 20)));
      }
      // the newest slots (the recent reserve) are untouched
      const h0 = cache.layers[0]!.heads[0]!;
      assert.equal(h0.positions[h0.length - 1], T + step);
    }
    assert.equal(policy.evicted, 2 * (granularity === 'perHead' ? 2 : 1) * 15, 'one merge per head per step');
  }
});

test('when=decode merges the most similar adjacent pair of the window (by hand)', () => {
  // 6 slots, budget 5; no reserved shares; window 10: keys 2 and 3 are identical → they merge, pivot = higher score
  const cache = cacheOf([[1, 0], [0, 1], [1, 1], [1, 1], [-1, 0], [0, -1]]);
  const h = cache.layers[0]!.heads[0]!;
  const prep = prepareCompression({ method: 'kvmerger', options: { when: 'decode', recentRatio: 0, attnRatio: 0, valueScale: 'none' }, budget: { tokens: 5 }, promptLength: 6, seed: 0 });
  const policy = prep.decodePolicy()!;
  policy.afterDecodeStep(cache, { lastRow: [[Float32Array.of(0, 0, 0.3, 0.1, 0, 0)]] });
  assert.equal(h.length, 5);
  assert.deepEqual(Array.from(h.positions.subarray(0, 5)), [0, 1, 2, 4, 5]);
  assert.equal(h.mass[2], 2);
  assert.ok(close(Array.from(h.value(2)), [3.5, 3.5]), `value ${Array.from(h.value(2))}`);
});

function randomHead(n: number, d: number, seed: number): HeadCache {
  const rng = new Rng(seed);
  const h = new HeadCache(d, n);
  for (let i = 0; i < n * d; i++) {
    h.keys[i] = rng.next() - 0.5;
    h.values[i] = rng.next() - 0.5;
  }
  for (let i = 0; i < n; i++) {
    h.positions[i] = i;
    h.mass[i] = 1;
  }
  h.length = n;
  return h;
}

test('CaM proportional: the one-pass sweep equals merging one evicted slot at a time (mass-weighted means, masses spread)', () => {
  for (const [n, b, recent, M] of [[200, 60, 30, 8], [97, 20, 5, 16]] as const) {
    const gateRng = new Rng(n + b);
    const gate = Float32Array.from({ length: n }, () => (gateRng.next() < 0.2 ? 0 : gateRng.next()));
    const a = randomHead(n, 8, 3);
    const z = randomHead(n, 8, 3);
    camCompressHead(a, b, { recent, mergeWindow: M, eviction: 'window', gate, selectScores: gate, proportional: true }, new Rng(9), 0);
    const rng = new Rng(9);
    const start = b - recent;
    const W = Math.min(M, recent);
    for (let e = start; e < n - recent; e++) {
      const targets: number[] = [];
      for (let t = e + 1; t < Math.min(n, e + 1 + W); t++) targets.push(t);
      camMerge(z, e, targets, camGate(gate[e]!, targets.map((t) => gate[t]!)), M, rng, true);
    }
    z.retain([...Array(start).keys(), ...Array.from({ length: recent }, (_, i) => n - recent + i)]);
    let diff = 0;
    for (let i = 0; i < b * 8; i++) diff = Math.max(diff, Math.abs(a.values[i]! - z.values[i]!));
    for (let j = 0; j < b; j++) diff = Math.max(diff, Math.abs(a.mass[j]! - z.mass[j]!));
    assert.ok(diff < 1e-4, `n=${n}: max diff ${diff}`);
    assert.ok(Array.from(a.mass.subarray(0, b)).some((m) => m > 1), 'masses grew');
  }
});

test('CaM proportional by hand: target of mass 1 takes m_e/M of an evicted slot', () => {
  const h = headOf([[0, 0], [0, 0]], [[8, 0], [0, 4]]);
  camMerge(h, 0, [1], 1, 2, new Rng(1), true); // share 1/2: v = (1·[0,4] + ½·[8,0]) / 1.5
  assert.ok(close(Array.from(h.value(1)), [8 / 3, 8 / 3]));
  assert.equal(h.mass[1], 1.5);
});

test('when=decode with thresholdScope=global holds the whole cache at its budget (layers keep their own shares)', () => {
  const T = 40;
  const cache = randomCache(3, 2, 8, T, 9);
  const prep = prepareCompression({ method: 'kvmerger-prop', options: { when: 'decode' }, budget: { ratio: 0.5 }, promptLength: T, seed: 3 });
  prep.compress(cache, randomStats(cache, 4));
  const before = cache.slotsPerLayer();
  assert.equal(cache.slots(), 3 * 2 * 20);
  const policy = prep.decodePolicy()!;
  const rng = new Rng(5);
  for (let step = 0; step < 10; step++) {
    for (const l of cache.layers) for (const h of l.heads) h.append(Float32Array.from({ length: 8 }, () => rng.normal()), Float32Array.from({ length: 8 }, () => rng.normal()), T + step);
    cache.nextPosition++;
    const rows = cache.layers.map((l) => Array.from({ length: 4 }, (_, q) => Float32Array.from({ length: l.heads[q >> 1]!.length }, () => rng.next())));
    policy.afterDecodeStep(cache, { lastRow: rows });
    assert.equal(cache.slots(), 120, `step ${step}`);
  }
  assert.ok(before.some((s) => s !== 40), 'the global threshold gave layers different sizes');
});
