/**
 * SentencePiece-style BPE as llama.cpp's `llm_tokenizer_spm` does it (GGUF `tokenizer.ggml.model = llama`):
 * spaces become `▁`, a dummy `▁` is prefixed to text at the start or after a special token (add_space_prefix),
 * adjacent symbols merge while the merged string is a token, highest score first (leftmost on ties), and any final
 * symbol that is not a token falls back to its UTF-8 bytes as `<0xXX>` tokens.
 */
import { BaseTokenizer, type VocabularySpec } from './base-tokenizer.js';
import { mergeSymbols } from './merge-symbols.js';
import { canSegmentAtSpaces, splitBeforeSpaces } from './space-segments.js';
import { TokenType, type TokenizerFamily } from './tokenizer.js';

export interface SpmSpec extends VocabularySpec {
  scores: ArrayLike<number>;
  /** GGUF `tokenizer.ggml.add_space_prefix`; default true. */
  addSpacePrefix?: boolean;
  /**
   * The prefix only where the text starts, not after special tokens (a Hugging Face Metaspace `prepend_scheme:
   * first`; llama.cpp has no such mode). Default false.
   */
  spacePrefixAtStartOnly?: boolean;
}

const utf8 = new TextEncoder();
const SPACE = '\u2581';
const MAX_CACHE = 1 << 16;

export class SpmTokenizer extends BaseTokenizer {
  readonly family: TokenizerFamily = 'spm';
  readonly addSpacePrefix: boolean;
  private readonly prefixAtStartOnly: boolean;
  private readonly scores: Float32Array;
  private readonly byteIds: Int32Array;
  /** Whether text may be merged segment by segment (see space-segments.ts); then segments are cached. */
  private readonly segmentable: boolean;
  private readonly cache = new Map<string, number[]>();

  constructor(spec: SpmSpec) {
    super(spec);
    this.addSpacePrefix = spec.addSpacePrefix ?? true;
    this.prefixAtStartOnly = spec.spacePrefixAtStartOnly ?? false;
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

  protected encodeText(fragment: string, out: number[], afterSpecial: boolean, atStart: boolean): void {
    const prefix = this.addSpacePrefix && (this.prefixAtStartOnly ? atStart : afterSpecial);
    const text = (prefix ? ' ' + fragment : fragment).replaceAll(' ', SPACE);
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
    // Symbols start as code points; a pair merges when the merged string is a token, the highest score first.
    const cps: number[] = [];
    for (let i = 0; i < text.length; ) {
      cps.push(i);
      const c = text.charCodeAt(i);
      i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
    }
    const pieces = mergeSymbols(text, cps, (start, leftLength, rightLength) => {
      const id = this.tokenToId.get(text.substr(start, leftLength + rightLength));
      return id === undefined ? undefined : -this.scores[id]!;
    });
    for (const piece of pieces) {
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
