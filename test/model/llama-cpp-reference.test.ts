/**
 * Outside reference 2: llama.cpp (node-llama-cpp's prebuilt CPU binary). Random-weight GGUFs written by our GGUF
 * writer — `llama` with GQA and untied output, `qwen2` with q/k/v biases and tied output — with real vocabularies from
 * ../shared/data/tokenizer-tests; the next-token distributions of our reference backend (reading the same file) and
 * of llama.cpp must agree: top-5 ids identical and probabilities within 1e-3. Prompts go in as token ids, so
 * tokenisation cannot hide a difference. This catches RoPE layout and weight-order mistakes that self-consistency
 * tests cannot.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVCache } from '../../src/cache/kv-cache.js';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { gguf, typedMetadata, writeGGUF, type GGUFTensorInput } from '../../src/formats/gguf-writer.js';
import type { ModelConfig } from '../../src/core/model-config.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { Rng } from '../../src/util/rng.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { sharedData } from '../helpers/shared-data.js';

type LlamaModule = typeof import('node-llama-cpp');
type Llama = Awaited<ReturnType<LlamaModule['getLlama']>>;
let llamaPromise: Promise<Llama | undefined> | undefined;
/** llama.cpp's CPU build, loaded once for the file; undefined when node-llama-cpp is not installed. */
function llamaCpp(): Promise<Llama | undefined> {
  llamaPromise ??= import('node-llama-cpp').then(
    (lc) => lc.getLlama({ gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: lc.LlamaLogLevel.error }),
    () => undefined,
  );
  return llamaPromise;
}
after(async () => {
  const llama = await llamaPromise;
  await llama?.dispose();
});

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

/** Scale of the output projection: makes the next-token distribution peaked, so 1e-3 on probabilities means something. */
const OUTPUT_SCALE = 4;

function writeRandomGGUF(path: string, vocabPath: string, over: Partial<ModelConfig>, seed: number, ropeFreqs = false): ModelConfig {
  const vocab = openGGUF(vocabPath);
  let tokenizerMeta: Map<string, ReturnType<typeof gguf.str>>;
  let vocabSize: number;
  try {
    tokenizerMeta = new Map([...typedMetadata(vocab)].filter(([k]) => k.startsWith('tokenizer.')));
    vocabSize = (vocab.metadata.get('tokenizer.ggml.tokens') as string[]).length;
  } finally {
    vocab.close();
  }
  const config = smallConfig({ vocabSize, feedForwardLength: 96, contextLength: 512, ...over });
  const ws = randomWeightSource(config, seed, { ropeFreqs });
  const arch = config.architecture;
  const meta = new Map<string, ReturnType<typeof gguf.str>>([
    ['general.architecture', gguf.str(arch)],
    ['general.name', gguf.str(`random-${arch}`)],
    [`${arch}.context_length`, gguf.u32(config.contextLength)],
    [`${arch}.embedding_length`, gguf.u32(config.embeddingLength)],
    [`${arch}.block_count`, gguf.u32(config.blockCount)],
    [`${arch}.feed_forward_length`, gguf.u32(config.feedForwardLength)],
    [`${arch}.attention.head_count`, gguf.u32(config.headCount)],
    [`${arch}.attention.head_count_kv`, gguf.u32(config.headCountKv)],
    [`${arch}.rope.dimension_count`, gguf.u32(config.ropeDimensionCount)],
    [`${arch}.rope.freq_base`, gguf.f32(config.ropeFreqBase)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(config.rmsNormEps)],
    ...tokenizerMeta,
  ]);
  if (config.ropeScaling.type === 'linear') {
    meta.set(`${arch}.rope.scaling.type`, gguf.str('linear'));
    meta.set(`${arch}.rope.scaling.factor`, gguf.f32(config.ropeScaling.factor));
  }
  const names = ['token_embd.weight', 'output_norm.weight', ...(config.tiedEmbeddings ? [] : ['output.weight']), ...(ropeFreqs ? ['rope_freqs.weight'] : [])];
  for (let b = 0; b < config.blockCount; b++) {
    for (const p of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']) names.push(`blk.${b}.${p}.weight`);
    if (config.attentionBias) for (const p of ['attn_q', 'attn_k', 'attn_v']) names.push(`blk.${b}.${p}.bias`);
  }
  const tensors: GGUFTensorInput[] = names.map((name) => {
    let data = ws.get(name);
    if (name === 'output.weight' || (config.tiedEmbeddings && name === 'token_embd.weight')) {
      // tied: the embedding doubles as the output projection; its rows are N(0, 1) already
      const s = name === 'output.weight' ? OUTPUT_SCALE : 1;
      data = data.map((v) => v * s);
    }
    return { name, dims: [...ws.shapeOf(name)].reverse(), type: 'F32', data };
  });
  writeGGUF(path, { metadata: meta, tensors });
  return config;
}

function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const p = new Float64Array(logits.length);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += p[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < p.length; i++) p[i]! /= s;
  return p;
}

function topK(p: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: p.length }, (_, i) => i)
    .sort((a, b) => p[b]! - p[a]! || a - b)
    .slice(0, k);
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
