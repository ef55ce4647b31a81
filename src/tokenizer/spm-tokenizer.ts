/**
 * SentencePiece-style BPE as llama.cpp's `llm_tokenizer_spm` does it (GGUF `tokenizer.ggml.model = llama`):
 * spaces become `▁`, a dummy `▁` is prefixed to text at the start or after a special token (add_space_prefix),
 * adjacent symbols merge while the merged string is a token, highest score first (leftmost on ties), and any final
 * symbol that is not a token falls back to its UTF-8 bytes as `<0xXX>` tokens.
 */
import { BaseTokenizer, type VocabularySpec } from './base-tokenizer.js';
import { PriorityQueue } from './priority-queue.js';
import { canSegmentAtSpaces, splitBeforeSpaces } from './space-segments.js';
import { TokenType, type TokenizerFamily } from './tokenizer.js';

export interface SpmSpec extends VocabularySpec {
  scores: ArrayLike<number>;
  /** GGUF `tokenizer.ggml.add_space_prefix`; default true. */
  addSpacePrefix?: boolean;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** Combined length when queued: a different sum later means one side has changed since. */
  size: number;
}

const utf8 = new TextEncoder();
const SPACE = '\u2581';
const MAX_CACHE = 1 << 16;

export class SpmTokenizer extends BaseTokenizer {
  readonly family: TokenizerFamily = 'spm';
  readonly addSpacePrefix: boolean;
  private readonly scores: Float32Array;
  private readonly byteIds: Int32Array;
  /** Whether text may be merged segment by segment (see space-segments.ts); then segments are cached. */
  private readonly segmentable: boolean;
  private readonly cache = new Map<string, number[]>();

  constructor(spec: SpmSpec) {
    super(spec);
    this.addSpacePrefix = spec.addSpacePrefix ?? true;
    this.scores = Float32Array.from({ length: this.vocabSize }, (_, i) => (i < spec.scores.length ? spec.scores[i]! : 0));
    // byte → token: `<0xXX>`, else the one-character string, else unknown (llama.cpp's byte_to_token).
    this.byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const hex = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      const id = this.tokenToId.get(hex) ?? (b < 0x80 ? this.tokenToId.get(String.fromCharCode(b)) : undefined) ?? this.unk;
      if (id !== undefined) this.byteIds[b] = id;
    }
    this.segmentable = canSegmentAtSpaces(spec.tokens, SPACE);
  }

  protected override get stripsLeadingSpace(): boolean {
    return this.addSpacePrefix;
  }

  protected encodeText(fragment: string, out: number[], afterSpecial: boolean): void {
    const text = (this.addSpacePrefix && afterSpecial ? ' ' + fragment : fragment).replaceAll(' ', SPACE);
    if (!this.segmentable) {
      this.encodeSegment(text, out);
      return;
    }
    for (const seg of splitBeforeSpaces(text, SPACE)) {
      let ids = this.cache.get(seg);
      if (ids === undefined) {
        ids = [];
        this.encodeSegment(seg, ids);
        if (this.cache.size >= MAX_CACHE) this.cache.clear();
        this.cache.set(seg, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /** llama.cpp's llm_tokenizer_spm_session::tokenize on `▁`-escaped text. */
  private encodeSegment(text: string, out: number[]): void {
    // Symbols are code points: [start, end) into text, linked both ways; len 0 = merged away.
    const cps: number[] = [];
    for (let i = 0; i < text.length; ) {
      cps.push(i);
      const c = text.charCodeAt(i);
      i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
    }
    const n = cps.length;
    if (n === 0) return;
    const start = new Int32Array(n);
    const len = new Int32Array(n);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      start[i] = cps[i]!;
      len[i] = (i + 1 < n ? cps[i + 1]! : text.length) - cps[i]!;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const queue = new PriorityQueue<Bigram>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const size = len[left]! + len[right]!;
      const id = this.tokenToId.get(text.substr(start[left]!, size));
      if (id === undefined) return;
      queue.push({ left, right, score: this.scores[id]!, size });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    while (queue.size > 0) {
      const b = queue.pop()!;
      const l = b.left;
      const r = b.right;
      if (len[l] === 0 || len[r] === 0 || len[l]! + len[r]! !== b.size) continue;
      len[l] = b.size;
      len[r] = 0;
      next[l] = next[r]!;
      if (next[r]! >= 0) prev[next[r]!] = l;
      tryAdd(prev[l]!, l);
      tryAdd(l, next[l]!);
    }
    for (let i = 0; i !== -1; i = next[i]!) {
      const piece = text.substr(start[i]!, len[i]!);
      const id = this.tokenToId.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const byte of utf8.encode(piece)) {
        const bid = this.byteIds[byte]!;
        if (bid >= 0) out.push(bid);
      }
    }
  }

  protected pieceBytes(id: number): Uint8Array {
    const piece = this.tokens[id]!;
    if (this.types[id] === TokenType.Byte) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      if (m) return Uint8Array.of(parseInt(m[1]!, 16));
    }
    return utf8.encode(piece.replaceAll('\u2581', ' '));
  }
}
