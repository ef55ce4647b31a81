/**
 * The built-in model against the framework it was trained in: test/fixtures/default-model-logits.json holds PyTorch's
 * token ids and next-token logits for a few prompts (tools/train/make_logits_fixture.py). Our tokenizer must give the
 * same ids, our engine the same logits, and llama.cpp (when node-llama-cpp is installed) must load the file and
 * tokenize the same way. Skips until the model and its fixture are committed.
 * Paths can be overridden with KVMERGER_DEFAULT_MODEL and KVMERGER_DEFAULT_FIXTURE (to check a candidate export).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KVCache } from '../../src/cache/kv-cache.js';
import { loadModel } from '../../src/model/load-model.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelPath = process.env.KVMERGER_DEFAULT_MODEL ?? join(root, 'models', 'kvmerger-default.gguf');
const fixturePath = process.env.KVMERGER_DEFAULT_FIXTURE ?? join(root, 'test', 'fixtures', 'default-model-logits.json');
const skip = !existsSync(modelPath) ? `no ${modelPath} yet` : !existsSync(fixturePath) ? `no ${fixturePath} yet` : false;

interface Fixture {
  step: number;
  cases: { text: string; ids: number[]; top_ids: number[]; top_logits: number[]; last_logits?: number[] }[];
}

test('default model: tokenizer ids and engine logits match PyTorch', { skip }, async (t) => {
  const fx = JSON.parse(readFileSync(fixturePath, 'utf8')) as Fixture;
  // f32 cache: the comparison with PyTorch is exact to 1e-5, below f16's rounding.
  const m = await loadModel(modelPath, { backend: 'ort', threads: 2, kvType: 'f32' });
  try {
    let worst = 0;
    for (const c of fx.cases) {
      assert.deepEqual(m.tokenizer.encode(c.text, { addSpecial: true }), c.ids, `token ids of ${JSON.stringify(c.text.slice(0, 30))}`);
      const cache = new KVCache(m.config.blockCount, m.config.headCountKv, m.config.headDim, c.ids.length);
      const { logits } = await m.backend.forward(Int32Array.from(c.ids), cache, { logits: 'last' });
      const ref = c.last_logits ?? [];
      c.top_ids.forEach((id, i) => (worst = Math.max(worst, Math.abs(logits[id]! - c.top_logits[i]!))));
      ref.forEach((v, i) => (worst = Math.max(worst, Math.abs(logits[i]! - v))));
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
      assert.equal(best, c.top_ids[0], `argmax for ${JSON.stringify(c.text.slice(0, 30))}`);
    }
    t.diagnostic(`max |Δlogit| ${worst.toExponential(2)} over ${fx.cases.length} prompts (fixture of step ${fx.step})`);
    assert.ok(worst < 1e-3, `logits differ from PyTorch by ${worst}`);
  } finally {
    await m.close();
  }
});

test('default model: llama.cpp loads it and tokenizes like PyTorch', { skip }, async (t) => {
  let lc: typeof import('node-llama-cpp');
  try {
    lc = await import('node-llama-cpp');
  } catch {
    return t.skip('node-llama-cpp is not installed');
  }
  const llama = await lc.getLlama({ gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: lc.LlamaLogLevel.error });
  try {
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    const fx = JSON.parse(readFileSync(fixturePath, 'utf8')) as Fixture;
    for (const c of fx.cases) {
      const ids = model.tokenize(c.text, false).map(Number);
      assert.deepEqual(ids, c.ids.slice(1), `llama.cpp token ids of ${JSON.stringify(c.text.slice(0, 30))}`);
    }
    assert.equal(Number(model.tokens.bos), fx.cases[0]!.ids[0], 'BOS id');
    await model.dispose();
  } finally {
    await llama.dispose();
  }
});
