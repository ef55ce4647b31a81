import type { ModelConfig } from './model-config.js';

/**
 * Where the forward pass gets its weights: a model's config plus its tensors by GGUF's canonical names
 * (`token_embd.weight`, `output_norm.weight`, `output.weight` (absent when tied), `rope_freqs.weight` (optional),
 * `blk.{i}.attn_norm.weight`, `blk.{i}.attn_q.weight`, `.attn_k.`, `.attn_v.`, `.attn_output.`, `blk.{i}.attn_q.bias`,
 * `.attn_k.bias`, `.attn_v.bias` (qwen2), `blk.{i}.ffn_norm.weight`, `.ffn_gate.`, `.ffn_up.`, `.ffn_down.`).
 *
 * Matrices are row-major [out, in] (GGUF ne = [in, out]): y = W x with W[o * in + i]. Q and K rows are in the layout
 * the config's `ropeStyle` expects (GGUF llama files are already permuted for adjacent-pair RoPE).
 */
export interface WeightSource {
  readonly config: ModelConfig;
  has(name: string): boolean;
  /** The tensor dequantised to Float32 (may be cached by the source). */
  get(name: string): Float32Array;
  /**
   * Writes the tensor dequantised to Float32 into `dest` (length = its element count) without caching it: for a
   * one-time copy elsewhere (the ort backend's initializers), so the source keeps no second copy alive and makes no
   * large short-lived allocations. Optional: without it, callers copy from `get`.
   */
  readInto?(name: string, dest: Float32Array): void;
  /**
   * The tensor's bytes as stored (GGUF blocks of `typeOf(name)`), read from the file on each call and not cached, so
   * the fast path can repack quantised weights without a dequantised copy. Optional: sources without it are F32.
   */
  readBytes?(name: string): Uint8Array;
  /** GGUF type name of the stored tensor ('F32', 'F16', 'Q8_0', ...). */
  typeOf(name: string): string;
  /** Shape in row-major order, outermost first (GGUF ne reversed): a matrix is [out, in]. */
  shapeOf(name: string): number[];
}

/** Tensor names of block `i`. */
export function blockTensor(i: number, part: string): string {
  return `blk.${i}.${part}`;
}
