/**
 * The tokenizer contract shared by every vocabulary family (SentencePiece-style BPE from GGUF `llama` or a llama2.c
 * `tokenizer.bin`, byte-level BPE from GGUF `gpt2` or a Hugging Face `tokenizer.json`).
 *
 * Encoding follows llama.cpp's `llama_tokenize` exactly (its test vectors are the reference); decoding returns the
 * text the ids stand for, byte-exact, so that `decode(encode(text, {addSpecial: false})) === text`.
 */

/** `spm`: SentencePiece-style score-driven BPE on `▁`-escaped text; `bpe`: byte-level BPE with rank-ordered merges. */
export type TokenizerFamily = 'spm' | 'bpe';

export interface EncodeOptions {
  /** Add BOS/EOS as the vocabulary says (GGUF `tokenizer.ggml.add_bos_token` / `add_eos_token`). Default true. */
  addSpecial?: boolean;
  /**
   * Recognise the text of control tokens (e.g. `<|endoftext|>`, `<s>`) in the input and emit their ids. Default true.
   * User-defined (non-special added) tokens are always split out, as llama.cpp and Hugging Face do.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control tokens (BOS, EOS, `<|im_end|>`, ...) as nothing. Default true; false renders their text. */
  skipSpecial?: boolean;
  /**
   * Drop the single leading space that an SPM vocabulary's dummy prefix adds to the first piece. Default true (so
   * that decode inverts encode); pass false when decoding a continuation (generated tokens after a prompt).
   */
  stripLeadingSpace?: boolean;
}

/** Incremental decoding for streaming output: never returns half a UTF-8 character. */
export interface TokenDecoder {
  /** Text that became complete with this token (may be '' while a multi-byte character is incomplete). */
  push(id: number): string;
  /** The rest (incomplete UTF-8 at the end becomes U+FFFD), and reset. */
  flush(): string;
}

/** Token kinds, numbered as GGUF's `tokenizer.ggml.token_type` (llama.cpp's llama_token_type). */
export const TokenType = {
  Undefined: 0,
  Normal: 1,
  Unknown: 2,
  Control: 3,
  UserDefined: 4,
  Unused: 5,
  Byte: 6,
} as const;
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

export interface Tokenizer {
  readonly family: TokenizerFamily;
  /** For `bpe`: the pre-tokenizer name (GGUF `tokenizer.ggml.pre`, or `hf-json` for a tokenizer.json's own rules). */
  readonly pre?: string;
  readonly vocabSize: number;
  /** Begin-of-sequence id, or undefined when the vocabulary has none. */
  readonly bos: number | undefined;
  /** End-of-sequence id, or undefined. */
  readonly eos: number | undefined;
  /** End-of-turn id (e.g. `<|eot_id|>`, `<|im_end|>`, `<|end|>`), or undefined. */
  readonly eot: number | undefined;
  /** Every id that ends generation (EOS, EOT and other end-of-generation control tokens), sorted. */
  readonly stopIds: readonly number[];
  /** Whether encode adds BOS / EOS when `addSpecial` is true. */
  readonly addBos: boolean;
  readonly addEos: boolean;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  createDecoder(options?: DecodeOptions): TokenDecoder;
  /** The token's vocabulary string as stored (`▁Hello`, `Ġworld`, `<0x0A>`, `<|im_end|>`). */
  tokenToPiece(id: number): string;
  /** The bytes the token stands for when decoded (control tokens: their text). */
  tokenBytes(id: number): Uint8Array;
  /** The id of a vocabulary string, or undefined. */
  pieceToToken(piece: string): number | undefined;
  tokenType(id: number): TokenType;
}
