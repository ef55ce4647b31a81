/**
 * The architectures beyond llama / qwen2 against llama.cpp (node-llama-cpp's prebuilt CPU binary): random-weight
 * GGUFs written with llama.cpp's metadata keys and tensor names (test/helpers/llama-cpp.ts), real vocabularies from
 * ../shared/data/tokenizer-tests, prompts as token ids. Our reference backend reads the same file; the next-token
 * distributions must agree (top-5 ids identical, probabilities within 1e-3) for prompts up to 150 tokens, i.e. far
 * beyond the 16-token sliding windows of the gemma cases. Some prompts run through our cache in several calls (a
 * chunk, then single tokens), so the window mask is exercised across calls as well as within one. The ort backend
 * (F32 cache) runs the same prompts and is held to llama.cpp with the same bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVCache } from '../../src/cache/kv-cache.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { gguf, type MetadataInput } from '../../src/formats/gguf-writer.js';
import type { ModelConfig } from '../../src/core/model-config.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { createOrtBackend } from '../../src/model/ort-backend.js';
import { Rng } from '../../src/util/rng.js';
import { llamaCpp, llamaCppNextLogits, smallConfig, softmax, topK, vocabularyOf, writeRandomModelGGUF, type RandomGGUFOptions } from '../helpers/llama-cpp.js';
import { sharedData } from '../helpers/shared-data.js';

interface Case {
  name: string;
  vocabFile: string;
  config: Partial<ModelConfig>;
  options?: RandomGGUFOptions;
  /** What describeModel must read from the file (checked field by field). */
  expect: Partial<ModelConfig>;
}

const CONTEXT = 512;

const CASES: Case[] = [
  {
    name: 'qwen3: q/k norms, head_dim 16 with 8 heads over hidden 64, GQA 4, tied, gpt-2 vocabulary',
    vocabFile: 'tokenizer-tests/ggml-vocab-gpt-2.gguf',
    config: { architecture: 'qwen3', embeddingLength: 64, headCount: 8, headCountKv: 2, headDim: 16, blockCount: 2, tiedEmbeddings: true, attentionBias: false, qkNorm: true, ropeFreqBase: 1000000, rmsNormEps: 1e-6 },
    expect: { ropeStyle: 'neox', headDim: 16, qkNorm: true, tiedEmbeddings: true },
  },
  {
    name: 'gemma2: sqrt(E) embeddings, GeGLU, post-norms, soft-capping 20/15, window 16 on alternating layers, 4 layers',
    vocabFile: 'tokenizer-tests/ggml-vocab-llama-spm.gguf',
    config: { architecture: 'gemma2', embeddingLength: 64, headCount: 4, headCountKv: 2, headDim: 32, blockCount: 4, tiedEmbeddings: true, postNorms: true, rmsNormEps: 1e-6 },
    options: {
      metadata: {
        'gemma2.attention.sliding_window': gguf.u32(16),
        'gemma2.attn_logit_softcapping': gguf.f32(20),
        'gemma2.final_logit_softcapping': gguf.f32(15),
      },
    },
    expect: {
      ropeStyle: 'neox', postNorms: true, ffnActivation: 'gelu', embeddingScale: 8, attentionScale: 1 / Math.sqrt(32), attnLogitSoftcap: 20, finalLogitSoftcap: 15,
      slidingWindow: { size: 16, layers: [true, false, true, false] },
    },
  },
  {
    name: 'gemma3: q/k norms, 5 local : 1 global, local RoPE base 10000, global base 1e6 with linear ×8, window 16, 6 layers',
    vocabFile: 'tokenizer-tests/ggml-vocab-llama-spm.gguf',
    config: {
      architecture: 'gemma3', embeddingLength: 64, headCount: 4, headCountKv: 1, headDim: 16, blockCount: 6, tiedEmbeddings: true, qkNorm: true, postNorms: true,
      ropeFreqBase: 1000000, ropeScaling: { type: 'linear', factor: 8 }, rmsNormEps: 1e-6,
    },
    options: { metadata: { 'gemma3.attention.sliding_window': gguf.u32(16), 'gemma3.rope.freq_base_swa': gguf.f32(10000) } },
    expect: {
      qkNorm: true, postNorms: true, slidingWindow: { size: 16, layers: [true, true, true, true, true, false] },
      ropeLocal: { freqBase: 10000, scaling: { type: 'none' } }, ropeScaling: { type: 'linear', factor: 8 },
    },
  },
  {
    name: 'gemma3: per-layer sliding_window_pattern array, final soft-capping, untied output, window 8',
    vocabFile: 'tokenizer-tests/ggml-vocab-llama-spm.gguf',
    config: { architecture: 'gemma3', embeddingLength: 32, headCount: 2, headCountKv: 2, headDim: 32, blockCount: 3, tiedEmbeddings: false, qkNorm: true, postNorms: true, rmsNormEps: 1e-6 },
    options: {
      metadata: {
        'gemma3.attention.sliding_window': gguf.u32(8),
        'gemma3.attention.sliding_window_pattern': gguf.arr('bool', [false, true, true]),
        'gemma3.final_logit_softcapping': gguf.f32(10),
      },
    },
    expect: { slidingWindow: { size: 8, layers: [false, true, true] }, finalLogitSoftcap: 10, tiedEmbeddings: false },
  },
  {
    name: 'phi3: fused attn_qkv and gate/up, LongRoPE (long factors, attn_factor 1.2), partial rotary 12 of 16, sliding_window ignored',
    vocabFile: 'tokenizer-tests/ggml-vocab-phi-3.gguf',
    config: { architecture: 'phi3', embeddingLength: 64, headCount: 4, headCountKv: 4, headDim: 16, ropeDimensionCount: 12, blockCount: 2, tiedEmbeddings: false },
    options: {
      fusedQkv: true,
      fusedGateUp: true,
      longRopeFactors: true,
      metadata: {
        'phi3.rope.scaling.attn_factor': gguf.f32(1.2),
        'phi3.rope.scaling.original_context_length': gguf.u32(256),
        'phi3.attention.sliding_window': gguf.u32(16),
      },
    },
    expect: { ropeStyle: 'neox', ropeDimensionCount: 12, ropeScaling: { type: 'longrope', attnFactor: 1.2, originalContextLength: 256 } },
  },
  {
    name: 'phi3: LongRoPE short factors (original context 1024 > 512), GQA 2',
    vocabFile: 'tokenizer-tests/ggml-vocab-phi-3.gguf',
    config: { architecture: 'phi3', embeddingLength: 64, headCount: 4, headCountKv: 2, blockCount: 2, tiedEmbeddings: false },
    options: {
      fusedQkv: true,
      fusedGateUp: true,
      longRopeFactors: true,
      metadata: { 'phi3.rope.scaling.attn_factor': gguf.f32(1.1), 'phi3.rope.scaling.original_context_length': gguf.u32(1024) },
    },
    expect: { ropeScaling: { type: 'longrope', attnFactor: 1.1, originalContextLength: 1024 } },
  },
  {
    name: 'llama (Mistral-style) with llama.attention.sliding_window 16: llama.cpp ignores it, so do we',
    vocabFile: 'tokenizer-tests/ggml-vocab-llama-spm.gguf',
    config: { architecture: 'llama', embeddingLength: 64, headCount: 4, headCountKv: 2, blockCount: 2, tiedEmbeddings: false },
    options: { metadata: { 'llama.attention.sliding_window': gguf.u32(16) } },
    expect: { ropeStyle: 'normal' },
  },
];

/** Numbers rounded to float32, recursively: metadata floats are stored as f32. */
function f32(v: unknown): unknown {
  if (typeof v === 'number') return Math.fround(v);
  if (Array.isArray(v)) return v.map(f32);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, f32(x)]));
  return v;
}

for (const [ci, c] of CASES.entries()) {
  const vocabPath = sharedData(c.vocabFile);
  test(`llama.cpp agrees with both backends: ${c.name}`, { skip: vocabPath ? false : `needs ../shared/data/${c.vocabFile}` }, async (t) => {
    const llama = await llamaCpp();
    if (!llama) return t.skip('node-llama-cpp is not installed');
    const dir = mkdtempSync(join(tmpdir(), 'kvmerger-arch-'));
    try {
      const path = join(dir, 'model.gguf');
      const vocab = vocabularyOf(vocabPath!);
      const config = smallConfig({ vocabSize: vocab.size, feedForwardLength: 96, contextLength: CONTEXT, ...c.config });
      writeRandomModelGGUF(path, config, vocab.meta as Map<string, MetadataInput>, 2000 + ci, c.options);
      const weights = openModelFile(path);
      try {
        const read = weights.config;
        assert.equal(read.architecture, config.architecture);
        for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(f32(read[k as keyof ModelConfig]), f32(v), `config.${k}`);
        if (config.architecture === 'llama') assert.equal(read.slidingWindow, undefined);
        for (const k of Object.keys(config) as (keyof ModelConfig)[]) if (k !== 'name' && !(k in c.expect)) assert.deepEqual(f32(read[k]), f32(config[k]), `config.${k} as written`);
        const rng = new Rng(300 + ci);
        const prompts = [1, 5, 17, 40, 64, 150].map((n) => Array.from({ length: n }, () => rng.int(config.vocabSize)));
        const theirs = await llamaCppNextLogits(llama, path, prompts, CONTEXT);
        const ort = await createOrtBackend(weights, { threads: 1, chunk: 64 });
        let worstProb = 0;
        let worstLogit = 0;
        for (const [pi, prompt] of prompts.entries()) for (const ours of [new ReferenceBackend(weights), ort]) {
          assert.equal(theirs[pi]!.length, read.vocabSize, 'llama.cpp returned every logit');
          const cache = new KVCache(read.blockCount, read.headCountKv, read.headDim);
          // odd prompts: a chunk, then the last three tokens one call each
          const cuts = pi % 2 === 1 && prompt.length > 4 ? [prompt.length - 3, prompt.length - 2, prompt.length - 1, prompt.length] : [prompt.length];
          let from = 0;
          let mine: Float32Array | undefined;
          for (const to of cuts) {
            mine = (await ours.forward(Int32Array.from(prompt.slice(from, to)), cache, { logits: 'last' })).logits;
            from = to;
          }
          const pt = softmax(theirs[pi]!);
          const pm = softmax(mine!);
          assert.deepEqual(topK(pm, 5), topK(pt, 5), `${ours.name}: top-5 for a ${prompt.length}-token prompt`);
          for (let i = 0; i < pm.length; i++) {
            worstProb = Math.max(worstProb, Math.abs(pm[i]! - pt[i]!));
            worstLogit = Math.max(worstLogit, Math.abs(mine![i]! - theirs[pi]![i]!));
          }
        }
        await ort.dispose();
        t.diagnostic(`max |Δp| = ${worstProb.toExponential(2)}, max |Δlogit| = ${worstLogit.toExponential(2)} over ${prompts.length} prompts, both backends`);
        assert.ok(worstProb < 1e-3, `probabilities differ by ${worstProb}`);
      } finally {
        weights.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
