/**
 * What `kvmerger info` reports about a model file: its shape, RoPE, tokenizer, tensor types and KV-cache cost.
 * Works on files kvmerger cannot run (other architectures, vocabulary-only GGUFs): the shape then comes straight from
 * the `{arch}.*` metadata keys that are present, and `problem` says why the model cannot run.
 */
import type { RopeScaling } from '../core/model-config.js';
import type { GGUFValue } from './gguf-types.js';
import type { ModelFile } from './model-file.js';

export interface ModelSummary {
  path: string;
  format: 'gguf' | 'llama2c';
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
  /** K and V bytes per token across all layers at F32, when the shape is known. */
  kvBytesPerTokenF32: number | null;
}

function numOrNull(v: GGUFValue | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Summarises an opened model file. */
export function summarizeModel(file: ModelFile): ModelSummary {
  const meta = file.metadata ?? new Map<string, GGUFValue>();
  const names = file.tensorNames();
  const tensorTypes: Record<string, number> = {};
  for (const n of names) {
    const t = file.typeOf(n);
    tensorTypes[t] = (tensorTypes[t] ?? 0) + 1;
  }
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
  };
  const freqFactorsTensor = file.has('rope_freqs.weight');
  const noWeights = names.length === 0 ? 'no weights (vocabulary-only file)' : null;

  if (file.configError === undefined) {
    const c = file.config;
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
      kvBytesPerTokenF32: c.blockCount * c.headCountKv * c.headDim * 2 * 4,
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
    kvBytesPerTokenF32: layers !== null && kvHeads !== null && headDim !== null && Number.isInteger(headDim) ? layers * kvHeads * headDim * 2 * 4 : null,
  };
}
