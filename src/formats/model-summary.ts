/**
 * What `kvmerger info` reports about a model file: its shape, RoPE, tokenizer, tensor types and KV-cache cost.
 * Works on files kvmerger cannot run (other architectures, vocabulary-only GGUFs): the shape then comes straight from
 * the `{arch}.*` metadata keys that are present, and `problem` says why the model cannot run.
 */
import { isSlidingLayer, type ModelConfig, type RopeScaling } from '../core/model-config.js';
import type { GGUFValue } from './gguf-types.js';
import type { ModelFile } from './model-file.js';

export interface ModelSummary {
  path: string;
  format: 'gguf' | 'llama2c' | 'hf';
  /** GGUF version (GGUF files only). */
  ggufVersion?: number;
  fileSize: number;
  architecture: string | null;
  name: string | null;
  /** True when kvmerger can run this model (a supported architecture with weights). */
  runnable: boolean;
  /** Why the model cannot run, when it cannot. */
  problem: string | null;
  tensorCount: number;
  parameterCount: number;
  blockCount: number | null;
  headCount: number | null;
  headCountKv: number | null;
  headDim: number | null;
  embeddingLength: number | null;
  feedForwardLength: number | null;
  contextLength: number | null;
  rope: {
    style: 'normal' | 'neox' | null;
    freqBase: number | null;
    dimensionCount: number | null;
    scaling: RopeScaling | null;
    /** The file carries `rope_freqs.weight` (per-frequency factors, e.g. Llama 3.1). */
    freqFactorsTensor: boolean;
  };
  rmsNormEps: number | null;
  tiedEmbeddings: boolean | null;
  attentionBias: boolean | null;
  tokenizer: {
    /** `tokenizer.ggml.model` (llama = SentencePiece BPE, gpt2 = byte-level BPE, ...). */
    model: string;
    /** `tokenizer.ggml.pre` (pre-tokenizer variant). */
    pre: string | null;
    vocabSize: number;
    bosTokenId: number | null;
    eosTokenId: number | null;
  } | null;
  vocabSize: number | null;
  /** Stored tensor types with the number of tensors of each. */
  tensorTypes: Record<string, number>;
  /** The quantisation mix: per stored type, its tensors, weights (elements) and stored bytes; most weights first. */
  quantization: { type: string; tensors: number; parameters: number; bytes: number }[];
  /** The file carries `tokenizer.chat_template`. */
  chatTemplate: boolean;
  /**
   * Attention per layer (runnable architectures): `layers[l]` 'global' or 'sliding'; `window` the sliding layers'
   * window in tokens (null when every layer is global). Null when the architecture is not one kvmerger reads.
   */
  attention: { layers: ('global' | 'sliding')[]; window: number | null } | null;
  /** What the architecture adds to the llama block (q/k norms, soft-capping, ...), as short phrases. */
  features: string[];
  /** K and V bytes per token across all layers at F32, when the shape is known. */
  kvBytesPerTokenF32: number | null;
  /**
   * K and V bytes per token per layer type and storage (null when the shape is unknown): a global layer holds
   * `perLayerF32` (or F16) for every token; a sliding layer the same per token but for at most `window` tokens
   * (llama.cpp's bounded SWA cache), so at context N the full cache is globalLayers·N + slidingLayers·min(N, window)
   * tokens' worth.
   */
  kvBytes: { perLayerF32: number; perLayerF16: number; globalLayers: number; slidingLayers: number; window: number | null; atContextF16: number | null } | null;
}

/** The attention kinds of a config's layers and the extra steps of its architecture. */
function attentionOf(c: ModelConfig): { attention: NonNullable<ModelSummary['attention']>; features: string[] } {
  const layers = Array.from({ length: c.blockCount }, (_, l) => (isSlidingLayer(c, l) ? ('sliding' as const) : ('global' as const)));
  const features: string[] = [];
  if (c.qkNorm) features.push('q/k RMSNorm per head');
  if (c.embeddingScale !== undefined) features.push(`embeddings × ${+c.embeddingScale.toFixed(4)}`);
  if (c.ffnActivation === 'gelu') features.push('GeGLU feed-forward (GELU tanh)');
  if (c.postNorms) features.push('post-attention and post-FFN norms');
  if (c.attentionScale !== undefined) features.push(`attention scale ${+c.attentionScale.toFixed(6)}`);
  if (c.attnLogitSoftcap !== undefined) features.push(`attention soft-cap ${c.attnLogitSoftcap}`);
  if (c.finalLogitSoftcap !== undefined) features.push(`final logit soft-cap ${c.finalLogitSoftcap}`);
  if (c.ropeLocal) features.push(`sliding layers' RoPE base ${c.ropeLocal.freqBase}${c.ropeLocal.scaling.type === 'none' ? '' : ` (${c.ropeLocal.scaling.type} scaling)`}`);
  return { attention: { layers, window: c.slidingWindow?.size ?? null }, features };
}

function kvBytesOf(layers: number, kvHeads: number, headDim: number, sliding: number, window: number | null, context: number | null): NonNullable<ModelSummary['kvBytes']> {
  const perLayerF32 = kvHeads * headDim * 2 * 4;
  const global = layers - sliding;
  const atContextF16 = context === null ? null : (perLayerF32 / 2) * (global * context + sliding * Math.min(context, window ?? context));
  return { perLayerF32, perLayerF16: perLayerF32 / 2, globalLayers: global, slidingLayers: sliding, window, atContextF16 };
}

function numOrNull(v: GGUFValue | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Summarises an opened model file. */
export function summarizeModel(file: ModelFile): ModelSummary {
  const meta = file.metadata ?? new Map<string, GGUFValue>();
  const names = file.tensorNames();
  const tensorTypes: Record<string, number> = {};
  const mix = new Map<string, { type: string; tensors: number; parameters: number; bytes: number }>();
  for (const n of names) {
    const t = file.typeOf(n);
    tensorTypes[t] = (tensorTypes[t] ?? 0) + 1;
    const m = mix.get(t) ?? { type: t, tensors: 0, parameters: 0, bytes: 0 };
    m.tensors++;
    m.parameters += file.shapeOf(n).reduce((a, b) => a * b, 1);
    m.bytes += file.byteSizeOf(n);
    mix.set(t, m);
  }
  const quantization = [...mix.values()].sort((a, b) => b.parameters - a.parameters || a.type.localeCompare(b.type));
  const tokens = meta.get('tokenizer.ggml.tokens');
  const tokModel = meta.get('tokenizer.ggml.model');
  const tokPre = meta.get('tokenizer.ggml.pre');
  const tokenizer =
    typeof tokModel === 'string'
      ? {
          model: tokModel,
          pre: typeof tokPre === 'string' ? tokPre : null,
          vocabSize: Array.isArray(tokens) ? tokens.length : 0,
          bosTokenId: numOrNull(meta.get('tokenizer.ggml.bos_token_id')),
          eosTokenId: numOrNull(meta.get('tokenizer.ggml.eos_token_id')),
        }
      : null;
  const base = {
    path: file.path,
    format: file.format,
    ...(file.gguf ? { ggufVersion: file.gguf.version } : {}),
    fileSize: file.fileSize,
    tensorCount: names.length,
    parameterCount: file.parameterCount(),
    tokenizer,
    tensorTypes,
    quantization,
    chatTemplate: typeof meta.get('tokenizer.chat_template') === 'string',
  };
  const freqFactorsTensor = file.has('rope_freqs.weight');
  const noWeights = names.length === 0 ? 'no weights (vocabulary-only file)' : null;

  if (file.configError === undefined) {
    const c = file.config;
    const { attention, features } = attentionOf(c);
    const sliding = attention.layers.filter((k) => k === 'sliding').length;
    return {
      ...base,
      architecture: c.architecture,
      name: c.name ?? null,
      runnable: noWeights === null,
      problem: noWeights,
      blockCount: c.blockCount,
      headCount: c.headCount,
      headCountKv: c.headCountKv,
      headDim: c.headDim,
      embeddingLength: c.embeddingLength,
      feedForwardLength: c.feedForwardLength,
      contextLength: c.contextLength,
      rope: { style: c.ropeStyle, freqBase: c.ropeFreqBase, dimensionCount: c.ropeDimensionCount, scaling: c.ropeScaling, freqFactorsTensor },
      rmsNormEps: c.rmsNormEps,
      tiedEmbeddings: noWeights ? null : c.tiedEmbeddings,
      attentionBias: c.attentionBias,
      vocabSize: c.vocabSize,
      attention,
      features,
      kvBytesPerTokenF32: c.blockCount * c.headCountKv * c.headDim * 2 * 4,
      kvBytes: kvBytesOf(c.blockCount, c.headCountKv, c.headDim, sliding, attention.window, c.contextLength),
    };
  }

  // A model kvmerger cannot run: report what the metadata says.
  const arch = meta.get('general.architecture');
  const a = typeof arch === 'string' ? arch : null;
  const k = (s: string) => numOrNull(a ? meta.get(`${a}.${s}`) : undefined);
  const heads = k('attention.head_count');
  const emb = k('embedding_length');
  const kvHeads = k('attention.head_count_kv') ?? heads;
  const headDim = k('attention.key_length') ?? (emb !== null && heads ? emb / heads : null);
  const layers = k('block_count');
  const name = meta.get('general.name');
  // The error names the file; the summary already does.
  const why = file.configError.startsWith(`${file.path}: `) ? file.configError.slice(file.path.length + 2) : file.configError;
  return {
    ...base,
    architecture: a,
    name: typeof name === 'string' ? name : null,
    runnable: false,
    problem: noWeights ? `${noWeights}; ${why}` : why,
    blockCount: layers,
    headCount: heads,
    headCountKv: kvHeads,
    headDim: headDim !== null && Number.isInteger(headDim) ? headDim : null,
    embeddingLength: emb,
    feedForwardLength: k('feed_forward_length'),
    contextLength: k('context_length'),
    rope: {
      style: null,
      freqBase: k('rope.freq_base'),
      dimensionCount: k('rope.dimension_count'),
      scaling: null,
      freqFactorsTensor,
    },
    rmsNormEps: k('attention.layer_norm_rms_epsilon'),
    tiedEmbeddings: null,
    attentionBias: null,
    vocabSize: k('vocab_size') ?? (tokenizer ? tokenizer.vocabSize : null),
    attention: null,
    features: [],
    kvBytesPerTokenF32: layers !== null && kvHeads !== null && headDim !== null && Number.isInteger(headDim) ? layers * kvHeads * headDim * 2 * 4 : null,
    kvBytes: layers !== null && kvHeads !== null && headDim !== null && Number.isInteger(headDim) ? kvBytesOf(layers, kvHeads, headDim, 0, null, k('context_length')) : null,
  };
}
