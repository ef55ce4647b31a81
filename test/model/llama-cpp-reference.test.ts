/**
 * Outside reference 2: llama.cpp (node-llama-cpp's prebuilt CPU binary). Random-weight GGUFs written by our GGUF
 * writer — `llama` with GQA and untied output, `qwen2` with q/k/v biases and tied output — with real vocabularies from
 * ../shared/data/tokenizer-tests; the next-token distributions of our reference backend (reading the same file) and
 * of llama.cpp must agree: top-5 ids identical and probabilities within 1e-3. Prompts go in as token ids, so
 * tokenisation cannot hide a difference. This catches RoPE layout and weight-order mistakes that self-consistency
 * tests cannot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVCache } from '../../src/cache/kv-cache.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import type { ModelConfig } from '../../src/core/model-config.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { Rng } from '../../src/util/rng.js';
import { llamaCpp, smallConfig, softmax, topK, vocabularyOf, writeRandomModelGGUF } from '../helpers/llama-cpp.js';
import { sharedData } from '../helpers/shared-data.js';

interface Case {
  name: string;
  vocabFile: string;
  config: Partial<ModelConfig>;
  /** Write `rope_freqs.weight` (per-frequency divisors, as Llama 3.1 GGUFs carry). */
  ropeFreqs?: boolean;
}

const CASES: Case[] = [
  {
    name: 'llama, GQA 4 (8 query heads over 2 KV heads), 3 layers, untied, llama-spm vocabulary',
    vocabFile: 'tokenizer-tests/ggml-vocab-llama-spm.gguf',
    config: { architecture: 'llama', headCount: 8, headCountKv: 2, embeddingLength: 64, blockCount: 3, tiedEmbeddings: false },
  },
  {
    name: 'qwen2, q/k/v biases, GQA 2, 2 layers, tied, gpt-2 vocabulary',
    vocabFile: 'tokenizer-tests/ggml-vocab-gpt-2.gguf',
    config: { architecture: 'qwen2', headCount: 4, headCountKv: 2, embeddingLength: 64, blockCount: 2, tiedEmbeddings: true, ropeFreqBase: 1000000, rmsNormEps: 1e-6 },
  },
  {
    name: 'llama, no GQA, tied, linear RoPE scaling ×2 and rope_freqs divisors, llama-spm vocabulary',
    vocabFile: 'tokenizer-tests/ggml-vocab-llama-spm.gguf',
    config: { architecture: 'llama', headCount: 4, headCountKv: 4, embeddingLength: 64, blockCount: 2, tiedEmbeddings: true, ropeScaling: { type: 'linear', factor: 2 } },
    ropeFreqs: true,
  },
];

/** A random model of the case's shape with the vocabulary's tokenizer, written as llama.cpp names it (test/helpers). */
function writeRandomGGUF(path: string, vocabPath: string, over: Partial<ModelConfig>, seed: number, ropeFreqs = false): ModelConfig {
  const { meta, size } = vocabularyOf(vocabPath);
  const config = smallConfig({ vocabSize: size, feedForwardLength: 96, contextLength: 512, ...over });
  // Output projection ×4 (the helper's default): a peaked next-token distribution, so 1e-3 on probabilities means something.
  writeRandomModelGGUF(path, config, meta, seed, { ropeFreqs });
  return config;
}

for (const [ci, c] of CASES.entries()) {
  const vocabPath = sharedData(c.vocabFile);
  test(`llama.cpp agrees with the reference backend: ${c.name}`, { skip: vocabPath ? false : `needs ../shared/data/${c.vocabFile}` }, async (t) => {
    const llama = await llamaCpp();
    if (!llama) return t.skip('node-llama-cpp is not installed');
    const dir = mkdtempSync(join(tmpdir(), 'kvmerger-llamacpp-'));
    try {
      const path = join(dir, 'model.gguf');
      const config = writeRandomGGUF(path, vocabPath!, c.config, 1000 + ci, c.ropeFreqs);
      const weights = openModelFile(path);
      assert.equal(weights.config.architecture, config.architecture);
      assert.equal(weights.config.ropeStyle, config.architecture === 'qwen2' ? 'neox' : 'normal');
      assert.deepEqual(weights.config.ropeScaling, config.ropeScaling);
      assert.equal(weights.has('rope_freqs.weight'), c.ropeFreqs === true);
      const ours = new ReferenceBackend(weights);
      const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
      // F32 KV cache and no flash attention: llama.cpp's defaults (F16 cache) would round keys and values to 11 bits.
      const context = await model.createContext({
        contextSize: 512,
        batchSize: 512,
        threads: 1,
        sequences: 1,
        flashAttention: false,
        experimentalKvCacheKeyType: 'F32',
        experimentalKvCacheValueType: 'F32',
      });
      const rng = new Rng(77 + ci);
      const prompts = [1, 5, 17, 64, 150].map((n) => Array.from({ length: n }, () => rng.int(config.vocabSize)));
      let worstProb = 0;
      let worstLogit = 0;
      for (const prompt of prompts) {
        const sequence = context.getSequence();
        try {
          const input = prompt.map((id, i) => (i === prompt.length - 1 ? ([id, { generateNext: { logits: true } }] as const) : id)) as Parameters<typeof sequence.controlledEvaluate>[0];
          const out = await sequence.controlledEvaluate(input);
          const map = out[prompt.length - 1]!.next.logits!;
          assert.equal(map.size, config.vocabSize, 'llama.cpp returned every logit');
          const theirs = new Float64Array(config.vocabSize);
          for (const [id, v] of map) theirs[id as number] = v;
          const cache = new KVCache(config.blockCount, config.headCountKv, config.headDim);
          const mine = (await ours.forward(Int32Array.from(prompt), cache, { logits: 'last' })).logits;
          const pt = softmax(theirs);
          const pm = softmax(mine);
          assert.deepEqual(topK(pm, 5), topK(pt, 5), `top-5 for a ${prompt.length}-token prompt`);
          for (let i = 0; i < pm.length; i++) {
            worstProb = Math.max(worstProb, Math.abs(pm[i]! - pt[i]!));
            worstLogit = Math.max(worstLogit, Math.abs(mine[i]! - theirs[i]!));
          }
        } finally {
          sequence.dispose();
        }
      }
      t.diagnostic(`max |Δp| = ${worstProb.toExponential(2)}, max |Δlogit| = ${worstLogit.toExponential(2)} over ${prompts.length} prompts`);
      assert.ok(worstProb < 1e-3, `probabilities differ by ${worstProb}`);
      await context.dispose();
      await model.dispose();
      weights.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
