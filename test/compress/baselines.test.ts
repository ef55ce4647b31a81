import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { streamingKeep } from '../../src/compress/methods/streaming.js';
import { pool1d, snapKeep } from '../../src/compress/methods/snapkv.js';
import { pyramidBudgets } from '../../src/compress/methods/pyramidkv.js';
import { randomSubset } from '../../src/compress/methods/random.js';
import type { AttentionStats } from '../../src/cache/attention-stats.js';
import { KVCache } from '../../src/cache/kv-cache.js';
import { Rng } from '../../src/util/rng.js';
import { cacheOf, dumpHead } from './fixture.js';

test('streaming keeps the sink and the most recent tokens', () => {
  assert.deepEqual(streamingKeep(10, 6, 4), [0, 1, 2, 3, 8, 9]);
  assert.deepEqual(streamingKeep(10, 3, 4), [0, 1, 2], 'a budget below the sink keeps the first tokens');
  assert.deepEqual(streamingKeep(5, 6, 4), [0, 1, 2, 3, 4]);
  // decode-time: the oldest non-sink slot goes at every step
  const cache = cacheOf(Array.from({ length: 8 }, (_, i) => [i]));
  const prep = prepareCompression({ method: 'streaming', options: ['sink=2', 'when=decode'], budget: { tokens: 4 }, promptLength: 8 });
  assert.deepEqual(prep.statsRequest, { columnSums: false, window: 0, lastRow: false });
  prep.compress(cache, undefined);
  const head = cache.layers[0]!.heads[0]!;
  assert.deepEqual(dumpHead(head).positions, [0, 1, 6, 7]);
  const policy = prep.decodePolicy()!;
  head.append(Float32Array.of(8), Float32Array.of(8), cache.nextPosition++);
  policy.afterDecodeStep(cache, undefined);
  assert.deepEqual(dumpHead(head).positions, [0, 1, 7, 8]);
});

test('snapkv: pooled window scores, the window itself always kept', () => {
  // max pooling, kernel 3: [0, 5, 0, 0, 1] → [5, 5, 5, 1, 1]
  assert.deepEqual(Array.from(pool1d([0, 5, 0, 0, 1], 5, 3, 'max')), [5, 5, 5, 1, 1]);
  // avg pooling divides by the kernel size, zero padding: [3, 0, 0] → [1, 1, 0]
  assert.deepEqual(Array.from(pool1d([3, 0, 0], 3, 3, 'avg')), [1, 1, 0]);
  // 10 slots, window 3 (slots 7, 8, 9 kept), budget 5: top 2 of pooled prefix (kernel 1 = raw)
  assert.deepEqual(snapKeep([0, 9, 0, 0, 8, 0, 0, 1, 1, 1], 10, 5, 3, 1, 'max'), [1, 4, 7, 8, 9]);
  // with kernel 3 the neighbours of slot 1 tie with it (9, 9, 9 at 0, 1, 2): ties → later: 2 and 1
  assert.deepEqual(snapKeep([0, 9, 0, 0, 8, 0, 0, 1, 1, 1], 10, 5, 3, 3, 'max'), [1, 2, 7, 8, 9]);
  // budget not above the window: the last b slots
  assert.deepEqual(snapKeep([1, 1, 1, 1, 1, 1], 6, 2, 3, 1, 'max'), [4, 5]);
  // through the plan: the window statistic is requested with the option's size
  const prep = prepareCompression({ method: 'snapkv', options: ['window=4'], budget: { ratio: 0.5 }, promptLength: 10 });
  assert.deepEqual(prep.statsRequest, { columnSums: false, window: 4, lastRow: false });
});

test('pyramidkv: a linear schedule from the first to the last layer with the same total', () => {
  // 4 layers × 40 slots, window 8, beta 4: a = 32, min 8, max 56 → 64, 48, 32, 16 (+ floors) = 160
  const b = pyramidBudgets([40, 40, 40, 40], { window: 8, beta: 4 }, 100);
  assert.deepEqual(b, [64, 48, 32, 16]);
  // capped at the prompt length, the rest given back from the first layer on
  const c = pyramidBudgets([60, 60, 60], { window: 8, beta: 20 }, 70);
  assert.equal(c.reduce((x, y) => x + y, 0), 180);
  assert.ok(c.every((x) => x <= 70));
  assert.deepEqual(pyramidBudgets([5, 5], { window: 8, beta: 20 }, 50), [5, 5], 'no room beyond the window: uniform');
  // through the plan: layer 0 keeps more than layer 1, the cache total is the budget's
  const cache = new KVCache(2, 1, 2, 20);
  for (const l of cache.layers) for (let t = 0; t < 20; t++) l.heads[0]!.append(Float32Array.of(1, t), Float32Array.of(0, 0), t);
  const ones = Array.from({ length: 20 }, () => 1);
  const stats: AttentionStats = { windowSums: [[Float32Array.from(ones)], [Float32Array.from(ones)]], window: 2 };
  const rep = prepareCompression({ method: 'pyramidkv', options: ['window=2'], budget: { ratio: 0.5 }, promptLength: 20 }).compress(cache, stats);
  assert.equal(rep.slotsPerLayer[0]! + rep.slotsPerLayer[1]!, 20);
  assert.ok(rep.slotsPerLayer[0]! > rep.slotsPerLayer[1]!);
});

test('tova keeps what the last query attends to, averaged over heads; decode mode drops the least attended', () => {
  const cache = new KVCache(1, 2, 1, 5);
  for (const h of cache.layers[0]!.heads) for (let t = 0; t < 5; t++) h.append(Float32Array.of(t), Float32Array.of(t), t);
  cache.nextPosition = 5;
  // per head rows disagree; their mean [0.3, 0.2, 0.05, 0.25, 0.2] decides for both heads: keep 0, 3 and 4 (tie 1/4 → later)
  const rows = [Float32Array.of(0.6, 0.0, 0.1, 0.1, 0.2), Float32Array.of(0.0, 0.4, 0.0, 0.4, 0.2)];
  const prep = prepareCompression({ method: 'tova', options: ['when=decode'], budget: { tokens: 3 }, promptLength: 5 });
  assert.deepEqual(prep.statsRequest, { columnSums: false, window: 0, lastRow: true });
  prep.compress(cache, { lastRow: [rows] });
  for (const h of cache.layers[0]!.heads) assert.deepEqual(dumpHead(h).positions, [0, 3, 4]);
  const policy = prep.decodePolicy()!;
  for (const h of cache.layers[0]!.heads) h.append(Float32Array.of(5), Float32Array.of(5), 5);
  cache.nextPosition++;
  policy.afterDecodeStep(cache, { lastRow: [[Float32Array.of(0.1, 0.5, 0.1, 0.3), Float32Array.of(0.3, 0.1, 0.3, 0.4)]] });
  for (const h of cache.layers[0]!.heads) assert.deepEqual(dumpHead(h).positions, [3, 4, 5], 'means [0.2, 0.3, 0.2, 0.35]: pos 0 ties with pos 4 and goes, being earlier');
});

test('knorm keeps the smallest key norms; random keeps a seeded subset', () => {
  const cache = cacheOf([[3, 4], [0, 1], [1, 1], [6, 8], [0, 0.5]]);
  prepareCompression({ method: 'knorm', budget: { tokens: 2 }, promptLength: 5 }).compress(cache, undefined);
  assert.deepEqual(dumpHead(cache.layers[0]!.heads[0]!).positions, [1, 4]);
  const a = randomSubset(10, 4, new Rng(5));
  assert.deepEqual(a, randomSubset(10, 4, new Rng(5)));
  assert.equal(new Set(a).size, 4);
  assert.ok(a.every((x, i) => x >= 0 && x < 10 && (i === 0 || x > a[i - 1]!)));
  const r1 = cacheOf(Array.from({ length: 10 }, (_, i) => [i]));
  const r2 = cacheOf(Array.from({ length: 10 }, (_, i) => [i]));
  prepareCompression({ method: 'random', budget: { tokens: 4 }, promptLength: 10, seed: 9 }).compress(r1, undefined);
  prepareCompression({ method: 'random', budget: { tokens: 4 }, promptLength: 10, seed: 9 }).compress(r2, undefined);
  assert.deepEqual(dumpHead(r1.layers[0]!.heads[0]!), dumpHead(r2.layers[0]!.heads[0]!));
  // uniformity: every slot is picked about equally often over seeds
  const counts = new Array<number>(10).fill(0);
  for (let s = 0; s < 500; s++) for (const i of randomSubset(10, 4, new Rng(s))) counts[i]!++;
  assert.ok(counts.every((c) => c > 140 && c < 260), counts.join(','));
});
