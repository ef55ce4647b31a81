/**
 * Byte-level BPE as llama.cpp's `llm_tokenizer_bpe` does it (GGUF `tokenizer.ggml.model = gpt2`) and as Hugging Face's
 * BPE model does for a ByteLevel tokenizer.json: pre-tokenize, map each piece's UTF-8 bytes to the GPT-2 alphabet,
 * then merge adjacent symbols by merge rank (lowest first, leftmost on ties) with a heap over a linked list.
 * Words are cached, so repeated words cost one map lookup.
 */
import { BaseTokenizer, type VocabularySpec } from './base-tokenizer.js';
import { byteDecode, byteEncode } from './byte-unicode.js';
import { makePreTokenizer, type PreTokenizeFn, type PreTokenizerStep } from './pre-tokenizer.js';
import { mergeSymbols } from './merge-symbols.js';
import { TokenType, type TokenizerFamily } from './tokenizer.js';

export interface BpeSpec extends VocabularySpec {
  /** Merges in rank order: `"a b"` strings (split at the first space after position 0) or `[a, b]` pairs. */
  merges: readonly (string | readonly [string, string])[];
  /** Pre-tokenizer name for display (GGUF `tokenizer.ggml.pre`). */
  pre: string;
  preTokenizer: readonly PreTokenizerStep[];
  /** Use a whole pre-token word directly when it is in the vocabulary (llama3, HF `ignore_merges`). */
  ignoreMerges?: boolean;
  /** Unicode normalisation of each text fragment before pre-tokenizing (tokenizer.json `normalizer`). */
  normalize?: (text: string) => string;
  /**
   * SentencePiece-style BPE on raw UTF-8 (llama.cpp's gemma4 pre-type: Gemma 4's vocabulary): spaces become `▁`
   * before pre-tokenizing, symbols are characters (not GPT-2 byte characters), a symbol that is not a token becomes
   * its `<0xXX>` byte tokens, a word of newlines only that is a token is that token, and decoding turns `▁` back
   * into spaces.
   */
  rawUtf8?: boolean;
}

const MAX_CACHE = 1 << 16;

/** A merge as a pair: `"a b"` splits at the first space after position 0 (llama.cpp); `[a, b]` as is. */
function splitMerge(m: string | readonly [string, string]): readonly [string, string] | undefined {
  if (typeof m !== 'string') return m;
  const pos = m.indexOf(' ', 1);
  return pos < 0 ? undefined : [m.slice(0, pos), m.slice(pos + 1)];
}
const utf8 = new TextEncoder();

export class BpeTokenizer extends BaseTokenizer {
  readonly family: TokenizerFamily = 'bpe';
  override readonly pre: string;
  private readonly merges: BpeSpec['merges'];
  private ranksByText: Map<string, Map<string, number>> | undefined;
  private readonly preTokenize: PreTokenizeFn;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, number[]>();
  private readonly normalize?: (text: string) => string;
  private readonly rawUtf8: boolean;
  /**
   * Fast path when every merge joins two tokens into a token (true of real vocabularies): merges keyed by the pair
   * of ids (left * vocabSize + right → merge index), so merging needs no strings.
   */
  private readonly pairMerge = new Map<number, number>();
  private readonly mergedId: Int32Array;
  private readonly idMode: boolean;
  private readonly charId = new Map<string, number>();
  private heapKeys = new Float64Array(64);

  constructor(spec: BpeSpec) {
    super(spec);
    this.pre = spec.pre;
    this.ignoreMerges = spec.ignoreMerges ?? false;
    this.normalize = spec.normalize;
    this.rawUtf8 = spec.rawUtf8 ?? false;
    this.preTokenize = makePreTokenizer(spec.preTokenizer);
    this.merges = spec.merges;
    this.mergedId = new Int32Array(spec.merges.length).fill(-1);
    // Id-pair table first (all real vocabularies); the string table is built only if a word ever needs it.
    let idMode = true;
    const V = this.vocabSize;
    for (let i = 0; i < spec.merges.length; i++) {
      const pair = splitMerge(spec.merges[i]!);
      if (pair === undefined) continue;
      const ia = this.tokenToId.get(pair[0]);
      const ib = this.tokenToId.get(pair[1]);
      const im = this.tokenToId.get(pair[0] + pair[1]);
      if (ia === undefined || ib === undefined || im === undefined) {
        idMode = false;
        break;
      }
      const key = ia * V + ib;
      // The first occurrence of a pair keeps its rank (llama.cpp's emplace).
      if (this.pairMerge.has(key)) continue;
      this.pairMerge.set(key, i);
      this.mergedId[i] = im;
    }
    this.idMode = idMode;
  }

  /** Merge ranks by strings (llama.cpp's bpe_ranks), built on first use. */
  private get ranks(): Map<string, Map<string, number>> {
    if (this.ranksByText) return this.ranksByText;
    const ranks = new Map<string, Map<string, number>>();
    for (let i = 0; i < this.merges.length; i++) {
      const pair = splitMerge(this.merges[i]!);
      if (pair === undefined) continue;
      let inner = ranks.get(pair[0]);
      if (!inner) ranks.set(pair[0], (inner = new Map()));
      if (!inner.has(pair[1])) inner.set(pair[1], i);
    }
    return (this.ranksByText = ranks);
  }

  /** Pre-tokenized pieces of `text` (for tests and diagnostics). */
  pieces(text: string): string[] {
    return this.preTokenize(text);
  }

  protected encodeText(text: string, out: number[]): void {
    const normalized = this.normalize ? this.normalize(text) : text;
    for (const piece of this.preTokenize(this.rawUtf8 ? normalized.replaceAll(' ', '\u2581') : normalized)) {
      if (piece.length === 0) continue;
      const word = this.rawUtf8 ? piece : byteEncode(piece);
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
    if (this.ignoreMerges || (this.rawUtf8 && /^\n+$/.test(word))) {
      const id = this.tokenToId.get(word);
      if (id !== undefined) return [id];
    }
    if (this.idMode) {
      const ids = this.encodeWordById(word);
      if (ids !== undefined) return ids;
    }
    return this.encodeWordByText(word);
  }

  /**
   * The same merges on token ids, with a heap of numbers `rank * n + left`. A popped entry is current when the pair
   * now at `left` still has that rank: ranks are unique per pair and symbols only grow, so this is llama.cpp's
   * "neither side changed" test. Returns undefined when a character is not a token (then the text path decides).
   */
  private encodeWordById(word: string): number[] | undefined {
    const n = word.length;
    const tok = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const ch = word[i]!;
      let id = this.charId.get(ch);
      if (id === undefined) {
        id = this.tokenToId.get(ch);
        if (id === undefined) return undefined;
        this.charId.set(ch, id);
      }
      tok[i] = id;
    }
    if (n === 1) return [tok[0]!];
    const V = this.vocabSize;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    if (this.heapKeys.length < 3 * n + 4) this.heapKeys = new Float64Array(4 * n + 4);
    const heap = this.heapKeys;
    let size = 0;
    const push = (key: number): void => {
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heap[p]! <= key) break;
        heap[i] = heap[p]!;
        i = p;
      }
      heap[i] = key;
    };
    const pop = (): number => {
      const top = heap[0]!;
      const last = heap[--size]!;
      let i = 0;
      while (true) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const c = l + 1 < size && heap[l + 1]! < heap[l]! ? l + 1 : l;
        if (heap[c]! >= last) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
      return top;
    };
    const pairMerge = this.pairMerge;
    for (let i = 0; i + 1 < n; i++) {
      const r = pairMerge.get(tok[i]! * V + tok[i + 1]!);
      if (r !== undefined) push(r * n + i);
    }
    while (size > 0) {
      if (size + 2 >= heap.length) return undefined; // cannot happen: at most 2 pushes per merge
      const key = pop();
      const left = key % n;
      const rank = (key - left) / n;
      if (!alive[left]) continue;
      const right = next[left]!;
      if (right < 0 || pairMerge.get(tok[left]! * V + tok[right]!) !== rank) continue;
      tok[left] = this.mergedId[rank]!;
      alive[right] = 0;
      next[left] = next[right]!;
      if (next[right]! >= 0) prev[next[right]!] = left;
      const p = prev[left]!;
      if (p >= 0) {
        const r = pairMerge.get(tok[p]! * V + tok[left]!);
        if (r !== undefined) push(r * n + p);
      }
      const q = next[left]!;
      if (q >= 0) {
        const r = pairMerge.get(tok[left]! * V + tok[q]!);
        if (r !== undefined) push(r * n + left);
      }
    }
    const ids: number[] = [];
    for (let i = 0; i !== -1; i = next[i]!) ids.push(tok[i]!);
    return ids;
  }

  /** llama.cpp's merge loop on strings (any vocabulary, including merges whose parts are not tokens). */
  private encodeWordByText(word: string): number[] {
    // The byte-level alphabet is all in the BMP: one code unit per symbol; raw UTF-8: one character per symbol.
    const starts: number[] = [];
    if (this.rawUtf8) for (let i = 0; i < word.length; i += (word.codePointAt(i)! > 0xffff ? 2 : 1)) starts.push(i);
    else for (let i = 0; i < word.length; i++) starts.push(i);
    const pieces = mergeSymbols(word, starts, (start, leftLength, rightLength) =>
      this.ranks.get(word.substr(start, leftLength))?.get(word.substr(start + leftLength, rightLength)),
    );
    const ids: number[] = [];
    for (const s of pieces) {
      const id = this.tokenToId.get(s);
      if (id !== undefined) ids.push(id);
      else if (this.rawUtf8) {
        // llama.cpp: each UTF-8 byte of the symbol as its <0xXX> token, where there is one
        for (const b of utf8.encode(s)) {
          const bid = this.tokenToId.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
          if (bid !== undefined) ids.push(bid);
        }
      } else {
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
    if (this.rawUtf8) {
      const m = this.types[id] === TokenType.Byte ? /^<0x([0-9A-Fa-f]{2})>$/.exec(piece) : null;
      return m ? Uint8Array.of(parseInt(m[1]!, 16)) : utf8.encode(piece.replaceAll('\u2581', ' '));
    }
    return piece.length === 0 ? utf8.encode(piece) : byteDecode(piece);
  }
}
