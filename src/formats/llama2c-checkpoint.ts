/**
 * llama2.c checkpoints (`.bin`, the legacy export format): a header of 7 int32s (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means an unshared classifier) followed by float32 weights in
 * llama2.c's order: token embedding, attention norms, wq, wk, wv, wo, FFN norms, w1, w2, w3 (each for all layers in
 * turn), final norm, the RoPE tables freq_cis_real/imag (seq_len * head_size / 2 each, skipped here), and wcls when
 * the classifier is not shared. Matrices are PyTorch's row-major [out, in], as WeightSource wants them; llama2.c
 * rotates adjacent pairs, so the config says ropeStyle 'normal' (base 10000, eps 1e-5).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { KvError } from '../util/errors.js';
import type { ModelConfig } from '../core/model-config.js';
import type { ModelFile } from './model-file.js';
import { assertFiniteStored } from './finite-check.js';

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** Absolute vocabulary size. */
  vocabSize: number;
  seqLen: number;
  /** True when the output classifier reuses the token embedding (vocab_size > 0 in the file). */
  sharedClassifier: boolean;
}

export const LLAMA2C_HEADER_BYTES = 28;

/** Parses the 7-int32 header, or returns undefined when the values cannot be a llama2.c header. */
export function parseLlama2cHeader(bytes: Uint8Array): Llama2cHeader | undefined {
  if (bytes.byteLength < LLAMA2C_HEADER_BYTES) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, LLAMA2C_HEADER_BYTES);
  const v = Array.from({ length: 7 }, (_, i) => dv.getInt32(i * 4, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = v as [number, number, number, number, number, number, number];
  const sane =
    dim > 0 && hiddenDim > 0 && nLayers > 0 && nHeads > 0 && nKvHeads > 0 && vocab !== 0 && seqLen > 0 &&
    dim % nHeads === 0 && nHeads % nKvHeads === 0 && (dim / nHeads) % 2 === 0;
  if (!sane) return undefined;
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), seqLen, sharedClassifier: vocab > 0 };
}

interface Slot {
  /** Absolute byte offset. */
  offset: number;
  shape: number[];
  elements: number;
}

/**
 * The bytes a checkpoint with this header must have, by arithmetic alone (no allocation), so that a header claiming
 * 2^30 layers is compared with the file's size before any table is built.
 */
export function llama2cTotalBytes(h: Llama2cHeader): number {
  const headSize = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * headSize;
  const perLayer = 2 * h.dim + 2 * h.dim * h.dim + 2 * kvDim * h.dim + 3 * h.hiddenDim * h.dim;
  const floats = h.vocabSize * h.dim + h.nLayers * perLayer + h.dim + h.seqLen * headSize + (h.sharedClassifier ? 0 : h.vocabSize * h.dim);
  return LLAMA2C_HEADER_BYTES + floats * 4;
}

/**
 * Tensor layout of a checkpoint by canonical GGUF name, and the total bytes the file must have. Callers check
 * `llama2cTotalBytes` against the file first: the table has one entry per tensor of every layer.
 */
export function llama2cLayout(h: Llama2cHeader): { tensors: Map<string, Slot>; totalBytes: number } {
  const headSize = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * headSize;
  const tensors = new Map<string, Slot>();
  let off = LLAMA2C_HEADER_BYTES;
  const add = (name: string, shape: number[]) => {
    const elements = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { offset: off, shape, elements });
    off += elements * 4;
  };
  const perLayer = (part: string, shape: number[]) => {
    for (let l = 0; l < h.nLayers; l++) add(`blk.${l}.${part}`, shape);
  };
  add('token_embd.weight', [h.vocabSize, h.dim]);
  perLayer('attn_norm.weight', [h.dim]);
  perLayer('attn_q.weight', [h.nHeads * headSize, h.dim]);
  perLayer('attn_k.weight', [kvDim, h.dim]);
  perLayer('attn_v.weight', [kvDim, h.dim]);
  perLayer('attn_output.weight', [h.dim, h.nHeads * headSize]);
  perLayer('ffn_norm.weight', [h.dim]);
  perLayer('ffn_gate.weight', [h.hiddenDim, h.dim]); // w1
  perLayer('ffn_down.weight', [h.dim, h.hiddenDim]); // w2
  perLayer('ffn_up.weight', [h.hiddenDim, h.dim]); // w3
  add('output_norm.weight', [h.dim]);
  off += 2 * (h.seqLen * headSize / 2) * 4; // freq_cis_real, freq_cis_imag: unused (RoPE is computed)
  if (!h.sharedClassifier) add('output.weight', [h.vocabSize, h.dim]);
  return { tensors, totalBytes: off };
}

/** The ModelConfig a llama2.c header implies. */
export function llama2cConfig(h: Llama2cHeader, name?: string): ModelConfig {
  const headDim = h.dim / h.nHeads;
  const c: ModelConfig = {
    architecture: 'llama',
    vocabSize: h.vocabSize,
    embeddingLength: h.dim,
    feedForwardLength: h.hiddenDim,
    blockCount: h.nLayers,
    headCount: h.nHeads,
    headCountKv: h.nKvHeads,
    headDim,
    contextLength: h.seqLen,
    ropeFreqBase: 10000,
    ropeStyle: 'normal',
    ropeDimensionCount: headDim,
    ropeScaling: { type: 'none' },
    rmsNormEps: 1e-5,
    tiedEmbeddings: h.sharedClassifier,
    attentionBias: false,
  };
  if (name !== undefined) c.name = name;
  return c;
}

class Llama2cCheckpoint implements ModelFile {
  readonly format = 'llama2c' as const;
  readonly metadata = undefined;
  readonly gguf = undefined;
  readonly configError = undefined;
  readonly config: ModelConfig;
  private readonly cache = new Map<string, Float32Array>();
  private closed = false;

  constructor(
    private readonly fd: number,
    readonly path: string,
    readonly fileSize: number,
    readonly header: Llama2cHeader,
    private readonly tensors: Map<string, Slot>,
  ) {
    this.config = llama2cConfig(header, basename(path).replace(/\.bin$/, ''));
  }

  private slot(name: string): Slot {
    const s = this.tensors.get(name);
    if (!s) throw new KvError(`${this.path}: no tensor named '${name}' in this llama2.c checkpoint`);
    return s;
  }
  has(name: string): boolean {
    return this.tensors.has(name);
  }
  typeOf(name: string): string {
    this.slot(name);
    return 'F32';
  }
  shapeOf(name: string): number[] {
    return [...this.slot(name).shape];
  }
  byteSizeOf(name: string): number {
    return this.slot(name).elements * 4;
  }
  get(name: string): Float32Array {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const out = new Float32Array(this.slot(name).elements);
    this.readInto(name, out);
    this.cache.set(name, out);
    return out;
  }
  readInto(name: string, dest: Float32Array): void {
    const hit = this.cache.get(name);
    if (hit) return void dest.set(hit);
    if (this.closed) throw new Error(`${this.path}: read after close`);
    const s = this.slot(name);
    if (dest.length !== s.elements) throw new RangeError(`${this.path}: tensor '${name}' has ${s.elements} values, the destination ${dest.length}`);
    const bytes = new Uint8Array(dest.buffer, dest.byteOffset, dest.byteLength);
    let got = 0;
    while (got < bytes.length) {
      const r = readSync(this.fd, bytes, got, bytes.length - got, s.offset + got);
      if (r === 0) throw new KvError(`${this.path}: truncated while reading '${name}'; the download may be incomplete`);
      got += r;
    }
    assertFiniteStored(bytes, 'F32', 0, this.path, name);
  }
  tensorNames(): string[] {
    return [...this.tensors.keys()];
  }
  parameterCount(): number {
    let n = 0;
    for (const s of this.tensors.values()) n += s.elements;
    return n;
  }
  dropCache(): void {
    this.cache.clear();
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    closeSync(this.fd);
  }
}

/**
 * Opens a llama2.c checkpoint; a KvError when the header is not one or the size does not match it. `fd` (optional) is
 * an already open descriptor that the checkpoint takes over.
 */
export function openLlama2cCheckpoint(path: string, fd?: number): ModelFile {
  const f = fd ?? openSync(path, 'r');
  try {
    const size = fstatSync(f).size;
    const head = new Uint8Array(LLAMA2C_HEADER_BYTES);
    const n = size >= LLAMA2C_HEADER_BYTES ? readSync(f, head, 0, LLAMA2C_HEADER_BYTES, 0) : 0;
    const h = n === LLAMA2C_HEADER_BYTES ? parseLlama2cHeader(head) : undefined;
    if (!h) throw new KvError(`${path}: not a llama2.c checkpoint (its first 28 bytes are not a valid header)`);
    const totalBytes = llama2cTotalBytes(h);
    if (size !== totalBytes) {
      const what = size < totalBytes ? 'truncated' : 'longer than its header says';
      throw new KvError(
        `${path}: llama2.c checkpoint ${what}: the header (dim ${h.dim}, ${h.nLayers} layers, vocab ${h.vocabSize}) needs ${totalBytes} bytes but the file has ${size}${size < totalBytes ? '; the download may be incomplete' : ''}`,
      );
    }
    return new Llama2cCheckpoint(f, path, size, h, llama2cLayout(h).tensors);
  } catch (err) {
    closeSync(f);
    throw err;
  }
}
