/**
 * Random models for tests: a valid small ModelConfig and an in-memory WeightSource with seeded random weights,
 * for every shape the engine supports (llama / qwen2 with biases, GQA, tied or untied output, rope_freqs; the
 * config's q/k norms and post-norms (qwen3, gemma); fused qkv and gate/up and LongRoPE factors (phi3) on request).
 */
import type { ModelConfig } from '../../src/core/model-config.js';
import type { WeightSource } from '../../src/core/weight-source.js';
import { Rng } from '../../src/util/rng.js';

/**
 * A small valid config. Defaults: llama, vocab 64, hidden 32, 4 query heads over 2 KV heads (GQA 2), headDim 8,
 * 2 layers, normal RoPE over all head dims, base 10000. `architecture: 'qwen2'` defaults to neox RoPE with q/k/v
 * biases. headDim defaults to embeddingLength / headCount; ropeDimensionCount to headDim.
 */
export function smallConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  const architecture = overrides.architecture ?? 'llama';
  const embeddingLength = overrides.embeddingLength ?? 32;
  const headCount = overrides.headCount ?? 4;
  const headDim = overrides.headDim ?? embeddingLength / headCount;
  if (!Number.isInteger(headDim)) throw new Error(`smallConfig: embeddingLength ${embeddingLength} not divisible by headCount ${headCount}`);
  const c: ModelConfig = {
    architecture,
    name: 'random',
    vocabSize: 64,
    embeddingLength,
    feedForwardLength: 48,
    blockCount: 2,
    headCount,
    headCountKv: overrides.headCountKv ?? Math.max(1, headCount / 2),
    headDim,
    contextLength: 256,
    ropeFreqBase: 10000,
    ropeStyle: architecture === 'llama' ? 'normal' : 'neox',
    ropeDimensionCount: overrides.ropeDimensionCount ?? headDim,
    ropeScaling: { type: 'none' },
    rmsNormEps: 1e-5,
    tiedEmbeddings: false,
    attentionBias: architecture === 'qwen2',
    ...overrides,
  };
  if (c.headCount % c.headCountKv !== 0) throw new Error('smallConfig: headCount must be a multiple of headCountKv');
  if (c.ropeDimensionCount % 2 !== 0 || c.ropeDimensionCount > c.headDim) throw new Error('smallConfig: bad ropeDimensionCount');
  return c;
}

export interface RandomWeightOptions {
  /** Multiplies every projection's standard deviation (default 1: std = 1/sqrt(fan-in)). */
  scale?: number;
  /** Add `rope_freqs.weight` ([ropeDimensionCount/2] per-frequency divisors, values in [1, 8)). */
  ropeFreqs?: boolean;
  /** Store q/k/v as one `attn_qkv.weight` (rows q, k, v), as phi3 files do. */
  fusedQkv?: boolean;
  /** Store gate and up as one `ffn_up.weight` of 2·F rows (gate first) and no `ffn_gate`, as phi3 files do. */
  fusedGateUp?: boolean;
  /** Add Phi-3's LongRoPE `rope_factors_long.weight` and `rope_factors_short.weight` (values in [1, 8)). */
  longRopeFactors?: boolean;
}

/** An in-memory F32 WeightSource with weights drawn from a seeded generator; same (config, seed) → same weights. */
export function randomWeightSource(config: ModelConfig, seed: number, options: RandomWeightOptions = {}): WeightSource {
  const rng = new Rng(seed);
  const scale = options.scale ?? 1;
  const tensors = new Map<string, { data: Float32Array; shape: number[] }>();
  const E = config.embeddingLength;
  const F = config.feedForwardLength;
  const qDim = config.headCount * config.headDim;
  const kvDim = config.headCountKv * config.headDim;

  const matrix = (name: string, out: number, inn: number, std = scale / Math.sqrt(inn)): void => {
    const data = new Float32Array(out * inn);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
    tensors.set(name, { data, shape: [out, inn] });
  };
  const vector = (name: string, n: number, mean: number, spread: number): void => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = mean + (rng.next() * 2 - 1) * spread;
    tensors.set(name, { data, shape: [n] });
  };

  matrix('token_embd.weight', config.vocabSize, E, 1);
  for (let b = 0; b < config.blockCount; b++) {
    const p = `blk.${b}.`;
    vector(p + 'attn_norm.weight', E, 1, 0.2);
    if (options.fusedQkv) matrix(p + 'attn_qkv.weight', qDim + 2 * kvDim, E);
    else {
      matrix(p + 'attn_q.weight', qDim, E);
      matrix(p + 'attn_k.weight', kvDim, E);
      matrix(p + 'attn_v.weight', kvDim, E);
    }
    if (config.qkNorm) {
      vector(p + 'attn_q_norm.weight', config.headDim, 1, 0.2);
      vector(p + 'attn_k_norm.weight', config.headDim, 1, 0.2);
    }
    if (config.attentionBias) {
      vector(p + 'attn_q.bias', qDim, 0, 0.3 * scale);
      vector(p + 'attn_k.bias', kvDim, 0, 0.3 * scale);
      vector(p + 'attn_v.bias', kvDim, 0, 0.3 * scale);
    }
    matrix(p + 'attn_output.weight', E, qDim);
    vector(p + 'ffn_norm.weight', E, 1, 0.2);
    if (options.fusedGateUp) matrix(p + 'ffn_up.weight', 2 * F, E);
    else {
      matrix(p + 'ffn_gate.weight', F, E);
      matrix(p + 'ffn_up.weight', F, E);
    }
    matrix(p + 'ffn_down.weight', E, F);
    if (config.postNorms) {
      vector(p + 'post_attention_norm.weight', E, 1, 0.2);
      vector(p + 'post_ffw_norm.weight', E, 1, 0.2);
    }
  }
  vector('output_norm.weight', E, 1, 0.2);
  if (!config.tiedEmbeddings) matrix('output.weight', config.vocabSize, E);
  if (options.ropeFreqs) vector('rope_freqs.weight', config.ropeDimensionCount / 2, 4.5, 3.5);
  if (options.longRopeFactors) {
    vector('rope_factors_long.weight', config.ropeDimensionCount / 2, 4.5, 3.5);
    vector('rope_factors_short.weight', config.ropeDimensionCount / 2, 4.5, 3.5);
  }

  const need = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`random model has no tensor '${name}'`);
    return t;
  };
  return {
    config,
    has: (name) => tensors.has(name),
    get: (name) => need(name).data,
    typeOf: (name) => (need(name), 'F32'),
    shapeOf: (name) => [...need(name).shape],
  };
}
