// pipeline('text-generation'): the built-in model as a function, its compression per pipeline and per call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline, loadModel, generate, KvError, type CompressionReport } from '../../src/index.js';

const models = resolve(import.meta.dirname, '../../models');
const builtIn = existsSync(models) && readdirSync(models).some((f) => f.endsWith('.gguf'));

test('pipeline refuses an unknown task and an unknown method before loading anything', async () => {
  await assert.rejects(pipeline('summarization' as 'text-generation'), (e: unknown) => e instanceof KvError && /unknown task/.test(e.message));
  await assert.rejects(pipeline('text-generation', '/nonexistent.gguf', { compression: { method: 'nope', budget: 0.5 } }), (e: unknown) => e instanceof KvError && /unknown method 'nope'/.test(e.message));
});

test('pipeline on the built-in model: text in, prompt + completion out, compression per pipeline and per call', { skip: !builtIn ? 'the built-in model is absent' : false }, async () => {
  const model = await loadModel(undefined, { backend: 'reference' });
  try {
    const prompt = 'Once upon a time, there was a little girl who loved to read books about the sea and the stars.';
    const sampling = { temperature: 0 };
    const generator = await pipeline('text-generation', model, { compression: { method: 'h2o', budget: 0.5 } });
    assert.equal(generator.task, 'text-generation');
    assert.equal(generator.model, model);
    const [out] = await generator(prompt, { maxTokens: 4, sampling });
    const direct = await generate(model, { prompt, maxTokens: 4, sampling });
    assert.equal(out!.generated_text, prompt + out!.details.text, 'returnFullText by default');
    const report = out!.details.compression as CompressionReport;
    assert.equal(report.method, 'h2o');
    assert.ok(out!.details.cache.slots < direct.cache.slots, 'the pipeline compressed the cache');
    const [full] = await generator(prompt, { maxTokens: 4, sampling, compression: null, returnFullText: false });
    assert.equal(full!.generated_text, direct.text, 'compression: null is the full cache, as generate() without it');
    assert.equal(full!.details.cache.slots, direct.cache.slots);
    const [other] = await generator(prompt, { maxTokens: 4, sampling, compression: { method: 'streaming', budget: 0.5 } });
    assert.equal((other!.details.compression as CompressionReport).method, 'streaming');
    await generator.dispose();
    // A model passed in stays open after dispose.
    assert.equal((await generate(model, { prompt, maxTokens: 1, sampling })).tokens.length, 1);
    await assert.rejects(generator([{ role: 'user', content: 'Hi' }], { maxTokens: 1 }), /chat template/);
  } finally {
    await model.close();
  }
});
