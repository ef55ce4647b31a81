/**
 * A SentencePiece vocabulary (tokens, scores, types of a GGUF `llama` vocabulary) written as a Hugging Face folder
 * holds it, for tests, without Python:
 * - `tokenizer.model`: a SentencePiece ModelProto (protobuf written by hand: pieces, a BPE trainer spec with byte
 *   fallback and unk/bos/eos ids, an identity normalizer spec with the dummy prefix);
 * - `tokenizer.json`: a byte-fallback BPE as transformers' SpmConverter writes it: the vocab, merges of every piece
 *   into two vocab pieces ordered by the piece's score (highest first), Prepend "▁" + Replace " " → "▁" (or Metaspace),
 *   added tokens for the control / unknown / user-defined ones.
 * Ids at or beyond `baseSize` (a model's added tokens, Phi-3's 32000+) are left out of the model's own vocabulary, as
 * in those files, and given as added tokens; `[PAD{i}]` fillers are left out altogether.
 */
import { TokenType } from '../../src/tokenizer/tokenizer.js';

export interface SpmSource {
  tokens: string[];
  scores: ArrayLike<number>;
  types: ArrayLike<number>;
}

// ---- protobuf writing ----

function varint(v: number): number[] {
  const out: number[] = [];
  let x = v < 0 ? BigInt.asUintN(64, BigInt(v)) : BigInt(v);
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return out;
}
const tag = (field: number, wire: number) => varint(field * 8 + wire);
const utf8 = new TextEncoder();
function bytesField(field: number, body: Uint8Array | number[]): number[] {
  return [...tag(field, 2), ...varint(body.length), ...body];
}
const intField = (field: number, v: number) => [...tag(field, 0), ...varint(v)];
function floatField(field: number, v: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return [...tag(field, 5), ...b];
}

/** The vocabulary's first `baseSize` pieces as a tokenizer.model (GGUF token types are SentencePiece's numbers). */
export function sentencePieceModelBytes(v: SpmSource, baseSize: number, options: { addDummyPrefix?: boolean; modelType?: number; normalizer?: string } = {}): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < baseSize; i++) {
    const t = v.types[i]!;
    const type = t === TokenType.UserDefined ? 3 : t; // a model's </s> flagged user-defined by its tokenizer_config is a control piece
    out.push(...bytesField(1, [...bytesField(1, utf8.encode(v.tokens[i]!)), ...floatField(2, v.scores[i]!), ...(type !== 1 ? intField(3, type) : [])]));
  }
  // trainer spec: a field the reader skips (vocab_size), model type, byte fallback, unk / bos / eos / pad ids
  out.push(...bytesField(2, [...bytesField(2, utf8.encode('model-prefix')), ...intField(3, options.modelType ?? 2), ...intField(4, baseSize), ...intField(35, 1), ...intField(40, 0), ...intField(41, 1), ...intField(42, 2), ...intField(43, -1)]));
  out.push(...bytesField(3, [...bytesField(1, utf8.encode(options.normalizer ?? 'identity')), ...intField(3, options.addDummyPrefix === false ? 0 : 1), ...intField(4, 0), ...intField(5, 1)]));
  return Uint8Array.from(out);
}

/** The merges transformers' SpmConverter makes: each normal piece split into two vocab pieces, by the piece's score. */
function spmMerges(v: SpmSource, baseSize: number): [string, string][] {
  const id = new Map<string, number>();
  for (let i = 0; i < baseSize; i++) id.set(v.tokens[i]!, i);
  const order = Array.from({ length: baseSize }, (_, i) => i)
    .filter((i) => v.types[i] === TokenType.Normal)
    .sort((a, b) => v.scores[b]! - v.scores[a]! || a - b);
  const merges: [string, string][] = [];
  for (const i of order) {
    const piece = v.tokens[i]!;
    const local: [string, string][] = [];
    const cps = [...piece];
    for (let k = 1; k < cps.length; k++) {
      const l = cps.slice(0, k).join('');
      const r = cps.slice(k).join('');
      if (id.has(l) && id.has(r)) local.push([l, r]);
    }
    local.sort((a, b) => id.get(a[0])! - id.get(b[0])! || id.get(a[1])! - id.get(b[1])!);
    merges.push(...local);
  }
  return merges;
}

export interface SpmJsonOptions {
  /** 'legacy' (default): Prepend + Replace normalizers; 'metaspace-first' / 'metaspace-always': a Metaspace pre-tokenizer. */
  spaces?: 'legacy' | 'metaspace-first' | 'metaspace-always' | 'replace-only';
}

/** A byte-fallback BPE tokenizer.json of the vocabulary, as Hugging Face holds a SentencePiece model. */
export function spmTokenizerJson(v: SpmSource, baseSize: number, options: SpmJsonOptions = {}): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  for (let i = 0; i < baseSize; i++) vocab[v.tokens[i]!] = i;
  const added = [];
  for (let i = 0; i < v.tokens.length; i++) {
    const t = v.types[i];
    if ((t === TokenType.Control || t === TokenType.Unknown || t === TokenType.UserDefined) && !v.tokens[i]!.startsWith('[PAD')) {
      added.push({ id: i, content: v.tokens[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special: t !== TokenType.UserDefined });
    }
  }
  const spaces = options.spaces ?? 'legacy';
  const replace = { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' };
  const normalizer = spaces === 'legacy' ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, replace] } : spaces === 'replace-only' ? replace : null;
  const pre = spaces.startsWith('metaspace') ? { type: 'Metaspace', replacement: '\u2581', prepend_scheme: spaces === 'metaspace-first' ? 'first' : 'always', split: false } : null;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer,
    pre_tokenizer: pre,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: spmMerges(v, baseSize) },
  };
}

/** tokenizer_config.json's added_tokens_decoder for the control / unknown / user-defined tokens (special: not user-defined). */
export function addedTokensDecoder(v: SpmSource): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < v.tokens.length; i++) {
    const t = v.types[i];
    if ((t === TokenType.Control || t === TokenType.Unknown || t === TokenType.UserDefined) && !v.tokens[i]!.startsWith('[PAD')) {
      out[String(i)] = { content: v.tokens[i], lstrip: false, normalized: false, rstrip: false, single_word: false, special: t !== TokenType.UserDefined };
    }
  }
  return out;
}
