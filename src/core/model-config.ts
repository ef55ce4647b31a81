/**
 * The shape of a Llama-family model, read from GGUF metadata or a llama2.c header.
 * Everything the forward pass needs to know, and nothing about the file it came from.
 */
export type Architecture = 'llama' | 'qwen2' | 'qwen3' | 'gemma2' | 'gemma3' | 'phi3';

/** The FFN's gate activation: SiLU (SwiGLU: llama, qwen, phi3) or GELU with the tanh approximation (GeGLU: gemma). */
export type FfnActivation = 'silu' | 'gelu';

/**
 * RoPE pair layout. `normal`: adjacent pairs (x[2i], x[2i+1]) rotate together (llama.cpp's LLAMA_ROPE_TYPE_NORM;
 * GGUF `llama` files and llama2.c checkpoints). `neox`: halves (x[i], x[i + d/2]) rotate together (GGUF `qwen2`).
 */
export type RopeStyle = 'normal' | 'neox';

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  /**
   * Phi-3 LongRoPE (GGUF `rope.scaling.type = longrope`): per-pair divisors from `rope_factors_long.weight` or
   * `rope_factors_short.weight` (long when the context exceeds `originalContextLength`, as llama.cpp chooses), and
   * cos/sin multiplied by `attnFactor` (`rope.scaling.attn_factor`, default 1).
   */
  | { type: 'longrope'; attnFactor: number; originalContextLength: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalContextLength: number;
    };

export interface ModelConfig {
  architecture: Architecture;
  /** Human-readable name from metadata (general.name), if any. */
  name?: string;
  vocabSize: number;
  /** Hidden size (GGUF `{arch}.embedding_length`, llama2.c `dim`). */
  embeddingLength: number;
  /** MLP inner size (GGUF `{arch}.feed_forward_length`, llama2.c `hidden_dim`). */
  feedForwardLength: number;
  /** Number of transformer blocks. */
  blockCount: number;
  /** Query heads. */
  headCount: number;
  /** Key/value heads (grouped-query attention when < headCount). */
  headCountKv: number;
  /** Per-head dimension (usually embeddingLength / headCount). */
  headDim: number;
  /** Trained context length. */
  contextLength: number;
  ropeFreqBase: number;
  ropeStyle: RopeStyle;
  /** Number of dimensions of each head that RoPE rotates (usually headDim). */
  ropeDimensionCount: number;
  ropeScaling: RopeScaling;
  rmsNormEps: number;
  /** True when the output projection reuses token_embd.weight (no output.weight tensor). */
  tiedEmbeddings: boolean;
  /** True when q/k/v projections have biases (qwen2). */
  attentionBias: boolean;

  // The fields below are absent for llama / qwen2 files and llama2.c checkpoints (their defaults are those models').

  /** Per-head RMSNorm of queries and keys before RoPE (`attn_q_norm`, `attn_k_norm`; qwen3, gemma3). */
  qkNorm?: boolean;
  /** Input embeddings are multiplied by this (gemma: sqrt(embeddingLength)). Default 1. */
  embeddingScale?: number;
  /** Default 'silu'. */
  ffnActivation?: FfnActivation;
  /** RMSNorm of the attention output and of the FFN output before each residual add (gemma2/3). */
  postNorms?: boolean;
  /** Multiplies q·k before the softmax. Default 1/sqrt(headDim). */
  attentionScale?: number;
  /** Attention logits s → cap·tanh(s/cap) before the softmax (gemma2). */
  attnLogitSoftcap?: number;
  /** Output logits z → cap·tanh(z/cap) (gemma2; gemma3 when its file says so). */
  finalLogitSoftcap?: number;
  /**
   * Sliding-window attention: `layers[l]` true when layer l is local (a query at position p sees keys at positions
   * p − size + 1 … p, llama.cpp's LLAMA_SWA_TYPE_STANDARD); absent when every layer is global.
   */
  slidingWindow?: { size: number; layers: boolean[] };
  /** RoPE of the sliding-window layers, when it differs from the global layers' (gemma3: base 10000, no scaling). */
  ropeLocal?: { freqBase: number; scaling: RopeScaling };
}

/** True when layer l is a sliding-window (local) layer. */
export function isSlidingLayer(c: ModelConfig, l: number): boolean {
  return c.slidingWindow?.layers[l] === true;
}

/** The window of layer l in tokens, or undefined for a global layer. */
export function layerWindow(c: ModelConfig, l: number): number | undefined {
  return isSlidingLayer(c, l) ? c.slidingWindow!.size : undefined;
}

/**
 * Bytes of K and V held per token across all layers and KV heads, at 4 bytes per value (a sliding-window layer
 * included: it holds this per token up to its window).
 */
export function kvBytesPerTokenF32(c: ModelConfig): number {
  return c.blockCount * c.headCountKv * c.headDim * 2 * 4;
}
