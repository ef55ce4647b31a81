import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { methodNames } from '../../src/compress/registry.js';
import type { BudgetSpec } from '../../src/compress/budget.js';
import type { AttentionStats } from '../../src/cache/attention-stats.js';
import type { KVCache } from '../../src/cache/kv-cache.js';
import { Rng } from '../../src/util/rng.js';
import { dumpHead, randomCache, randomStats } from './fixture.js';

const L = 3;
const KV = 2;
const Q = 4;
const T = 48;

/** Every method with its default options, plus the variants that compress during decoding. */
const VARIANTS: [string, string[]][] = [
  ...methodNames().map((m): [string, string[]] => [m, []]),
  ['kvmerger', ['granularity=headShared']],
  ['kvmerger', ['thresholdScope=global']],
  ['h2o', ['when=decode']],
  ['cam', ['when=decode']],
  ['cam', ['eviction=h2o', 'gateAttention=current', 'when=decode']],
  ['streaming', ['when=decode']],
  ['tova', ['when=decode']],
  ['tova', ['granularity=perHead']],
];

function positions(c: KVCache): number[][][] {
  return c.layers.map((l) => l.heads.map((h) => Array.from(h.positions.subarray(0, h.length))));
}

test('every method: kept slots never exceed the budget, positions stay original, achieved budget is measured', () => {
  for (const [method, options] of VARIANTS) {
    for (const budget of [{ ratio: 0.5 }, { ratio: 0.35 }, { tokens: 7 }, { tokens: 40, per: 'total' }] as BudgetSpec[]) {
      const what = `${method} ${options.join(' ')} ${JSON.stringify(budget)}`;
      const cache = randomCache(L, KV, 8, T, 11);
      const before = positions(cache);
      const prep = prepareCompression({ method, options, budget, promptLength: T, seed: 4, reserveSlots: 4 });
      const rep = prep.compress(cache, randomStats(cache, Q, 3, 8));
      const per = 'ratio' in budget ? new Array<number>(L).fill(Math.floor(budget.ratio * T + 1e-9)) : budget.per === 'total' ? [14, 13, 13] : new Array<number>(L).fill(budget.tokens);
      const total = per.reduce((a, b) => a + b, 0) * KV;
      if (method === 'full') {
        assert.equal(cache.slots(), L * KV * T, 'full ignores the budget');
        continue;
      }
      assert.ok(cache.slots() <= total, `${what}: ${cache.slots()} > ${total}`);
      // one threshold for the whole cache (kvmerger-prop's default): the total is bounded, not each layer
      if (method !== 'pyramidkv' && method !== 'kvmerger-prop' && !(method === 'kvmerger' && options.includes('thresholdScope=global'))) {
        cache.slotsPerLayer().forEach((s, l) => assert.ok(s <= per[l]! * KV, `${what}: layer ${l} keeps ${s}`));
      }
      assert.ok(cache.slots() < L * KV * T, `${what}: compressed`);
      assert.equal(rep.budgetAchieved, cache.slots() / (T * L * KV), what);
      assert.equal(rep.bytesKept, cache.bytes());
      assert.equal(rep.bytesFull, L * KV * T * 8 * 2 * 4);
      assert.deepEqual(rep.slotsPerLayer, cache.slotsPerLayer());
      positions(cache).forEach((layer, l) =>
        layer.forEach((p, h) => {
          const orig = new Set(before[l]![h]!);
          assert.ok(p.every((x, i) => orig.has(x) && (i === 0 || x > p[i - 1]!)), `${what}: positions are a subset of the originals, in order`);
        }),
      );
      // really smaller buffers: capacity = kept + reserve
      for (const layer of cache.layers) for (const h of layer.heads) if (h.length < T) assert.ok(h.capacity <= h.length + 4, `${what}: capacity ${h.capacity}`);
      // decode: the cache stays within the budget, positions continue at the true length
      const policy = prep.decodePolicy();
      const rng = new Rng(8);
      for (let s = 0; s < 6; s++) {
        for (const layer of cache.layers) for (const h of layer.heads) h.append(new Float32Array(8).fill(rng.normal()), new Float32Array(8), cache.nextPosition);
        cache.nextPosition++;
        if (!policy) continue;
        const stats: AttentionStats = { lastRow: cache.layers.map((layer) => Array.from({ length: Q }, (_, q) => Float32Array.from({ length: layer.heads[Math.floor(q / 2)]!.length }, () => rng.next()))) };
        policy.afterDecodeStep(cache, policy.stats.lastRow ? stats : undefined);
        cache.slotsPerLayer().forEach((n, l) => assert.ok(n <= per[l]! * KV, `${what}: decode step ${s} layer ${l} keeps ${n}`));
      }
      assert.equal(cache.nextPosition, T + 6);
      const last = cache.layers[0]!.heads[0]!;
      assert.equal(last.positions[last.length - 1], T + 5, `${what}: the newest token is kept at its true position`);
    }
  }
});

test('every method: a budget of 1 (ratio or all tokens) changes nothing', () => {
  for (const [method, options] of VARIANTS) {
    for (const budget of [{ ratio: 1 }, { tokens: 20 }]) {
      const cache = randomCache(2, KV, 4, 20, 5);
      const before = cache.layers.map((l) => l.heads.map(dumpHead));
      const prep = prepareCompression({ method, options, budget, promptLength: 20 });
      const rep = prep.compress(cache, randomStats(cache, Q));
      assert.deepEqual(cache.layers.map((l) => l.heads.map(dumpHead)), before, `${method} ${options.join(' ')}`);
      assert.equal(rep.budgetAchieved, 1);
      assert.equal(prep.decodePolicy(), undefined);
    }
  }
});
