import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import { compressCache } from '../../src/compress/compress-cache.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { Rng } from '../../src/util/rng.js';
import { KvError } from '../../src/util/errors.js';
import { measureQuality, meanStd, ownText } from '../../scripts/quality-signal.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { letterTokenizer } from '../helpers/letter-tokenizer.js';

const config = smallConfig({ contextLength: 64 });
const model = { config, tokenizer: letterTokenizer(config.vocabSize), backend: new ReferenceBackend(randomWeightSource(config, 7, { scale: 2 })) };
const T = 24;
const K = 6;
const rng = new Rng(3);
const tokens = [0, ...Array.from({ length: T + K }, () => 2 + rng.int(config.vocabSize - 2))];

/** KL(p ‖ q) from two logit rows, written out plainly (float64 softmax over max-shifted logits). */
function kl(p: Float32Array, q: Float32Array): number {
  const soft = (x: Float32Array) => {
    const m = Math.max(...x);
    const e = Array.from(x, (v) => Math.exp(v - m));
    const z = e.reduce((s, v) => s + v, 0);
    return e.map((v) => v / z);
  };
  const a = soft(p);
  const b = soft(q);
  return a.reduce((s, pi, i) => s + (pi > 0 ? pi * Math.log(pi / b[i]!) : 0), 0);
}

test('full vs itself is 0; compressed KL ≥ 0 and equal to a hand-driven run; budget achieved ≤ requested', async () => {
  const rows = await measureQuality(
    model,
    tokens,
    [
      { label: 'full', method: 'full' },
      { label: 'h2o', method: 'h2o' },
    ],
    { promptLength: T, forced: K, budgets: [0.5, 0.35] },
  );
  assert.deepEqual(rows.map((r) => `${r.label}@${r.budgetRequested}`), ['full@1', 'h2o@0.5', 'h2o@0.35']);
  const full = rows[0]!;
  assert.equal(full.meanKL, 0);
  assert.equal(full.top1Agreement, 1);
  assert.equal(full.bytesKept, full.bytesFull);
  assert.equal(full.bytesFull, T * config.blockCount * config.headCountKv * config.headDim * 2 * 4);
  for (const r of rows.slice(1)) {
    assert.equal(r.tokens, K);
    assert.ok(r.meanKL >= 0);
    assert.ok(r.budgetAchieved <= r.budgetRequested + 1e-12, `${r.label}@${r.budgetRequested}: achieved ${r.budgetAchieved}`);
    assert.ok(r.bytesKept < r.bytesFull);
  }
  // A random model at half the cache: the predictions do move.
  assert.ok(rows[1]!.meanKL > 1e-6, `h2o@0.5 KL ${rows[1]!.meanKL}`);

  // The same number driven by hand: prefill T in one call with column sums, H2O at 0.5, force tokens T..T+K−1;
  // row i is compared with the full cache's row i (both predict token T+i+1).
  const forward = async (compress: boolean) => {
    const cache = new KVCache(config.blockCount, config.headCountKv, config.headDim);
    const pre = await model.backend.forward(Int32Array.from(tokens.slice(0, T)), cache, { logits: 'last', stats: { columnSums: true, window: 0, lastRow: false } });
    if (compress) compressCache(cache, pre.stats, { method: 'h2o', budget: { ratio: 0.5 }, promptLength: T });
    const r = await model.backend.forward(Int32Array.from(tokens.slice(T, T + K)), cache, { logits: 'all' });
    const V = config.vocabSize;
    return Array.from({ length: K }, (_, i) => r.logits.slice(i * V, (i + 1) * V));
  };
  const ref = await forward(false);
  const got = await forward(true);
  const expected = ref.reduce((s, row, i) => s + kl(row, got[i]!), 0) / K;
  assert.ok(Math.abs(rows[1]!.meanKL - expected) < 1e-9, `measured ${rows[1]!.meanKL}, by hand ${expected}`);
});

test('bad lengths are user errors', async () => {
  await assert.rejects(measureQuality(model, tokens.slice(0, T + K), [{ label: 'h2o', method: 'h2o' }], { promptLength: T, forced: K, budgets: [0.5] }), KvError);
  await assert.rejects(measureQuality(model, tokens, [{ label: 'h2o', method: 'h2o' }], { promptLength: 60, forced: 10, budgets: [0.5] }), KvError);
});

test("the model's own text: BOS + length tokens, seeded; oneStory never samples BOS/EOS", async () => {
  const a = await ownText(model, 20, 5, 1);
  const b = await ownText(model, 20, 5, 1);
  assert.equal(a.length, 21);
  assert.equal(a[0], 0);
  assert.deepEqual(a, b);
  const c = await ownText(model, 40, 1, 3, true); // hot: BOS/EOS would come up unmasked
  assert.equal(c.length, 41);
  assert.ok(c.slice(1).every((id) => id !== 0 && id !== 1));
  assert.deepEqual(meanStd([1, 2, 3]), { mean: 2, std: 1 });
});
