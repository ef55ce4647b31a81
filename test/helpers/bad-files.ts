/**
 * Small valid model and tokenizer files as bytes, for the bad-input and fuzz tests: a llama2.c checkpoint, a
 * llama2.c tokenizer.bin and a byte-level tokenizer.json (each loads; the tests mutate them).
 */
import { byteChar } from '../../src/tokenizer/byte-unicode.js';
import { Rng } from '../../src/util/rng.js';

export interface Llama2cShape {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** Negative: an unshared classifier follows the RoPE tables. */
  vocab: number;
  seqLen: number;
}

export const SMALL_LLAMA2C: Llama2cShape = { dim: 16, hiddenDim: 24, nLayers: 2, nHeads: 2, nKvHeads: 1, vocab: 300, seqLen: 32 };

/** A llama2.c checkpoint of this shape with seeded small weights (norms 1). */
export function llama2cCheckpointBytes(shape: Llama2cShape = SMALL_LLAMA2C, seed = 1): Uint8Array {
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen } = shape;
  const v = Math.abs(vocab);
  const head = dim / nHeads;
  const kv = nKvHeads * head;
  const floats =
    v * dim + nLayers * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * hiddenDim * dim) + dim + seqLen * head + (vocab < 0 ? v * dim : 0);
  const buf = new Uint8Array(28 + floats * 4);
  const dv = new DataView(buf.buffer);
  [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen].forEach((x, i) => dv.setInt32(i * 4, x, true));
  const rng = new Rng(seed);
  const f = new Float32Array(buf.buffer, 28, floats);
  for (let i = 0; i < floats; i++) f[i] = (rng.next() - 0.5) * 0.2;
  return buf;
}

/** A llama2.c tokenizer.bin: <unk>, BOS, EOS, the 256 byte tokens, then `extra` word pieces (max_token_length exact). */
export function llama2cTokenizerBytes(extra: string[] = [' a', ' b', 'ab', ' hello', 'he', 'll', 'o']): Uint8Array {
  const enc = new TextEncoder();
  const tokens = ['<unk>', '\n<s>\n', '\n</s>\n'];
  for (let b = 0; b < 256; b++) tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  tokens.push(...extra);
  const bytes = tokens.map((t) => enc.encode(t));
  const max = Math.max(...bytes.map((b) => b.length));
  const out = new Uint8Array(4 + bytes.reduce((a, b) => a + 8 + b.length, 0));
  const dv = new DataView(out.buffer);
  dv.setInt32(0, max, true);
  let o = 4;
  bytes.forEach((b, i) => {
    dv.setFloat32(o, i < 259 ? 0 : -i, true);
    dv.setInt32(o + 4, b.length, true);
    out.set(b, o + 8);
    o += 8 + b.length;
  });
  return out;
}

/** A byte-level BPE tokenizer.json (as an object): the 256 byte symbols, a few merges, two added tokens. */
export function byteLevelTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[byteChar(b)] = b;
  const merges: [string, string][] = [['h', 'e'], ['l', 'l'], ['he', 'll'], ['hell', 'o'], ['Ġ', 'hello']];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  return {
    version: '1.0',
    added_tokens: [
      { id: 261, content: '<|endoftext|>', special: true },
      { id: 262, content: '<|im_start|>', special: true },
    ],
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, use_regex: true }] },
    post_processor: null,
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
}
