import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../../src/cache/attention-stats.js';
import type { ForwardBackend, ForwardResult } from '../../src/model/backend.js';
import type { ModelConfig } from '../../src/core/model-config.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { createOrtBackend } from '../../src/model/ort-backend.js';
import { KvError } from '../../src/util/errors.js';
import { randomWeightSource, smallConfig, type RandomWeightOptions } from '../helpers/random-model.js';

const open: ForwardBackend[] = [];
after(async () => {
  for (const b of open) await b.dispose();
});

async function pair(config: ModelConfig, seed: number, opts: RandomWeightOptions = {}, chunk?: number) {
  const w = randomWeightSource(config, seed, opts);
  const fast = await createOrtBackend(w, { threads: 1, chunk });
  open.push(fast);
  const cache = () => new KVCache(config.blockCount, config.headCountKv, config.headDim);
  return { ref: new ReferenceBackend(w), fast, refCache: cache(), fastCache: cache() };
}

function tokens(n: number, vocab: number, seed: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => (i * 7 + seed * 13 + ((i * i) % 5)) % vocab);
}

/** max |a − b| ≤ 1e-4 · max |a|: the "within 1e-4 relative". */
function assertLogitsClose(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(b.length, a.length, `${what}: length`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  assert.ok(scale > 0.1, `${what}: logits are degenerate`);
  assert.ok(diff <= 1e-4 * scale, `${what}: max diff ${diff} vs scale ${scale}`);
}

function assertStatsClose(a: AttentionStats | undefined, b: AttentionStats | undefined, req: StatsRequest, what: string): void {
  assert.ok(a && b, `${what}: stats missing`);
  const kinds = [
    ['columnSums', req.columnSums],
    ['windowSums', req.window > 0],
    ['lastRow', req.lastRow],
  ] as const;
  for (const [k, wanted] of kinds) {
    if (!wanted) {
      assert.equal(b[k], undefined, `${what}: ${k} not requested`);
      continue;
    }
    const ra: Float32Array[][] = a[k]!;
    const rb: Float32Array[][] = b[k]!;
    assert.equal(rb.length, ra.length, `${what}: ${k} layers`);
    ra.forEach((layer, l) => {
      assert.equal(rb[l]!.length, layer.length, `${what}: ${k} heads of layer ${l}`);
      layer.forEach((row, q) => {
        const other = rb[l]![q]!;
        assert.equal(other.length, row.length, `${what}: ${k}[${l}][${q}] slots`);
        for (let j = 0; j < row.length; j++) {
          assert.ok(Math.abs(row[j]! - other[j]!) <= 1e-5 * Math.max(1, Math.abs(row[j]!)), `${what}: ${k}[${l}][${q}][${j}] ${row[j]} vs ${other[j]}`);
        }
      });
    });
  }
  if (req.window > 0) assert.equal(b.window, req.window);
}

const allStats: StatsRequest = { columnSums: true, window: 3, lastRow: true };

async function compareStep(
  p: Awaited<ReturnType<typeof pair>>,
  toks: Int32Array,
  logits: 'last' | 'all',
  what: string,
  req?: StatsRequest,
  windowStart?: number,
): Promise<[ForwardResult, ForwardResult]> {
  const a = await p.ref.forward(toks, p.refCache, { logits, stats: req, windowStart });
  const b = await p.fast.forward(toks, p.fastCache, { logits, stats: req, windowStart });
  assertLogitsClose(a.logits, b.logits, what);
  if (req) assertStatsClose(a.stats, b.stats, req, what);
  else assert.equal(b.stats, undefined);
  assert.equal(p.fastCache.nextPosition, p.refCache.nextPosition);
  p.fastCache.layers.forEach((layer, l) =>
    layer.heads.forEach((h, kh) => {
      const r = p.refCache.layers[l]!.heads[kh]!;
      assert.equal(h.length, r.length, `${what}: slots of layer ${l} head ${kh}`);
      assert.deepEqual(Array.from(h.positions.subarray(0, h.length)), Array.from(r.positions.subarray(0, r.length)));
      let d = 0;
      const kf = h.keysInUse();
      const kr = r.keysInUse();
      const vf = h.valuesInUse();
      const vr = r.valuesInUse();
      for (let i = 0; i < kf.length; i++) d = Math.max(d, Math.abs(kf[i]! - kr[i]!), Math.abs(vf[i]! - vr[i]!));
      assert.ok(d < 1e-4, `${what}: cached keys/values of layer ${l} head ${kh} differ by ${d}`);
    }),
  );
  return [a, b];
}

const shapes: { name: string; config: ModelConfig; opts?: RandomWeightOptions }[] = [
  { name: 'llama, GQA 1, tied, normal RoPE', config: smallConfig({ headCount: 4, headCountKv: 4, tiedEmbeddings: true }) },
  {
    name: 'qwen2 (biases, neox RoPE), GQA 2, untied, linear scaling',
    config: smallConfig({ architecture: 'qwen2', headCount: 4, headCountKv: 2, ropeScaling: { type: 'linear', factor: 4 } }),
  },
  {
    name: 'llama, GQA 4, llama3 scaling, partial RoPE',
    config: smallConfig({
      headCount: 4,
      headCountKv: 1,
      ropeDimensionCount: 4,
      ropeFreqBase: 500000,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 16 },
    }),
  },
  {
    name: 'llama, GQA 2, 3 layers, rope_freqs.weight, wider heads',
    config: smallConfig({ blockCount: 3, embeddingLength: 48, headCount: 4, headCountKv: 2, feedForwardLength: 40 }),
    opts: { ropeFreqs: true },
  },
  {
    name: 'qwen2, GQA 4, tied, partial neox RoPE',
    config: smallConfig({ architecture: 'qwen2', embeddingLength: 64, headCount: 8, headCountKv: 2, tiedEmbeddings: true, ropeDimensionCount: 4 }),
  },
];

for (const [i, s] of shapes.entries()) {
  test(`ort matches reference: ${s.name}`, async () => {
    const p = await pair(s.config, 11 + i, s.opts);
    const prompt = tokens(9, s.config.vocabSize, i);
    await compareStep(p, prompt, 'all', 'prefill', allStats, 5);
    for (let d = 0; d < 3; d++) {
      await compareStep(p, Int32Array.of((d * 17 + i) % s.config.vocabSize), 'last', `decode ${d}`, d === 1 ? { columnSums: false, window: 0, lastRow: true } : undefined);
    }
  });
}

test('ort: calls longer than its chunk are split, and a prompt fed in several calls matches one call', async () => {
  const config = smallConfig({ architecture: 'qwen2', headCount: 4, headCountKv: 2 });
  const p = await pair(config, 5, {}, 4); // ort runs at most 4 tokens per graph run
  const prompt = tokens(11, config.vocabSize, 3);
  await compareStep(p, prompt, 'all', 'chunked prefill', allStats, 6);
  // Then a second call that crosses the ort chunk boundary again, with last-only logits and stats.
  await compareStep(p, tokens(6, config.vocabSize, 8), 'last', 'second chunked call', allStats, 14);
  await compareStep(p, Int32Array.of(3), 'last', 'decode after chunks', allStats, 0);
});

test('ort: heads holding different numbers of slots (after retain) decode like the reference', async () => {
  const config = smallConfig({ headCount: 6, headCountKv: 3, embeddingLength: 48, blockCount: 2 });
  const p = await pair(config, 21);
  await compareStep(p, tokens(12, config.vocabSize, 4), 'last', 'prefill', allStats, 8);
  // Different slots deleted from different heads (one head emptied entirely), identically on both caches.
  const keep = [
    [[0, 1, 2, 5, 9, 11], [3, 4, 10], []],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [0, 11], [0, 6, 7]],
  ];
  for (const cache of [p.refCache, p.fastCache]) {
    cache.layers.forEach((layer, l) => layer.heads.forEach((h, kh) => h.retain(keep[l]![kh]!)));
  }
  assert.deepEqual(p.fastCache.layers.map((l) => l.lengths()), [[6, 3, 0], [11, 2, 3]]);
  for (let d = 0; d < 3; d++) {
    await compareStep(p, Int32Array.of((5 + 9 * d) % config.vocabSize), 'last', `decode ${d} after retain`, allStats, 0);
  }
  assert.equal(p.fastCache.nextPosition, 15);
  assert.deepEqual(Array.from(p.fastCache.layers[0]!.heads[2]!.positions.subarray(0, 3)), [12, 13, 14]);
  // A chunk of several tokens over the unequal cache (causal within the call).
  await compareStep(p, tokens(4, config.vocabSize, 9), 'all', 'chunk after retain', allStats, 16);
});

test("ort: 'last' logits equal the last row of 'all'", async () => {
  const config = smallConfig();
  const w = randomWeightSource(config, 3);
  const fast = await createOrtBackend(w, { threads: 1 });
  open.push(fast);
  const prompt = tokens(5, config.vocabSize, 1);
  const all = await fast.forward(prompt, new KVCache(2, 2, 8), { logits: 'all' });
  const last = await fast.forward(prompt, new KVCache(2, 2, 8), { logits: 'last' });
  assert.equal(all.logits.length, 5 * config.vocabSize);
  assert.deepEqual(Array.from(last.logits), Array.from(all.logits.subarray(4 * config.vocabSize)));
});

test('ort: bad tokens and options are clear errors', async () => {
  const config = smallConfig();
  const w = randomWeightSource(config, 4);
  await assert.rejects(createOrtBackend(w, { threads: 0 }), KvError);
  const fast = await createOrtBackend(w, { threads: 1 });
  open.push(fast);
  await assert.rejects(fast.forward(Int32Array.of(1, 64), new KVCache(2, 2, 8), { logits: 'last' }), /outside the model's vocabulary/);
  await assert.rejects(fast.forward(Int32Array.of(1), new KVCache(3, 2, 8), { logits: 'last' }), /cache has 3 layers/);
});
