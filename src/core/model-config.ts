/**
 * The shape of a Llama-family model, read from GGUF metadata or a llama2.c header.
 * Everything the forward pass needs to know, and nothing about the file it came from.
 */
export type Architecture = 'llama' | 'qwen2';

/**
 * RoPE pair layout. `normal`: adjacent pairs (x[2i], x[2i+1]) rotate together (llama.cpp's LLAMA_ROPE_TYPE_NORM;
 * GGUF `llama` files and llama2.c checkpoints). `neox`: halves (x[i], x[i + d/2]) rotate together (GGUF `qwen2`).
 */
export type RopeStyle = 'normal' | 'neox';

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
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
}

/** Bytes of K and V held per token across all layers and KV heads, at 4 bytes per value. */
export function kvBytesPerTokenF32(c: ModelConfig): number {
  return c.blockCount * c.headCountKv * c.headDim * 2 * 4;
}
