// The library as users import it: `import { loadModel, generate, methods, checkCompression } from 'kvmerger'`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, generate, methods, checkCompression, KvError } from '../../src/index.js';
import { sharedData } from '../helpers/shared-data.js';

const model = sharedData('models/stories260K.bin');
const tok = sharedData('models/tok512.bin');

test('methods lists every method of the specification', () => {
  for (const name of ['full', 'kvmerger', 'h2o', 'cam', 'streaming', 'snapkv', 'pyramidkv', 'tova', 'knorm', 'random']) {
    assert.ok(methods.has(name), name);
  }
});

test('checkCompression rejects an unknown method before any model loads', () => {
  assert.throws(() => checkCompression({ method: 'nope', budget: 0.5 }), (e: unknown) => e instanceof KvError && /unknown method 'nope'/.test(e.message));
});

test('generate with a compressed cache through the public API', { skip: !model || !tok ? 'needs ../shared/data (absent)' : false }, async () => {
  const m = await loadModel(model!, { tokenizerPath: tok!, backend: 'ort' });
  try {
    const prompt = 'Once upon a time, there was a little girl named Lily. She loved to play outside. One day she saw a big dog in the park.';
    const full = await generate(m, { prompt, maxTokens: 8, sampling: { temperature: 0 } });
    let reported: { budgetAchieved: number; bytesKept: number; bytesFull: number } | undefined;
    const r = await generate(m, {
      prompt,
      maxTokens: 8,
      sampling: { temperature: 0 },
      compression: { method: 'kvmerger', budget: 0.5, onCompressed: (_c, rep) => (reported = rep) },
    });
    assert.ok(reported, 'onCompressed reported the compression');
    assert.deepEqual(r.compression, reported, 'and the result holds the same report');
    const T = full.promptTokens.length;
    const layers = m.config.blockCount;
    const kv = m.config.headCountKv;
    assert.equal(reported!.budgetAchieved, (Math.floor(T * 0.5) * layers * kv) / (T * layers * kv));
    assert.ok(reported!.bytesKept < reported!.bytesFull);
    // The cache after decoding holds the kept prompt slots plus the decoded tokens that went through the model.
    assert.equal(r.cache.slots, (Math.floor(T * 0.5) + r.tokens.length - 1) * layers * kv);
    assert.equal(r.kvCache.nextPosition, T + r.tokens.length - 1, 'positions continue from the true prompt length');
  } finally {
    await m.close();
  }
});

test('a dump adds aggregated attention for every method without changing what the method keeps', { skip: !model || !tok ? 'needs ../shared/data (absent)' : false }, async () => {
  const m = await loadModel(model!, { tokenizerPath: tok!, backend: 'ort' });
  try {
    const prompt = 'Once upon a time, there was a little girl named Lily. She loved to play outside. One day she saw a big dog in the park. The dog was happy.';
    for (const method of ['snapkv', 'streaming', 'knorm']) {
      const kept: number[][] = [];
      let aggregated: number[][][] | undefined;
      for (const keepBefore of [false, true]) {
        await generate(m, {
          prompt,
          maxTokens: 1,
          sampling: { temperature: 0 },
          compression: {
            method,
            budget: 0.5,
            keepBefore,
            onCompressed: (after, _r, _before, agg) => {
              kept.push(after.layers.flatMap((l) => l.heads.flatMap((h) => Array.from(h.positions.subarray(0, h.length)))));
              if (keepBefore) aggregated = agg;
            },
          },
        });
      }
      assert.deepEqual(kept[1], kept[0], `${method}: same slots kept with and without the dump`);
      assert.ok(aggregated && aggregated.length === m.config.blockCount, `${method}: aggregated attention present`);
      assert.equal(aggregated![0]!.length, m.config.headCountKv);
    }
  } finally {
    await m.close();
  }
});
