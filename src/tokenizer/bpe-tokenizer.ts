/**
 * Byte-level BPE as llama.cpp's `llm_tokenizer_bpe` does it (GGUF `tokenizer.ggml.model = gpt2`) and as Hugging Face's
 * BPE model does for a ByteLevel tokenizer.json: pre-tokenize, map each piece's UTF-8 bytes to the GPT-2 alphabet,
 * then merge adjacent symbols by merge rank (lowest first, leftmost on ties) with a heap over a linked list.
 * Words are cached, so repeated words cost one map lookup.
 */
import { BaseTokenizer, type VocabularySpec } from './base-tokenizer.js';
import { byteDecode, byteEncode } from './byte-unicode.js';
import { makePreTokenizer, type PreTokenizeFn, type PreTokenizerStep } from './pre-tokenizer.js';
import { PriorityQueue } from './priority-queue.js';
import type { TokenizerFamily } from './tokenizer.js';

export interface BpeSpec extends VocabularySpec {
  /** Merges in rank order: `"a b"` strings (split at the first space after position 0) or `[a, b]` pairs. */
  merges: readonly (string | readonly [string, string])[];
  /** Pre-tokenizer name for display (GGUF `tokenizer.ggml.pre`). */
  pre: string;
  preTokenizer: readonly PreTokenizerStep[];
  /** Use a whole pre-token word directly when it is in the vocabulary (llama3, HF `ignore_merges`). */
  ignoreMerges?: boolean;
}

interface Bigram {
  left: number;
  right: number;
  rank: number;
  size: number;
}

const MAX_CACHE = 1 << 16;
const utf8 = new TextEncoder();

export class BpeTokenizer extends BaseTokenizer {
  readonly family: TokenizerFamily = 'bpe';
  override readonly pre: string;
  private readonly ranks = new Map<string, Map<string, number>>();
  private readonly preTokenize: PreTokenizeFn;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, number[]>();

  constructor(spec: BpeSpec) {
    super(spec);
    this.pre = spec.pre;
    this.ignoreMerges = spec.ignoreMerges ?? false;
    this.preTokenize = makePreTokenizer(spec.preTokenizer);
    for (let i = 0; i < spec.merges.length; i++) {
      const m = spec.merges[i]!;
      let a: string;
      let b: string;
      if (typeof m === 'string') {
        const pos = m.indexOf(' ', 1);
        if (pos < 0) continue;
        a = m.slice(0, pos);
        b = m.slice(pos + 1);
      } else {
        [a, b] = m;
      }
      let inner = this.ranks.get(a);
      if (!inner) this.ranks.set(a, (inner = new Map()));
      // The first occurrence of a pair keeps its rank (llama.cpp's emplace).
      if (!inner.has(b)) inner.set(b, i);
    }
  }

  /** Pre-tokenized pieces of `text` (for tests and diagnostics). */
  pieces(text: string): string[] {
    return this.preTokenize(text);
  }

  protected encodeText(text: string, out: number[]): void {
    for (const piece of this.preTokenize(text)) {
      if (piece.length === 0) continue;
      const word = byteEncode(piece);
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.encodeWord(word);
        if (this.cache.size >= MAX_CACHE) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /** Merges one byte-level word into token ids. */
  encodeWord(word: string): number[] {
    if (this.ignoreMerges) {
      const id = this.tokenToId.get(word);
      if (id !== undefined) return [id];
    }
    const n = word.length; // the byte-level alphabet is all in the BMP: one code unit per symbol
    const start = new Int32Array(n);
    const len = new Int32Array(n).fill(1);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      start[i] = i;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    if (n > 1) {
      const queue = new PriorityQueue<Bigram>((a, b) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left));
      const tryAdd = (l: number, r: number): void => {
        if (l < 0 || r < 0) return;
        const rank = this.ranks.get(word.substr(start[l]!, len[l]!))?.get(word.substr(start[r]!, len[r]!));
        if (rank === undefined) return;
        queue.push({ left: l, right: r, rank, size: len[l]! + len[r]! });
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
    }
    const ids: number[] = [];
    for (let i = 0; i !== -1 && n > 0; i = next[i]!) {
      const s = word.substr(start[i]!, len[i]!);
      const id = this.tokenToId.get(s);
      if (id !== undefined) ids.push(id);
      else {
        // As llama.cpp: a symbol that is not a token falls back to its single-byte (ASCII) characters, if tokens.
        for (const ch of s) {
          const cid = ch.charCodeAt(0) < 0x80 ? this.tokenToId.get(ch) : undefined;
          if (cid !== undefined) ids.push(cid);
        }
      }
    }
    return ids;
  }

  protected pieceBytes(id: number): Uint8Array {
    const piece = this.tokens[id]!;
    return piece.length === 0 ? utf8.encode(piece) : byteDecode(piece);
  }
}
