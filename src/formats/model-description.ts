/**
 * The model description (ModelConfig) read from GGUF metadata, per `general.architecture`:
 * `llama` (Llama 2/3, SmolLM2, Mistral: adjacent-pair RoPE) and `qwen2` (q/k/v biases, half-split "neox" RoPE).
 */
import { KvError } from '../util/errors.js';
import type { Architecture, ModelConfig, RopeScaling } from '../core/model-config.js';
import type { GGUFValue } from './gguf-types.js';

export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['llama', 'qwen2'];

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

function ropeScalingOf(meta: Map<string, GGUFValue>, arch: string, where: string): RopeScaling {
  const k = (s: string) => `${arch}.rope.scaling.${s}`;
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
      throw new KvError(`${where}: RoPE scaling '${type}' is not supported; kvmerger supports none, linear and llama3`);
  }
}

/**
 * The ModelConfig of a GGUF model. `tensors` (when the file has any) decides tied embeddings (no `output.weight`)
 * and can supply the vocabulary size; a vocabulary-only file (no tensors) still gets a config from its metadata.
 * `where` names the file in errors.
 */
export function describeModel(meta: Map<string, GGUFValue>, tensors?: TensorDirectory, where = 'model'): ModelConfig {
  const arch = architectureOf(meta, where);
  if (!isSupportedArchitecture(arch)) {
    throw new KvError(`${where}: architecture '${arch}' is not supported; kvmerger runs llama (Llama 2/3, SmolLM2, Mistral) and qwen2`);
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
  const config: ModelConfig = {
    architecture: arch,
    vocabSize,
    embeddingLength,
    feedForwardLength: posInt(meta, k('feed_forward_length'), where),
    blockCount: posInt(meta, k('block_count'), where),
    headCount,
    headCountKv,
    headDim,
    contextLength: posInt(meta, k('context_length'), where),
    ropeFreqBase,
    ropeStyle: arch === 'qwen2' ? 'neox' : 'normal',
    ropeDimensionCount,
    ropeScaling: ropeScalingOf(meta, arch, where),
    rmsNormEps,
    tiedEmbeddings: tensors !== undefined && tensors.count > 0 && !tensors.has('output.weight'),
    attentionBias: arch === 'qwen2',
  };
  if (typeof name === 'string') config.name = name;
  return config;
}
