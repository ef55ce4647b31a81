/**
 * `kvmerger convert` against llama.cpp (node-llama-cpp's CPU build): random Hugging Face folders of every supported
 * architecture, written by the test, converted to GGUF; llama.cpp loads the file, tokenises text as the folder's
 * tokenizer.json does, and its next-token distributions agree with kvmerger's reference backend reading the folder
 * itself (top-5 identical, probabilities within 1e-3; Q8_0: top-1 and 5e-3, llama.cpp quantising activations too),
 * along a greedy continuation (so the greedy output is the same).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVCache } from '../../src/cache/kv-cache.js';
import { convertHFFolder } from '../../src/formats/hf-convert.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';
import { Rng } from '../../src/util/rng.js';
import { writeRandomHFFolder, type HFFolderSpec } from '../helpers/hf-folder.js';
import { llamaCpp, llamaCppNextLogits, softmax, topK } from '../helpers/llama-cpp.js';

const CASES: { name: string; spec: HFFolderSpec; type: 'f32' | 'q8_0' | 'q4_k_m' }[] = [
  { name: 'llama, BF16, GQA 4, untied, 2 shards', spec: { arch: 'llama', dtype: 'BF16', heads: 8, kvHeads: 2, shards: 2 }, type: 'f32' },
  { name: 'llama, llama3 RoPE scaling (rope_freqs from config.json)', spec: { arch: 'llama', config: { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } } }, type: 'f32' },
  { name: 'llama, linear RoPE scaling ×2', spec: { arch: 'llama', config: { rope_scaling: { type: 'linear', factor: 2 } } }, type: 'f32' },
  { name: 'qwen2, q8_0 (quantised at load and by convert)', spec: { arch: 'qwen2', outputScale: 1 }, type: 'q8_0' },
  { name: 'llama, q4_k_m (Q4_K / Q6_K mix, made at load and by convert)', spec: { arch: 'llama', hidden: 256, ffn: 256, layers: 3, outputScale: 1 }, type: 'q4_k_m' },
  { name: 'qwen2, biases, tied', spec: { arch: 'qwen2', tied: true }, type: 'f32' },
  { name: 'qwen3, q/k norms, head_dim 24', spec: { arch: 'qwen3', headDim: 24 }, type: 'f32' },
  { name: 'gemma2, norms 1 + w, soft-caps, window 8', spec: { arch: 'gemma2', dtype: 'BF16' }, type: 'f32' },
  { name: 'gemma3, q/k norms, window 8', spec: { arch: 'gemma3', layers: 7 }, type: 'f32' },
  { name: 'phi3, fused qkv and gate/up', spec: { arch: 'phi3' }, type: 'f32' },
];

for (const [ci, c] of CASES.entries()) {
  test(`llama.cpp runs kvmerger convert's GGUF as kvmerger runs the folder: ${c.name}`, async (t) => {
    const llama = await llamaCpp();
    if (!llama) return t.skip('node-llama-cpp is not installed');
    const dir = mkdtempSync(join(tmpdir(), 'kvmerger-hf-llamacpp-'));
    try {
      const folder = join(dir, `model-${ci}`);
      writeRandomHFFolder(folder, c.spec, 500 + ci);
      const out = join(dir, 'model.gguf');
      convertHFFolder(folder, out, c.type);
      // the folder, quantised at load the same way when the file is quantised
      const weights = openModelFile(folder, c.type !== 'f32' ? { quantize: c.type } : {});
      const config = weights.config;
      const ours = new ReferenceBackend(weights, { kvType: 'f32' });
      const next = async (prompt: number[]) => {
        const cache = new KVCache(config.blockCount, config.headCountKv, config.headDim);
        return (await ours.forward(Int32Array.from(prompt), cache, { logits: 'last' })).logits;
      };
      const rng = new Rng(900 + ci);
      const prompt = Array.from({ length: 20 }, () => rng.int(config.vocabSize));
      // a greedy continuation of 6 tokens by kvmerger, and every prefix's distribution from both
      const prefixes: number[][] = [];
      const seq = [...prompt];
      const mine: Float32Array[] = [];
      for (let s = 0; s < 6; s++) {
        const l = await next(seq);
        prefixes.push([...seq]);
        mine.push(l);
        seq.push(topK(l, 1)[0]!);
      }
      const theirs = await llamaCppNextLogits(llama, out, prefixes, 256);
      let worst = 0;
      for (let i = 0; i < prefixes.length; i++) {
        const pm = softmax(mine[i]!);
        const pt = softmax(theirs[i]!);
        if (c.type === 'f32') assert.deepEqual(topK(pt, 5), topK(pm, 5), `top-5 after ${prefixes[i]!.length} tokens`);
        else {
          // llama.cpp's quantised products quantise the activations to 8 bits too: the top-1 must agree unless it is a near tie
          const [a, b] = topK(pm, 2);
          if (pm[a!]! - pm[b!]! > 0.02) assert.equal(topK(pt, 1)[0], a, `top-1 after ${prefixes[i]!.length} tokens`);
        }
        for (let k = 0; k < pm.length; k++) worst = Math.max(worst, Math.abs(pm[k]! - pt[k]!));
      }
      t.diagnostic(`max |Δp| = ${worst.toExponential(2)} over ${prefixes.length} greedy steps`);
      assert.ok(worst < (c.type === 'f32' ? 1e-3 : 5e-3), `probabilities differ by ${worst}`);
      // llama.cpp tokenises as the folder's tokenizer.json does
      const model = await llama.loadModel({ modelPath: out, gpuLayers: 0 });
      const hf = loadTokenizer(join(folder, 'tokenizer.json'));
      for (const text of ['hello world and the ending', "I've 12345 <|im_start|>x\n\n y 🦙"]) {
        assert.deepEqual([...model.tokenize(text, true)].map(Number), hf.encode(text, { addSpecial: false }), JSON.stringify(text));
      }
      await model.dispose();
      weights.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
