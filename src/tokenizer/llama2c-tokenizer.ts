/**
 * llama2.c's `tokenizer.bin` and its `encode` (run.c): int32 max_token_length, then per token float32 score, int32
 * byte length, bytes. Pieces hold real spaces (`▁` already replaced), BOS/EOS are ids 1/2 with texts `\n<s>\n` and
 * `\n</s>\n`, and ids 3..258 are the byte tokens `<0x00>`..`<0xFF>` (byte fallback is byte + 3).
 *
 * encode: BOS, then (for non-empty text) the `" "` token as dummy prefix, one token per code point (or its bytes + 3
 * when the code point is not a token), then repeatedly merge the adjacent pair whose concatenated text is the
 * best-scoring token (leftmost on ties), BOS included in the pairs as run.c does. A heap makes this O(n log n)
 * instead of run.c's O(n²) rescans, with the same result.
 */
import { readFileSync } from 'node:fs';
import { KvError } from '../util/errors.js';
import { BaseTokenizer } from './base-tokenizer.js';
import { PriorityQueue } from './priority-queue.js';
import { canSegmentAtSpaces, splitBeforeSpaces } from './space-segments.js';
import { TokenType, type EncodeOptions, type TokenizerFamily } from './tokenizer.js';

const utf8 = new TextEncoder();

interface Pair {
  left: number;
  right: number;
  leftId: number;
  rightId: number;
  score: number;
  merged: number;
}

export interface Llama2cVocabulary {
  maxTokenLength: number;
  tokens: string[];
  scores: Float32Array;
}

/** Parses a llama2.c tokenizer.bin. `vocabSize` (from the checkpoint header) limits the count; else read to the end. */
export function parseLlama2cTokenizer(buf: Uint8Array, path: string, vocabSize?: number): Llama2cVocabulary {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bad = (why: string): KvError =>
    new KvError(`${path}: not a valid llama2.c tokenizer.bin (${why}); re-export it with llama2.c's tokenizer.py`);
  if (buf.length < 4) throw bad('shorter than its 4-byte header');
  const maxTokenLength = dv.getInt32(0, true);
  if (maxTokenLength <= 0 || maxTokenLength > 1 << 16) throw bad(`max_token_length ${maxTokenLength}`);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const tokens: string[] = [];
  const scores: number[] = [];
  let o = 4;
  while (o < buf.length && (vocabSize === undefined || tokens.length < vocabSize)) {
    if (o + 8 > buf.length) throw bad(`truncated at token ${tokens.length}`);
    const score = dv.getFloat32(o, true);
    const len = dv.getInt32(o + 4, true);
    o += 8;
    if (len < 0 || len > maxTokenLength || o + len > buf.length) throw bad(`token ${tokens.length} has length ${len}`);
    tokens.push(decoder.decode(buf.subarray(o, o + len)));
    scores.push(score);
    o += len;
  }
  if (vocabSize !== undefined && tokens.length < vocabSize) {
    throw bad(`${tokens.length} tokens but the model's vocabulary has ${vocabSize}: the file is truncated or belongs to another model`);
  }
  // run.c's byte fallback is id 3 + byte: the vocabulary starts <unk>, <s>, </s>, then <0x00> .. <0xFF>.
  if (tokens.length < 259) throw bad(`only ${tokens.length} tokens; a llama2.c vocabulary starts with <unk>, <s>, </s> and the 256 byte tokens`);
  for (let b = 0; b < 256; b++) {
    const want = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    if (tokens[3 + b] !== want) throw bad(`token ${3 + b} should be the byte token ${want}`);
  }
  // tokenizer.py writes max_token_length as the longest token's byte length: a file read to its end whose longest
  // token is shorter has lost its tail (a download cut at a token boundary).
  let longest = 0;
  for (const t of tokens) longest = Math.max(longest, utf8.encode(t).length);
  if (vocabSize === undefined && longest < maxTokenLength) {
    throw bad(`its header says the longest token has ${maxTokenLength} bytes but the longest of its ${tokens.length} tokens has ${longest}: the file is truncated`);
  }
  return { maxTokenLength, tokens, scores: Float32Array.from(scores) };
}

export class Llama2cTokenizer extends BaseTokenizer {
  readonly family: TokenizerFamily = 'spm';
  private readonly scores: Float32Array;
  /** Merge segment by segment (exact when no piece has a space after another character, nor extends BOS's text). */
  private readonly segmentable: boolean;
  private readonly cache = new Map<string, number[]>();

  constructor(vocab: Llama2cVocabulary) {
    const types = new Uint8Array(vocab.tokens.length).fill(TokenType.Normal);
    types[0] = TokenType.Unknown;
    types[1] = TokenType.Control;
    types[2] = TokenType.Control;
    for (let i = 3; i < vocab.tokens.length; i++) if (/^<0x[0-9A-F]{2}>$/.test(vocab.tokens[i]!)) types[i] = TokenType.Byte;
    super({ tokens: vocab.tokens, types, bos: 1, eos: 2, unk: 0, addBos: true, addEos: false });
    this.scores = vocab.scores;
    const bosText = vocab.tokens[1]!;
    this.segmentable =
      canSegmentAtSpaces(vocab.tokens, ' ') && !vocab.tokens.some((t, i) => i !== 1 && t.length > bosText.length && t.startsWith(bosText));
  }

  /** Loads a tokenizer.bin from disk. */
  static fromFile(path: string, vocabSize?: number): Llama2cTokenizer {
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch (err) {
      throw new KvError(`${path}: cannot read (${(err as Error).message})`);
    }
    return new Llama2cTokenizer(parseLlama2cTokenizer(buf, path, vocabSize));
  }

  protected override get stripsLeadingSpace(): boolean {
    return true;
  }

  /** run.c's encode; its BOS/EOS flags are `addSpecial` (BOS=1, no EOS, as run.c's generate calls it). */
  override encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    // run.c parses no special-token text (its BOS/EOS pieces are `\n<s>\n`, never typed), so parseSpecial is moot.
    if (this.segmentable && this.tokenToId.has(' ')) {
      const out: number[] = addSpecial ? [this.bos!] : [];
      // the dummy prefix token " " is the code point ' ', so prefixing the text is the same thing
      if (text.length > 0) {
        for (const seg of splitBeforeSpaces(' ' + text, ' ')) {
          let ids = this.cache.get(seg);
          if (ids === undefined) {
            ids = [];
            this.pushCodePoints(seg, ids);
            ids = this.merge(ids);
            if (this.cache.size >= 1 << 16) this.cache.clear();
            this.cache.set(seg, ids);
          }
          for (const id of ids) out.push(id);
        }
      }
      if (addSpecial && this.addEos) out.push(this.eos!);
      return out;
    }
    const ids: number[] = [];
    if (addSpecial) ids.push(this.bos!);
    if (text.length > 0) {
      const space = this.tokenToId.get(' ');
      if (space !== undefined) ids.push(space);
      this.pushCodePoints(text, ids);
    }
    const merged = this.merge(ids);
    if (addSpecial && this.addEos) merged.push(this.eos!);
    return merged;
  }

  protected encodeText(text: string, out: number[]): void {
    const ids: number[] = [];
    this.pushCodePoints(text, ids);
    out.push(...this.merge(ids));
  }

  private pushCodePoints(text: string, out: number[]): void {
    for (const ch of text) {
      const id = this.tokenToId.get(ch);
      if (id !== undefined) out.push(id);
      else for (const b of utf8.encode(ch)) out.push(b + 3);
    }
  }

  private merge(ids: number[]): number[] {
    const n = ids.length;
    const tok = Int32Array.from(ids);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const queue = new PriorityQueue<Pair>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
    const tryAdd = (l: number, r: number): void => {
      if (l < 0 || r < 0) return;
      const merged = this.tokenToId.get(this.tokens[tok[l]!]! + this.tokens[tok[r]!]!);
      if (merged === undefined) return;
      const score = this.scores[merged]!;
      if (!(score > -1e10)) return;
      queue.push({ left: l, right: r, leftId: tok[l]!, rightId: tok[r]!, score, merged });
    };
    for (let i = 0; i + 1 < n; i++) tryAdd(i, i + 1);
    while (queue.size > 0) {
      const p = queue.pop()!;
      const l = p.left;
      const r = p.right;
      if (!alive[l] || !alive[r] || next[l] !== r || tok[l] !== p.leftId || tok[r] !== p.rightId) continue;
      tok[l] = p.merged;
      alive[r] = 0;
      next[l] = next[r]!;
      if (next[r]! >= 0) prev[next[r]!] = l;
      tryAdd(prev[l]!, l);
      tryAdd(l, next[l]!);
    }
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (alive[i]) out.push(tok[i]!);
    return out;
  }

  protected pieceBytes(id: number): Uint8Array {
    if (this.types[id] === TokenType.Byte) return Uint8Array.of(parseInt(this.tokens[id]!.slice(3, 5), 16));
    return utf8.encode(this.tokens[id]!);
  }
}
