import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { openGGUF } from '../formats/gguf-reader.js';
import { gguf, typedMetadata, writeGGUF, type GGUFTensorInput, type MetadataInput } from '../formats/gguf-writer.js';
import { quantize } from '../formats/quantize.js';
import type { Architecture, ModelConfig } from '../core/model-config.js';
import { KvError } from '../util/errors.js';

/**
 * Weight types the bench writes random models in: our writer's (f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1: every matrix
 * in that type, 1-D tensors F32) and q4_k_m, which native llama-quantize makes from the f16 file (llama.cpp's own mix).
 */
export const BENCH_WEIGHT_TYPES = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q4_k_m'] as const;
export type BenchWeightType = (typeof BENCH_WEIGHT_TYPES)[number];
/** The types our GGUF writer produces itself. */
export type WrittenWeightType = Exclude<BenchWeightType, 'q4_k_m'>;

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

/** The shapes of real models: config.json files named after the model (`<shared data>/models/configs/*.json`). */
export function modelConfigsDir(): string {
  return join(sharedDataRoot(), 'models/configs');
}

/** Hugging Face `model_type`s whose random GGUF the bench writes, and their GGUF architecture (Mistral is a Llama in GGUF). */
const SUPPORTED_MODEL_TYPES: Record<string, Architecture> = {
  llama: 'llama',
  mistral: 'llama',
  qwen2: 'qwen2',
  qwen3: 'qwen3',
  gemma3: 'gemma3',
  gemma3_text: 'gemma3',
  phi3: 'phi3',
};

/** A bench model name and where its shape comes from. */
export interface BenchShapeEntry {
  name: string;
  /** The shape; undefined when its architecture is not supported yet (then `unsupported` says why). */
  config?: ModelConfig;
  unsupported?: string;
  /** The config.json it was read from (none for the built-in shapes). */
  source?: string;
}

/** Every shape the bench knows by name: default-shape, smollm2-135m, and one per config in modelConfigsDir(). */
export function benchShapes(): BenchShapeEntry[] {
  const out: BenchShapeEntry[] = [{ name: 'default-shape', config: DEFAULT_SHAPE_8K }];
  const fromFile = (name: string, path: string): BenchShapeEntry => {
    const j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const type = String(j.model_type ?? '?');
    if (!(type in SUPPORTED_MODEL_TYPES)) {
      return { name, source: path, unsupported: `not supported yet: model_type '${type}' (the bench writes llama, mistral, qwen2, qwen3, gemma3 and phi3 shapes)` };
    }
    return { name, source: path, config: configFromHf(j, name, path) };
  };
  const smol = join(sharedDataRoot(), 'models/smollm2-135m/config.json');
  if (existsSync(smol)) out.push(fromFile('smollm2-135m', smol));
  const dir = modelConfigsDir();
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  for (const f of names) out.push(fromFile(f.slice(0, -'.json'.length), join(dir, f)));
  if (!out.some((e) => e.name === 'qwen2.5-0.5b')) out.push({ name: 'qwen2.5-0.5b', config: QWEN25_05B });
  return out;
}

/** A name as compared: lower case, without '-', '_' and '.' (so llama2-7b finds llama-2-7b). */
const squash = (s: string) => s.toLowerCase().replace(/[-_.]/g, '');

/**
 * The shape a bench name means: exact, else the same letters and digits (llama2-7b → llama-2-7b), else the one shape
 * whose name starts with them (mistral-7b → mistral-7b-v0.2). Undefined when none or several match.
 */
export function findBenchShape(name: string, shapes = benchShapes()): BenchShapeEntry | undefined {
  const exact = shapes.find((e) => e.name === name);
  if (exact) return exact;
  const q = squash(name);
  const same = shapes.filter((e) => squash(e.name) === q);
  if (same.length === 1) return same[0];
  const prefix = shapes.filter((e) => squash(e.name).startsWith(q));
  return prefix.length === 1 ? prefix[0] : undefined;
}

/** The shape of a random bench model by name; undefined for names the bench does not know (or cannot run yet). */
export function benchShape(name: string): ModelConfig | undefined {
  return findBenchShape(name)?.config;
}

/** Where random bench models are kept between runs (KVMERGER_BENCH_CACHE, else <tmpdir>/kvmerger-bench-models). */
export function benchCacheDir(): string {
  return process.env.KVMERGER_BENCH_CACHE ?? join(tmpdir(), 'kvmerger-bench-models');
}

/** The cache file name of a random model: the shape, the type and the writer's version (a stale file is never reused). */
export function randomModelFileName(config: ModelConfig, weights: string, suffix = ''): string {
  const c = config;
  const tag = `${c.architecture}-l${c.blockCount}-e${c.embeddingLength}-h${c.headCount}x${c.headCountKv}-f${c.feedForwardLength}-v${c.vocabSize}`;
  return `${c.name}-${tag}-${weights}${suffix}-v2.gguf`;
}

/**
 * The GGUF of a random model with `config`'s shape and `weights` type, written once into `dir` and reused after.
 * Written tensor by tensor (never the whole model in memory), to a .partial file renamed when complete.
 */
export function ensureRandomModel(config: ModelConfig, weights: WrittenWeightType, dir = benchCacheDir(), log?: (s: string) => void): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, randomModelFileName(config, weights));
  if (existsSync(path)) return path;
  const t0 = performance.now();
  const tmp = `${path}.${process.pid}.partial`;
  log?.(`writing ${basename(path)} (random weights, once; ${estimateGiB(config, weights).toFixed(2)} GiB)`);
  try {
    writeRandomGGUF(tmp, config, weights);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, path);
  log?.(`wrote ${basename(path)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return path;
}

const BYTES_PER_WEIGHT: Record<WrittenWeightType, number> = { f32: 4, f16: 2, q8_0: 34 / 32, q4_0: 18 / 32, q4_1: 20 / 32, q5_0: 22 / 32, q5_1: 24 / 32 };

/** About how large the random GGUF of `config` in `weights` is, in GiB (matrices only). */
export function estimateGiB(config: ModelConfig, weights: WrittenWeightType): number {
  const c = config;
  const attn = c.embeddingLength * (2 * c.headCount * c.headDim + 2 * c.headCountKv * c.headDim);
  const ffn = 3 * c.embeddingLength * c.feedForwardLength;
  const embd = c.vocabSize * c.embeddingLength * (c.tiedEmbeddings ? 1 : 2);
  return ((c.blockCount * (attn + ffn) + embd) * BYTES_PER_WEIGHT[weights]) / 2 ** 30;
}

/**
 * Random weights (uniform, std 1/sqrt(fan-in); norms 1) with `config`'s shape, stored as `weights`. Tokenizer
 * metadata: a real vocabulary of the same size from ../shared/data/tokenizer-tests when there is one (llama.cpp needs
 * a vocabulary to load a file), else a synthetic SentencePiece-style one (control tokens, 256 byte tokens, fillers).
 */
export function writeRandomGGUF(path: string, config: ModelConfig, weights: WrittenWeightType): void {
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
  if (c.headDim * c.headCount !== c.embeddingLength || arch === 'qwen3' || arch === 'gemma3') {
    meta.set(`${arch}.attention.key_length`, gguf.u32(c.headDim));
    meta.set(`${arch}.attention.value_length`, gguf.u32(c.headDim));
  }
  if (arch === 'gemma3' && c.slidingWindow) meta.set('gemma3.attention.sliding_window', gguf.u32(c.slidingWindow.size));
  for (const [k, v] of vocabularyMetadata(c.vocabSize)) meta.set(k, v);
  const shapes = tensorShapes(c);
  const type = weights.toUpperCase();
  // Each tensor's values are made when the writer gets to it (seeded by its index), so memory holds one tensor at a time.
  const tensors: GGUFTensorInput[] = shapes.map(([name, shape], index) => {
    // Matrices in the chosen type; 1-D tensors (norms, biases) stay F32 as in real files.
    const t = shape.length === 2 ? type : 'F32';
    return { name, dims: [...shape].reverse(), type: t, data: () => randomTensor(name, shape, index, t) };
  });
  writeGGUF(path, { metadata: meta, tensors });
}

/**
 * The tensors of a model of `c`'s architecture as llama.cpp names them: [name, row-major shape [out, in]].
 * qwen3 and gemma3 add per-head q/k norms, gemma3 the post-attention and post-FFN norms; phi3 stores q/k/v fused in
 * attn_qkv and gate/up fused in ffn_up (as its GGUF files do).
 */
export function tensorShapes(c: ModelConfig): [string, number[]][] {
  const E = c.embeddingLength;
  const F = c.feedForwardLength;
  const q = c.headCount * c.headDim;
  const kv = c.headCountKv * c.headDim;
  const shapes: [string, number[]][] = [['token_embd.weight', [c.vocabSize, E]], ['output_norm.weight', [E]]];
  if (!c.tiedEmbeddings) shapes.push(['output.weight', [c.vocabSize, E]]);
  for (let b = 0; b < c.blockCount; b++) {
    const p = `blk.${b}.`;
    shapes.push([p + 'attn_norm.weight', [E]]);
    if (c.architecture === 'phi3') shapes.push([p + 'attn_qkv.weight', [q + 2 * kv, E]]);
    else shapes.push([p + 'attn_q.weight', [q, E]], [p + 'attn_k.weight', [kv, E]], [p + 'attn_v.weight', [kv, E]]);
    if (c.attentionBias) shapes.push([p + 'attn_q.bias', [q]], [p + 'attn_k.bias', [kv]], [p + 'attn_v.bias', [kv]]);
    if (c.qkNorm) shapes.push([p + 'attn_q_norm.weight', [c.headDim]], [p + 'attn_k_norm.weight', [c.headDim]]);
    shapes.push([p + 'attn_output.weight', [E, q]]);
    if (c.postNorms) shapes.push([p + 'post_attention_norm.weight', [E]]);
    shapes.push([p + 'ffn_norm.weight', [E]]);
    if (c.architecture === 'phi3') shapes.push([p + 'ffn_up.weight', [2 * F, E]]);
    else shapes.push([p + 'ffn_gate.weight', [F, E]], [p + 'ffn_up.weight', [F, E]]);
    shapes.push([p + 'ffn_down.weight', [E, F]]);
    if (c.postNorms) shapes.push([p + 'post_ffw_norm.weight', [E]]);
  }
  return shapes;
}

/** Random values of one tensor (uniform, std 1/sqrt(fan-in); norms 1; biases small), encoded as `type`. */
function randomTensor(name: string, shape: number[], index: number, type: string): Float32Array | Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  if (name.endsWith('norm.weight')) data.fill(1);
  else {
    // xorshift32, uniform in [-a, a)
    const a = name.endsWith('.bias') ? 0.02 : Math.sqrt(3 / shape[shape.length - 1]!);
    let s = (Math.imul(0x2545f491 ^ index, 1103515245) + 12345 * (index + 1)) >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      data[i] = ((s >>> 0) / 2147483648 - 1) * a;
    }
  }
  return type === 'F32' ? data : quantize(data, type, `tensor '${name}'`);
}

function vocabularyMetadata(size: number): Map<string, MetadataInput> {
  const dir = join(sharedDataRoot(), 'tokenizer-tests');
  for (const name of ['ggml-vocab-starcoder.gguf', 'ggml-vocab-gpt-2.gguf', 'ggml-vocab-llama-spm.gguf', 'ggml-vocab-phi-3.gguf']) {
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
  // Synthetic SentencePiece vocabulary: <unk> <s> </s> <|endoftext|> (llama.cpp looks that one up in files named
  // phi-3), the 256 byte tokens llama.cpp looks up, then fillers.
  if (size < 300) throw new KvError(`bench: a vocabulary of ${size} tokens is too small for a synthetic one (need ≥ 300)`);
  const tokens: string[] = ['<unk>', '<s>', '</s>', '<|endoftext|>'];
  const types: number[] = [2, 3, 3, 3];
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

/**
 * The fields of a Hugging Face config.json (Llama, Mistral, Qwen2, Qwen3, Gemma 3, Phi-3) the forward pass and the
 * random GGUF need. RoPE scaling (Llama 3.2's llama3 rope_scaling) is left out: random-weight speed does not depend on
 * it. Gemma 3's sliding window becomes `slidingWindow` with llama.cpp's default pattern (5 local : 1 global); Phi-3's
 * is dropped, as llama.cpp drops it.
 */
export function configFromHf(j: Record<string, unknown>, name: string, where: string): ModelConfig {
  const num = (k: string, d?: number): number => {
    const v = j[k] ?? d;
    if (typeof v !== 'number') throw new KvError(`${where}: '${k}' is missing or not a number; give a Hugging Face config.json`);
    return v;
  };
  const architecture = SUPPORTED_MODEL_TYPES[String(j.model_type)] ?? 'llama';
  const E = num('hidden_size');
  const H = num('num_attention_heads');
  const D = num('head_dim', E / H);
  const L = num('num_hidden_layers');
  const config: ModelConfig = {
    architecture,
    name,
    vocabSize: num('vocab_size'),
    embeddingLength: E,
    feedForwardLength: num('intermediate_size'),
    blockCount: L,
    headCount: H,
    headCountKv: num('num_key_value_heads', H),
    headDim: D,
    contextLength: num('max_position_embeddings'),
    ropeFreqBase: num('rope_theta', 10000),
    ropeStyle: architecture === 'llama' ? 'normal' : 'neox',
    ropeDimensionCount: D,
    ropeScaling: { type: 'none' },
    rmsNormEps: num('rms_norm_eps', 1e-6),
    tiedEmbeddings: j.tie_word_embeddings === true,
    attentionBias: architecture === 'qwen2' || j.attention_bias === true,
  };
  if (architecture === 'qwen3' || architecture === 'gemma3') config.qkNorm = true;
  if (architecture === 'gemma3') {
    config.postNorms = true;
    const w = j.sliding_window;
    if (typeof w === 'number' && w > 0) config.slidingWindow = { size: w, layers: Array.from({ length: L }, (_, l) => (l + 1) % 6 !== 0) };
  }
  return config;
}
