/**
 * The model description (ModelConfig) read from GGUF metadata, per `general.architecture`, with llama.cpp's keys,
 * defaults and per-architecture rules (src/models/<arch>.cpp of llama.cpp):
 * - `llama` (Llama 2/3, SmolLM2, Mistral: adjacent-pair RoPE). llama.cpp reads no sliding window for `llama`
 *   (Mistral 7B v0.1's `llama.attention.sliding_window`, when a converter wrote one, is ignored): full attention.
 * - `qwen2` (q/k/v biases, half-split "neox" RoPE).
 * - `qwen3` (neox RoPE, per-head RMSNorm of q and k, explicit `attention.key_length`).
 * - `gemma2` (embeddings × sqrt(E), GeGLU, post-norms, attention and final soft-capping (defaults 50 and 30),
 *   sliding window (default 4096) on layers 0, 2, 4, … (`attention.sliding_window_pattern`, default 2)).
 * - `gemma3` (as gemma2 without attention soft-capping, plus q/k norms; 5 local : 1 global (pattern default 6) when
 *   `attention.sliding_window` is present; local layers use `rope.freq_base_swa` (default 10000) and no RoPE scaling).
 * - `phi3` (fused `attn_qkv` and gate/up in `ffn_up`; LongRoPE factor tensors; llama.cpp disables Phi's sliding
 *   window, so it is read and ignored here too).
 * Any architecture may store q/k/v fused in `attn_qkv` (llama.cpp's create_tensor_qkv); biases are used when present.
 */
import { KvError } from '../util/errors.js';
import type { Architecture, ModelConfig, RopeScaling } from '../core/model-config.js';
import type { GGUFValue } from './gguf-types.js';

export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['llama', 'qwen2', 'qwen3', 'gemma2', 'gemma3', 'phi3'];

/** More layers than any model has: a block count beyond it is a damaged header. */
const MAX_LAYERS = 1 << 12;

/** What the description needs to know about the tensors (names present and their GGUF dims); absent = no tensors. */
export interface TensorDirectory {
  has(name: string): boolean;
  dims(name: string): number[] | undefined;
  readonly count: number;
}

function num(meta: Map<string, GGUFValue>, key: string, where: string): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') throw new KvError(`${where}: metadata ${key} = ${v} is out of range; the file is damaged`);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new KvError(`${where}: metadata ${key} should be a number, found ${describeValue(v)}; the file is damaged or not a model file`);
  return v;
}

function describeValue(v: GGUFValue): string {
  if (typeof v === 'string') return `the string '${v.slice(0, 40)}'`;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return 'an array';
  return String(v);
}

function posInt(meta: Map<string, GGUFValue>, key: string, where: string, fallback?: number): number {
  const v = num(meta, key, where) ?? fallback;
  if (v === undefined) throw new KvError(`${where}: metadata key ${key} is missing; the file is not a complete model description`);
  if (!Number.isInteger(v) || v <= 0) throw new KvError(`${where}: metadata ${key} = ${v} must be a positive integer; the file is damaged`);
  return v;
}

/** `general.architecture`, or a KvError. */
export function architectureOf(meta: Map<string, GGUFValue>, where: string): string {
  const a = meta.get('general.architecture');
  if (typeof a !== 'string') throw new KvError(`${where}: metadata general.architecture is missing; the file is not a model GGUF`);
  return a;
}

/** True when kvmerger can run this architecture. */
export function isSupportedArchitecture(arch: string): arch is Architecture {
  return (SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch);
}

function ropeScalingOf(meta: Map<string, GGUFValue>, arch: string, where: string, tensors: TensorDirectory | undefined, contextLength: number): RopeScaling {
  const k = (s: string) => `${arch}.rope.scaling.${s}`;
  // Phi-3's LongRoPE: the converter writes the two factor tensors and an attention factor, and no scaling type.
  if (tensors?.has('rope_factors_long.weight') || tensors?.has('rope_factors_short.weight')) {
    if (!tensors.has('rope_factors_long.weight') || !tensors.has('rope_factors_short.weight')) {
      throw new KvError(`${where}: the file has only one of rope_factors_long.weight and rope_factors_short.weight; LongRoPE needs both`);
    }
    const attnFactor = num(meta, k('attn_factor'), where) ?? 1;
    const orig = num(meta, k('original_context_length'), where) ?? contextLength;
    if (!(attnFactor > 0 && orig > 0)) throw new KvError(`${where}: ${k('attn_factor')} and ${k('original_context_length')} must be positive`);
    return { type: 'longrope', attnFactor, originalContextLength: orig };
  }
  const typeVal = meta.get(k('type'));
  let type = typeof typeVal === 'string' ? typeVal : undefined;
  if (typeVal !== undefined && type === undefined) throw new KvError(`${where}: metadata ${k('type')} should be a string`);
  // Older files give only the linear factor (`{arch}.rope.scale_linear`).
  const legacyLinear = num(meta, `${arch}.rope.scale_linear`, where);
  if (type === undefined && legacyLinear !== undefined && legacyLinear !== 1) type = 'linear';
  const factor = num(meta, k('factor'), where) ?? legacyLinear;
  switch (type ?? 'none') {
    case 'none':
      return { type: 'none' };
    case 'linear': {
      if (factor === undefined || factor === 1) return { type: 'none' };
      if (!(factor > 0)) throw new KvError(`${where}: metadata ${k('factor')} = ${factor} must be positive`);
      return { type: 'linear', factor };
    }
    case 'llama3': {
      const f = factor ?? 8;
      const low = num(meta, k('low_freq_factor'), where) ?? num(meta, `${arch}.rope.low_freq_factor`, where) ?? 1;
      const high = num(meta, k('high_freq_factor'), where) ?? num(meta, `${arch}.rope.high_freq_factor`, where) ?? 4;
      const orig = num(meta, k('original_context_length'), where) ?? 8192;
      if (!(f > 0 && low > 0 && high > low && orig > 0)) {
        throw new KvError(`${where}: llama3 RoPE scaling needs factor > 0 and 0 < low_freq_factor < high_freq_factor (got ${f}, ${low}, ${high})`);
      }
      return { type: 'llama3', factor: f, lowFreqFactor: low, highFreqFactor: high, originalContextLength: orig };
    }
    default:
      throw new KvError(`${where}: RoPE scaling '${type}' is not supported; kvmerger supports none, linear, llama3 and Phi-3's LongRoPE factors`);
  }
}

/** llama.cpp's set_swa_pattern: with pattern n, layer l is local unless l % n == n − 1 (n = 0: all local). */
function slidingLayers(meta: Map<string, GGUFValue>, key: string, blocks: number, fallbackPattern: number, where: string): boolean[] {
  const v = meta.get(key);
  if (Array.isArray(v) && v.every((b) => typeof b === 'boolean')) {
    const flags = v as boolean[];
    return Array.from({ length: blocks }, (_, l) => flags[l] === true);
  }
  const n = num(meta, key, where) ?? fallbackPattern;
  if (!Number.isInteger(n) || n < 0) throw new KvError(`${where}: metadata ${key} = ${n} must be a non-negative integer or an array of booleans`);
  return Array.from({ length: blocks }, (_, l) => n === 0 || l % n < n - 1);
}

/**
 * The ModelConfig of a GGUF model. `tensors` (when the file has any) decides tied embeddings (no `output.weight`)
 * and can supply the vocabulary size; a vocabulary-only file (no tensors) still gets a config from its metadata.
 * `where` names the file in errors.
 */
export function describeModel(meta: Map<string, GGUFValue>, tensors?: TensorDirectory, where = 'model'): ModelConfig {
  const arch = architectureOf(meta, where);
  if (!isSupportedArchitecture(arch)) {
    throw new KvError(`${where}: architecture '${arch}' is not supported; kvmerger runs ${SUPPORTED_ARCHITECTURES.join(', ')}`);
  }
  const k = (s: string) => `${arch}.${s}`;
  const embeddingLength = posInt(meta, k('embedding_length'), where);
  const headCount = posInt(meta, k('attention.head_count'), where);
  const headCountKv = posInt(meta, k('attention.head_count_kv'), where, headCount);
  if (headCount % headCountKv !== 0) {
    throw new KvError(`${where}: ${headCount} query heads is not a multiple of ${headCountKv} KV heads; the file is damaged`);
  }
  const headDim = posInt(meta, k('attention.key_length'), where, embeddingLength % headCount === 0 ? embeddingLength / headCount : undefined);
  const valueLength = num(meta, k('attention.value_length'), where);
  if (valueLength !== undefined && valueLength !== headDim) {
    throw new KvError(`${where}: key length ${headDim} differs from value length ${valueLength}; kvmerger needs them equal`);
  }
  const ropeDimensionCount = posInt(meta, k('rope.dimension_count'), where, headDim);
  if (ropeDimensionCount % 2 !== 0 || ropeDimensionCount > headDim) {
    throw new KvError(`${where}: ${k('rope.dimension_count')} = ${ropeDimensionCount} must be even and at most the head dimension ${headDim}`);
  }
  const tokens = meta.get('tokenizer.ggml.tokens');
  const embdDims = tensors?.dims('token_embd.weight');
  const vocabSize = posInt(
    meta,
    k('vocab_size'),
    where,
    embdDims?.[1] ?? (Array.isArray(tokens) ? tokens.length : undefined),
  );
  const ropeFreqBase = num(meta, k('rope.freq_base'), where) ?? 10000;
  if (!(ropeFreqBase > 1)) throw new KvError(`${where}: ${k('rope.freq_base')} = ${ropeFreqBase} must be greater than 1`);
  const rmsNormEps = num(meta, k('attention.layer_norm_rms_epsilon'), where) ?? 1e-5;
  if (!(rmsNormEps > 0)) throw new KvError(`${where}: ${k('attention.layer_norm_rms_epsilon')} = ${rmsNormEps} must be positive`);
  const name = meta.get('general.name');
  const contextLength = posInt(meta, k('context_length'), where);
  const blockCount = posInt(meta, k('block_count'), where);
  // Per-layer tables are made from this count: a damaged count (2^30) stops here, not in an out-of-memory abort.
  if (blockCount > MAX_LAYERS) {
    throw new KvError(`${where}: ${k('block_count')} = ${blockCount} layers, more than any model has (at most ${MAX_LAYERS} read); the file is damaged`);
  }
  const neox = arch !== 'llama';
  const config: ModelConfig = {
    architecture: arch,
    vocabSize,
    embeddingLength,
    feedForwardLength: posInt(meta, k('feed_forward_length'), where),
    blockCount,
    headCount,
    headCountKv,
    headDim,
    contextLength,
    ropeFreqBase,
    ropeStyle: neox ? 'neox' : 'normal',
    ropeDimensionCount,
    ropeScaling: ropeScalingOf(meta, arch, where, tensors, contextLength),
    rmsNormEps,
    // gemma2 always projects with token_embd (llama.cpp ignores an output.weight there)
    tiedEmbeddings: tensors !== undefined && tensors.count > 0 && (arch === 'gemma2' || !tensors.has('output.weight')),
    attentionBias: arch === 'qwen2' || tensors?.has('blk.0.attn_q.bias') === true || tensors?.has('blk.0.attn_qkv.bias') === true,
  };
  if (typeof name === 'string') config.name = name;
  if (config.ropeScaling.type === 'longrope' && arch !== 'phi3') {
    throw new KvError(`${where}: rope_factors_long/short tensors (LongRoPE) are read for phi3 only, not for ${arch}`);
  }
  if (arch === 'qwen3' || arch === 'gemma3') config.qkNorm = true;
  if (arch === 'gemma2' || arch === 'gemma3') {
    config.embeddingScale = Math.sqrt(embeddingLength);
    config.ffnActivation = 'gelu';
    config.postNorms = true;
    // llama.cpp (after gemma_pytorch's config): the 27B models scale queries by 1/sqrt(n_embd / n_head), recognised
    // by their layer count; every other size by 1/sqrt(head_dim). GGUF carries no query_pre_attn_scalar.
    const is27B = blockCount === (arch === 'gemma2' ? 46 : 62);
    config.attentionScale = 1 / Math.sqrt(is27B ? Math.floor(embeddingLength / headCount) : headDim);
    const finalCap = num(meta, k('final_logit_softcapping'), where) ?? (arch === 'gemma2' ? 30 : 0);
    if (finalCap !== 0) config.finalLogitSoftcap = finalCap;
  }
  if (arch === 'gemma2') {
    config.attnLogitSoftcap = num(meta, k('attn_logit_softcapping'), where) ?? 50;
    const size = posInt(meta, k('attention.sliding_window'), where, 4096);
    config.slidingWindow = { size, layers: slidingLayers(meta, k('attention.sliding_window_pattern'), blockCount, 2, where) };
    config.ropeLocal = { freqBase: num(meta, k('rope.freq_base_swa'), where) ?? ropeFreqBase, scaling: config.ropeScaling };
  }
  if (arch === 'gemma3') {
    const size = num(meta, k('attention.sliding_window'), where);
    if (size !== undefined && size > 0) {
      if (!Number.isInteger(size)) throw new KvError(`${where}: metadata ${k('attention.sliding_window')} = ${size} must be an integer`);
      config.slidingWindow = { size, layers: slidingLayers(meta, k('attention.sliding_window_pattern'), blockCount, 6, where) };
      config.ropeLocal = { freqBase: num(meta, k('rope.freq_base_swa'), where) ?? 10000, scaling: { type: 'none' } };
    }
  }
  if (config.slidingWindow && !config.slidingWindow.layers.some((b) => b)) delete config.slidingWindow;
  for (const cap of [config.attnLogitSoftcap, config.finalLogitSoftcap]) {
    if (cap !== undefined && !(cap > 0)) throw new KvError(`${where}: soft-capping value ${cap} must be positive`);
  }
  return config;
}
