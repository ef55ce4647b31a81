/**
 * Quantised files against llama.cpp (node-llama-cpp's CPU build): a random llama GGUF whose every matrix is stored
 * in one quantised type (random valid blocks), with a real vocabulary from ../shared/data/tokenizer-tests. Our fast
 * path (weights packed for MatMulNBits) and llama.cpp read the same bytes; their next-token distributions must agree.
 * This anchors the packing to llama.cpp's own reading of each block type, not only to our dequantiser. llama.cpp
 * quantises the activations of quantised products to 8 bits, so the bound is looser than for F32 files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVCache } from '../../src/cache/kv-cache.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { gguf, writeGGUF, type GGUFTensorInput, type MetadataInput } from '../../src/formats/gguf-writer.js';
import { createOrtBackend } from '../../src/model/ort-backend.js';
import { MATMUL_NBITS_TYPES } from '../../src/model/ort/matmul-nbits-packing.js';
import { Rng } from '../../src/util/rng.js';
import { llamaCpp, llamaCppNextLogits, softmax, vocabularyOf } from '../helpers/llama-cpp.js';
import { randomBlocks } from '../helpers/random-quantized.js';
import { sharedData } from '../helpers/shared-data.js';

const VOCAB = 'tokenizer-tests/ggml-vocab-llama-spm.gguf';
const E = 256;
const F = 512;
const LAYERS = 2;
const HEADS = 4;
const KV_HEADS = 2;

function writeQuantizedModel(path: string, vocabPath: string, type: string, seed: number): number {
  const { meta: tokenizerMeta, size: vocabSize } = vocabularyOf(vocabPath);
  const rng = new Rng(seed);
  const meta = new Map<string, MetadataInput>([
    ['general.architecture', gguf.str('llama')],
    ['llama.context_length', gguf.u32(512)],
    ['llama.embedding_length', gguf.u32(E)],
    ['llama.block_count', gguf.u32(LAYERS)],
    ['llama.feed_forward_length', gguf.u32(F)],
    ['llama.attention.head_count', gguf.u32(HEADS)],
    ['llama.attention.head_count_kv', gguf.u32(KV_HEADS)],
    ['llama.rope.dimension_count', gguf.u32(E / HEADS)],
    ['llama.rope.freq_base', gguf.f32(10000)],
    ['llama.attention.layer_norm_rms_epsilon', gguf.f32(1e-5)],
    ...tokenizerMeta,
  ]);
  const D = E / HEADS;
  const matrix = (name: string, rows: number, cols: number): GGUFTensorInput => ({ name, dims: [cols, rows], type, data: randomBlocks(type, rows * cols, rng) });
  const norm = (name: string): GGUFTensorInput => ({ name, dims: [E], type: 'F32', data: Float32Array.from({ length: E }, () => 0.8 + 0.4 * rng.next()) });
  const tensors: GGUFTensorInput[] = [matrix('token_embd.weight', vocabSize, E), norm('output_norm.weight'), matrix('output.weight', vocabSize, E)];
  for (let b = 0; b < LAYERS; b++) {
    const p = `blk.${b}.`;
    tensors.push(norm(p + 'attn_norm.weight'), matrix(p + 'attn_q.weight', HEADS * D, E), matrix(p + 'attn_k.weight', KV_HEADS * D, E));
    tensors.push(matrix(p + 'attn_v.weight', KV_HEADS * D, E), matrix(p + 'attn_output.weight', E, HEADS * D), norm(p + 'ffn_norm.weight'));
    tensors.push(matrix(p + 'ffn_gate.weight', F, E), matrix(p + 'ffn_up.weight', F, E), matrix(p + 'ffn_down.weight', E, F));
  }
  writeGGUF(path, { metadata: meta, tensors });
  return vocabSize;
}

const argmax = (p: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
};

const vocabPath = sharedData(VOCAB);
for (const [ti, type] of MATMUL_NBITS_TYPES.entries()) {
  test(`llama.cpp and the packed fast path read ${type} files alike`, { skip: vocabPath ? false : `needs ../shared/data/${VOCAB}` }, async (t) => {
    const llama = await llamaCpp();
    if (!llama) return t.skip('node-llama-cpp is not installed');
    const dir = mkdtempSync(join(tmpdir(), 'kvmerger-llamacpp-q-'));
    try {
      const path = join(dir, 'model.gguf');
      writeQuantizedModel(path, vocabPath!, type, 300 + ti);
      const file = openModelFile(path);
      const ours = await createOrtBackend(file, { threads: 1, precision: 'int8' });
      const rng = new Rng(9 + ti);
      const prompts = [1, 9, 40].map((n) => Array.from({ length: n }, () => rng.int(file.config.vocabSize)));
      const theirs = await llamaCppNextLogits(llama, path, prompts, 512);
      let worst = 0;
      for (const [i, prompt] of prompts.entries()) {
        const cache = new KVCache(file.config.blockCount, file.config.headCountKv, file.config.headDim);
        const pm = softmax((await ours.forward(Int32Array.from(prompt), cache, { logits: 'last' })).logits);
        const pt = softmax(theirs[i]!);
        // Top-1 must agree unless llama.cpp itself sees a near-tie (random models can be almost flat).
        const [p1, p2] = [...pt].sort((a, b) => b - a);
        if (p1! - p2! > 0.02) assert.equal(argmax(pm), argmax(pt), `${type}: top-1 for a ${prompt.length}-token prompt`);
        for (let j = 0; j < pm.length; j++) worst = Math.max(worst, Math.abs(pm[j]! - pt[j]!));
      }
      t.diagnostic(`${type}: max |Δp| = ${worst.toExponential(2)}`);
      assert.ok(worst < 5e-3, `${type}: probabilities differ by ${worst}`);
      await ours.dispose();
      file.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
