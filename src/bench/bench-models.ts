import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { openGGUF } from '../formats/gguf-reader.js';
import { gguf, typedMetadata, writeGGUF, type GGUFTensorInput, type MetadataInput } from '../formats/gguf-writer.js';
import { quantize } from '../formats/quantize.js';
import type { ModelConfig } from '../core/model-config.js';
import { KvError } from '../util/errors.js';

/** Weight types the bench writes random models in. */
export const BENCH_WEIGHT_TYPES = ['f32', 'f16', 'q8_0'] as const;
export type BenchWeightType = (typeof BENCH_WEIGHT_TYPES)[number];

/** A model the bench runs: a file, and what the table calls it. */
export interface BenchModelFile {
  /** 'smollm2-135m', 'qwen2.5-0.5b', 'default' or the file's name. */
  model: string;
  /** 'f32' | 'f16' | 'q8_0' for random models; the file's main tensor type otherwise. */
  weights: string;
  path: string;
  /** Why a model could not be used (then `path` is empty). */
  skipped?: string;
}

/** Qwen2.5-0.5B's shape (its config.json, as the issue states it). */
export const QWEN25_05B: ModelConfig = {
  architecture: 'qwen2',
  name: 'qwen2.5-0.5b',
  vocabSize: 151936,
  embeddingLength: 896,
  feedForwardLength: 4864,
  blockCount: 24,
  headCount: 14,
  headCountKv: 2,
  headDim: 64,
  contextLength: 32768,
  ropeFreqBase: 1000000,
  ropeStyle: 'neox',
  ropeDimensionCount: 64,
  ropeScaling: { type: 'none' },
  rmsNormEps: 1e-6,
  tiedEmbeddings: true,
  attentionBias: true,
};

/**
 * The built-in model's shape (models/kvmerger-default.gguf: Llama, dim 256, 6 layers, 4 query / 2 KV heads of 64,
 * FFN 704, vocabulary 4096) with random weights and a context of 8192, so 8k-token sessions fit (bench name
 * `default-shape`).
 */
export const DEFAULT_SHAPE_8K: ModelConfig = {
  architecture: 'llama',
  name: 'default-shape',
  vocabSize: 4096,
  embeddingLength: 256,
  feedForwardLength: 704,
  blockCount: 6,
  headCount: 4,
  headCountKv: 2,
  headDim: 64,
  contextLength: 8192,
  ropeFreqBase: 50000,
  ropeStyle: 'normal',
  ropeDimensionCount: 64,
  ropeScaling: { type: 'none' },
  rmsNormEps: 1e-5,
  tiedEmbeddings: true,
  attentionBias: false,
};

/** `../shared/data` (or KVMERGER_SHARED_DATA), resolved from the working directory. */
export function sharedDataRoot(): string {
  return resolve(process.env.KVMERGER_SHARED_DATA ?? '../shared/data');
}

/** The shape of a random bench model by name; undefined for names the bench does not know. */
export function benchShape(name: string): ModelConfig | undefined {
  if (name === 'qwen2.5-0.5b') return QWEN25_05B;
  if (name === 'default-shape') return DEFAULT_SHAPE_8K;
  if (name === 'smollm2-135m') {
    const path = join(sharedDataRoot(), 'models/smollm2-135m/config.json');
    if (!existsSync(path)) return undefined;
    return configFromHf(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>, 'smollm2-135m', path);
  }
  return undefined;
}

/** Where random bench models are kept between runs (KVMERGER_BENCH_CACHE, else <tmpdir>/kvmerger-bench-models). */
export function benchCacheDir(): string {
  return process.env.KVMERGER_BENCH_CACHE ?? join(tmpdir(), 'kvmerger-bench-models');
}

/**
 * The GGUF of a random model with `config`'s shape and `weights` type, written once into `dir` and reused after
 * (the name carries the shape, the type and the writer's version, so a stale file is never picked up).
 */
export function ensureRandomModel(config: ModelConfig, weights: BenchWeightType, dir = benchCacheDir(), log?: (s: string) => void): string {
  mkdirSync(dir, { recursive: true });
  const c = config;
  const tag = `${c.architecture}-l${c.blockCount}-e${c.embeddingLength}-h${c.headCount}x${c.headCountKv}-f${c.feedForwardLength}-v${c.vocabSize}`;
  const path = join(dir, `${c.name}-${tag}-${weights}-v1.gguf`);
  if (existsSync(path)) return path;
  const t0 = performance.now();
  const tmp = `${path}.${process.pid}.partial`;
  writeRandomGGUF(tmp, config, weights);
  renameSync(tmp, path);
  log?.(`wrote ${basename(path)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return path;
}

/**
 * Random weights (uniform, std 1/sqrt(fan-in); norms 1) with `config`'s shape, stored as `weights`. Tokenizer
 * metadata: a real vocabulary of the same size from ../shared/data/tokenizer-tests when there is one (llama.cpp needs
 * a vocabulary to load a file), else a synthetic SentencePiece-style one (control tokens, 256 byte tokens, fillers).
 */
export function writeRandomGGUF(path: string, config: ModelConfig, weights: BenchWeightType): void {
  const c = config;
  const arch = c.architecture;
  const meta = new Map<string, MetadataInput>([
    ['general.architecture', gguf.str(arch)],
    ['general.name', gguf.str(`random ${c.name}`)],
    [`${arch}.context_length`, gguf.u32(c.contextLength)],
    [`${arch}.embedding_length`, gguf.u32(c.embeddingLength)],
    [`${arch}.block_count`, gguf.u32(c.blockCount)],
    [`${arch}.feed_forward_length`, gguf.u32(c.feedForwardLength)],
    [`${arch}.attention.head_count`, gguf.u32(c.headCount)],
    [`${arch}.attention.head_count_kv`, gguf.u32(c.headCountKv)],
    [`${arch}.rope.dimension_count`, gguf.u32(c.ropeDimensionCount)],
    [`${arch}.rope.freq_base`, gguf.f32(c.ropeFreqBase)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(c.rmsNormEps)],
  ]);
  for (const [k, v] of vocabularyMetadata(c.vocabSize)) meta.set(k, v);

  const E = c.embeddingLength;
  const F = c.feedForwardLength;
  const q = c.headCount * c.headDim;
  const kv = c.headCountKv * c.headDim;
  // [name, row-major shape [out, in]]
  const shapes: [string, number[]][] = [['token_embd.weight', [c.vocabSize, E]], ['output_norm.weight', [E]]];
  if (!c.tiedEmbeddings) shapes.push(['output.weight', [c.vocabSize, E]]);
  for (let b = 0; b < c.blockCount; b++) {
    const p = `blk.${b}.`;
    shapes.push([p + 'attn_norm.weight', [E]], [p + 'attn_q.weight', [q, E]], [p + 'attn_k.weight', [kv, E]], [p + 'attn_v.weight', [kv, E]]);
    if (c.attentionBias) shapes.push([p + 'attn_q.bias', [q]], [p + 'attn_k.bias', [kv]], [p + 'attn_v.bias', [kv]]);
    shapes.push([p + 'attn_output.weight', [E, q]], [p + 'ffn_norm.weight', [E]]);
    shapes.push([p + 'ffn_gate.weight', [F, E]], [p + 'ffn_up.weight', [F, E]], [p + 'ffn_down.weight', [E, F]]);
  }
  const type = weights.toUpperCase();
  let seed = 0x2545f491;
  const tensors: GGUFTensorInput[] = shapes.map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith('norm.weight')) data.fill(1);
    else {
      // xorshift32, uniform in [-a, a) with std 1/sqrt(fan-in) (biases: small).
      const a = name.endsWith('.bias') ? 0.02 : Math.sqrt(3 / shape[shape.length - 1]!);
      let s = (seed = (seed * 1103515245 + 12345) >>> 0) || 1;
      for (let i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        data[i] = ((s >>> 0) / 2147483648 - 1) * a;
      }
    }
    // Matrices in the chosen type; 1-D tensors (norms, biases) stay F32 as in real files.
    const t = shape.length === 2 ? type : 'F32';
    return { name, dims: [...shape].reverse(), type: t, data: t === 'F32' ? data : quantize(data, t, name) };
  });
  writeGGUF(path, { metadata: meta, tensors });
}

function vocabularyMetadata(size: number): Map<string, MetadataInput> {
  const dir = join(sharedDataRoot(), 'tokenizer-tests');
  for (const name of ['ggml-vocab-starcoder.gguf', 'ggml-vocab-gpt-2.gguf', 'ggml-vocab-llama-spm.gguf']) {
    const p = join(dir, name);
    if (!existsSync(p)) continue;
    const vocab = openGGUF(p);
    try {
      if ((vocab.metadata.get('tokenizer.ggml.tokens') as string[] | undefined)?.length !== size) continue;
      const out = new Map<string, MetadataInput>();
      for (const [k, v] of typedMetadata(vocab)) if (k.startsWith('tokenizer.')) out.set(k, v);
      return out;
    } finally {
      vocab.close();
    }
  }
  // Synthetic SentencePiece vocabulary: <unk> <s> </s>, the 256 byte tokens llama.cpp looks up, then fillers.
  if (size < 300) throw new KvError(`bench: a vocabulary of ${size} tokens is too small for a synthetic one (need ≥ 300)`);
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  for (let i = tokens.length; i < size; i++) {
    tokens.push(`▁t${i}`);
    types.push(1);
  }
  return new Map<string, MetadataInput>([
    ['tokenizer.ggml.model', gguf.str('llama')],
    ['tokenizer.ggml.tokens', gguf.strArr(tokens)],
    ['tokenizer.ggml.scores', gguf.f32Arr(tokens.map((_, i) => -i))],
    ['tokenizer.ggml.token_type', gguf.i32Arr(types)],
    ['tokenizer.ggml.bos_token_id', gguf.u32(1)],
    ['tokenizer.ggml.eos_token_id', gguf.u32(2)],
    ['tokenizer.ggml.unknown_token_id', gguf.u32(0)],
  ]);
}

/** The fields of a Hugging Face Llama/Qwen2 config.json the forward pass needs. */
export function configFromHf(j: Record<string, unknown>, name: string, where: string): ModelConfig {
  const num = (k: string, d?: number): number => {
    const v = j[k] ?? d;
    if (typeof v !== 'number') throw new KvError(`${where}: '${k}' is missing or not a number; give a Hugging Face config.json`);
    return v;
  };
  const architecture = j.model_type === 'qwen2' ? 'qwen2' : 'llama';
  const E = num('hidden_size');
  const H = num('num_attention_heads');
  const D = num('head_dim', E / H);
  return {
    architecture,
    name,
    vocabSize: num('vocab_size'),
    embeddingLength: E,
    feedForwardLength: num('intermediate_size'),
    blockCount: num('num_hidden_layers'),
    headCount: H,
    headCountKv: num('num_key_value_heads', H),
    headDim: D,
    contextLength: num('max_position_embeddings'),
    ropeFreqBase: num('rope_theta', 10000),
    ropeStyle: architecture === 'qwen2' ? 'neox' : 'normal',
    ropeDimensionCount: D,
    ropeScaling: { type: 'none' },
    rmsNormEps: num('rms_norm_eps', 1e-6),
    tiedEmbeddings: j.tie_word_embeddings === true,
    attentionBias: architecture === 'qwen2' || j.attention_bias === true,
  };
}
