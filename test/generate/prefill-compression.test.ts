// Compression during the chunked prefill (--compress-during-prefill): the cache's size at every chunk boundary, the
// equality with one-shot compression when one chunk holds the prompt, and the combinations that are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KVCache } from '../../src/cache/kv-cache.js';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { chunkedPrefill } from '../../src/generate/chunked-prefill.js';
import { checkCompression } from '../../src/generate/compression.js';
import { generate } from '../../src/generate/session.js';
import type { SessionModel } from '../../src/generate/session-model.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { KvError } from '../../src/util/errors.js';
import { letterTokenizer } from '../helpers/letter-tokenizer.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';

function model(): SessionModel {
  const config = smallConfig({ contextLength: 128 });
  return { config, tokenizer: letterTokenizer(config.vocabSize), backend: new ReferenceBackend(randomWeightSource(config, 3, { scale: 2 })) };
}

const T = 40;
const prompt = Int32Array.from({ length: T }, (_, i) => 1 + ((i * 7 + 3) % 20));
const SUPPORTED = ['h2o', 'kvmerger', 'cam', 'tova', 'streaming', 'knorm', 'random'];

const headLengths = (cache: KVCache) => cache.layers.map((l) => l.heads.map((h) => h.length));

test('the cache never exceeds budget + one chunk: hand-counted slots at every chunk boundary', async () => {
  const m = model();
  // b = ⌊0.35 · 40⌋ = 14 slots per head; chunks of 6 (the last one 4): appended lengths 6, 12, 18 → 14, 20 → 14,
  // 20, 20, 20, then the last chunk 14 + 4 = 18 → 14. Rounds run from the third chunk on: 5.
  for (const method of SUPPORTED) {
    const prep = prepareCompression({ method, budget: { ratio: 0.35 }, promptLength: T, reserveSlots: 3 });
    const comp = prep.prefillCompressor();
    const before: number[][] = [];
    const after: number[][] = [];
    await chunkedPrefill(m, prompt, comp.stats, 0, 6, (cache, stats, next) => {
      // kvmerger (perHead, exact) may spread a layer's slots unevenly over its heads: the layer total is the bound
      before.push(cache.layers.map((l) => l.slots()));
      comp.afterChunk(cache, stats, next);
      after.push(cache.layers.map((l) => l.slots()));
      if (method !== 'kvmerger') for (const lens of headLengths(cache)) assert.ok(lens.every((n) => n === lens[0]), method);
    });
    const kv = m.config.headCountKv;
    const perLayer = (xs: number[]) => xs.map((n) => new Array<number>(m.config.blockCount).fill(n * kv));
    assert.deepEqual(before, perLayer([6, 12, 18, 20, 20, 20, 18]), method);
    assert.deepEqual(after, perLayer([6, 12, 14, 14, 14, 14, 14]), method);
    assert.equal(comp.rounds, 5, method);
    assert.equal(comp.peakSlots, 20 * kv * m.config.blockCount, method);
  }
});

test('with one chunk holding the prompt, compression during the prefill equals one-shot compression exactly', async () => {
  const m = model();
  for (const method of SUPPORTED) {
    const run = (duringPrefill: boolean) =>
      generate(m, {
        promptTokens: prompt,
        maxTokens: 6,
        stopAtEos: false,
        sampling: { temperature: 0 },
        chunkSize: 64,
        compression: { method, budget: 0.35, seed: 5, duringPrefill },
      });
    const a = await run(false);
    const b = await run(true);
    assert.deepEqual(b.tokens, a.tokens, method);
    a.kvCache.layers.forEach((layer, l) =>
      layer.heads.forEach((ha, h) => {
        const hb = b.kvCache.layers[l]!.heads[h]!;
        assert.equal(hb.length, ha.length, `${method} ${l} ${h}`);
        assert.deepEqual(hb.keysInUse(), ha.keysInUse(), `${method} keys ${l} ${h}`);
        assert.deepEqual(hb.valuesInUse(), ha.valuesInUse(), `${method} values ${l} ${h}`);
        assert.deepEqual(hb.positions.subarray(0, hb.length), ha.positions.subarray(0, ha.length), `${method} positions ${l} ${h}`);
        assert.deepEqual(hb.mass.subarray(0, hb.length), ha.mass.subarray(0, ha.length), `${method} mass ${l} ${h}`);
      }),
    );
    const ra = a.compression as { budgetAchieved: number; bytesFull: number; bytesKept: number };
    const rb = b.compression as typeof ra & { duringPrefill: { rounds: number; peakSlots: number } };
    assert.equal(rb.budgetAchieved, ra.budgetAchieved, method);
    assert.equal(rb.bytesFull, ra.bytesFull, method);
    assert.equal(rb.bytesKept, ra.bytesKept, method);
    assert.deepEqual(rb.duringPrefill.rounds, 1, method);
    assert.equal(rb.duringPrefill.peakSlots, T * m.config.blockCount * m.config.headCountKv, method);
  }
});

test('streaming and knorm during the prefill keep what one-shot keeps at any chunk size', async () => {
  // StreamingLLM keeps the first sink and the last b − sink tokens whatever the order (every layer). K-norm: the b
  // smallest norms of a superset are among those of every subset that holds them — in layer 0 only, whose keys depend
  // on the token alone; deeper layers' keys of later chunks were computed against the compressed cache.
  const m = model();
  for (const method of ['streaming', 'knorm']) {
    const one = await chunkedPrefill(m, prompt, undefined, 0, 64);
    prepareCompression({ method, budget: { ratio: 0.35 }, promptLength: T }).compress(one.cache, undefined);
    const prep = prepareCompression({ method, budget: { ratio: 0.35 }, promptLength: T });
    const comp = prep.prefillCompressor();
    const during = await chunkedPrefill(m, prompt, comp.stats, 0, 5, (c, s, n) => comp.afterChunk(c, s, n));
    const layers = method === 'knorm' ? one.cache.layers.slice(0, 1) : one.cache.layers;
    layers.forEach((layer, l) =>
      layer.heads.forEach((ha, h) => {
        const hb = during.cache.layers[l]!.heads[h]!;
        assert.deepEqual(hb.positions.subarray(0, hb.length), ha.positions.subarray(0, ha.length), `${method} ${l} ${h}`);
      }),
    );
  }
});

test('the session reports the prefill compression and holds the budget afterwards', async () => {
  const m = model();
  const r = await generate(m, {
    promptTokens: prompt,
    maxTokens: 4,
    stopAtEos: false,
    sampling: { temperature: 0 },
    chunkSize: 8,
    compression: { method: 'kvmerger', budget: 0.35, duringPrefill: true },
  });
  const rep = r.compression as { bytesFull: number; bytesKept: number; duringPrefill: { rounds: number; peakSlots: number; peakBytes: number } };
  const { blockCount: L, headCountKv: H, headDim: D } = m.config;
  assert.equal(rep.bytesFull, T * L * H * D * 8);
  assert.equal(rep.bytesKept, 14 * L * H * D * 8);
  // appended lengths 8, 16 → 14, 22 → 14, 22 → 14, 22 → 14: 4 rounds, peak 22 slots per head
  assert.equal(rep.duringPrefill.rounds, 4);
  assert.equal(rep.duringPrefill.peakSlots, 22 * L * H);
  assert.equal(rep.duringPrefill.peakBytes, 22 * L * H * D * 8);
  // 14 kept + 3 decoded tokens appended (the 4th is sampled, not run)
  assert.equal(r.cache.slots, 17 * L * H);
  assert.equal(r.kvCache.nextPosition, T + 3);
});

test('combinations that cannot compress during the prefill are clear KvErrors', () => {
  const bad: [string, Record<string, string>, RegExp][] = [
    ['snapkv', {}, /snapkv scores tokens by the prompt's last 32 queries/],
    ['pyramidkv', {}, /pyramidkv scores tokens by the prompt's last 32 queries/],
    ['h2o', { scores: 'window' }, /h2o with scores=window .* use scores=all/],
    ['kvmerger', { scores: 'window', window: '16' }, /last 16 queries/],
    ['kvmerger', { budgetMode: 'faithful' }, /budgetMode=faithful .* does not bound the cache/],
  ];
  for (const [method, options, re] of bad) {
    assert.throws(() => checkCompression({ method, options, budget: 0.35, duringPrefill: true }), (e: unknown) => e instanceof KvError && re.test(e.message) && /--compress-during-prefill/.test(e.message), method);
  }
  assert.throws(() => checkCompression({ method: 'h2o', budget: 0.35, duringPrefill: true, keepBefore: true }), (e: unknown) => e instanceof KvError && /--dump-cache/.test(e.message));
  // the same methods without the option are fine
  for (const [method, options] of bad) checkCompression({ method, options, budget: 0.35 });
});

test('kvmerger generate --compress-during-prefill: refused without --method and for snapkv, before any model loads', async () => {
  const { run } = await import('../../src/cli/commands/generate.js');
  const missing = '/nonexistent/model.gguf';
  await assert.rejects(run(['--model', missing, '--compress-during-prefill']), (e: unknown) => e instanceof KvError && /need --method NAME/.test(e.message));
  await assert.rejects(
    run(['--model', missing, '--method', 'snapkv', '--budget', '0.5', '--compress-during-prefill']),
    (e: unknown) => e instanceof KvError && /--compress-during-prefill: snapkv scores tokens/.test(e.message),
  );
});

test("kvmerger valueScale=mass: a merged slot's factor is not compounded, and equals setSize on unit masses", async () => {
  const { HeadCache } = await import('../../src/cache/head-cache.js');
  const { gaussianMerge } = await import('../../src/compress/methods/kvmerger/gaussian-merge.js');
  const mk = (mass: number[]) => {
    const h = new HeadCache(3, 3);
    const keys = [[0, 0, 0], [1, 0, 0], [0, 2, 0]];
    keys.forEach((k, i) => h.append(Float32Array.from(k), Float32Array.from([0, 1, 2].map((c) => (c === i ? 1 : 0))), i));
    h.mass.set(mass);
    return h;
  };
  const opts = (valueScale: 'setSize' | 'mass') => ({ sigma: 'meanDistance' as const, valueScale, weighting: 'gaussian' as const });
  // masses 2, 1, 1 (the first slot already merged two tokens, its value carries the factor 2): v̂ = 4 · (w0/2, w1, w2)
  const h = mk([2, 1, 1]);
  const w = Array.from(gaussianMerge(h, 0, 2, 0, opts('mass')).weights);
  const expected = [4 * (w[0]! / 2), 4 * w[1]!, 4 * w[2]!];
  Array.from(h.value(0)).forEach((x, c) => assert.ok(Math.abs(x - expected[c]!) < 1e-6, `${x} vs ${expected[c]}`));
  assert.equal(h.mass[0], 4);
  // unit masses: bit-identical to setSize
  const a = mk([1, 1, 1]);
  const b = mk([1, 1, 1]);
  gaussianMerge(a, 0, 2, 1, opts('setSize'));
  gaussianMerge(b, 0, 2, 1, opts('mass'));
  assert.deepEqual(b.value(1), a.value(1));
});
