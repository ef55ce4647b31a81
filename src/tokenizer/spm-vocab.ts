/**
 * SentencePiece-style vocabularies of Hugging Face folders as llama.cpp's SPM vocabulary (GGUF `tokenizer.ggml.model =
 * llama`: tokens, scores, token types, the dummy space prefix), from either file such a folder holds:
 *
 * - `tokenizer.model` (SentencePiece BPE protobuf): pieces, scores and types as llama.cpp's converter reads them
 *   (`_create_vocab_sentencepiece`: unknown, control, unused and byte pieces keep their type, user-defined pieces
 *   become normal), the dummy prefix from the normalizer spec;
 * - `tokenizer.json` whose model is BPE with `byte_fallback` (Llama 2, Mistral 7B v0.1, TinyLlama, Gemma, Phi-3): the
 *   vocab, `<0xXX>` tokens as bytes, the unknown token, added tokens (special → control, else user-defined), and
 *   scores that make llama.cpp's score-ordered merging take the same merges as the BPE model's rank order: a token
 *   made by merge rank r scores -r (the earliest merge that makes it), a token no merge makes scores below every
 *   merge in vocabulary order, and without merges the vocabulary's order gives the scores (as SentencePiece orders
 *   its BPE pieces). llama.cpp's own converter writes -1000 for every such token (`LlamaHfVocab`, a placeholder),
 *   which makes its merges leftmost-first instead.
 *
 * What a tokenizer.json's normalizer and pre-tokenizer may do: `Prepend("▁")`, `Replace(" " → "▁")` (Llama 2's
 * legacy pair), `Metaspace` (`prepend_scheme` always / first / never, `split: false`), or Gemma's Replace with a
 * Split on " " (which finds no space left to split at); anything else is refused
 * with a line naming it, since llama.cpp's SPM tokenizer could not tokenise the same.
 */
import { KvError } from '../util/errors.js';
import { parseSentencePieceModel, SentencePieceType } from './sentencepiece-model.js';
import { TokenType } from './tokenizer.js';

/** The SPM vocabulary of one tokenizer file, before the folder's padding and special tokens. */
export interface SpmVocab {
  tokens: string[];
  scores: number[];
  types: number[];
  /** GGUF `tokenizer.ggml.add_space_prefix`: a `▁` before text at the start and after special tokens. */
  addSpacePrefix: boolean;
  /** Metaspace `prepend_scheme: first`: the prefix only at the very start of the text (not after special tokens). */
  spacePrefixAtStartOnly: boolean;
  /** The unknown token's id, when the file names one. */
  unk: number | undefined;
  /** Added tokens that swallow the whitespace on their left / right (a tokenizer.json's `lstrip` / `rstrip`). */
  lstrip: number[];
  rstrip: number[];
  /** BOS / EOS ids a tokenizer.model names (tokenizer.json leaves them to the post-processor and config files). */
  bos?: number;
  eos?: number;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const SPACE = '\u2581';
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

function shortJson(v: unknown): string {
  const t = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return t.length > 60 ? `${t.slice(0, 60)}…` : t;
}

/** Whether a parsed tokenizer.json is a SentencePiece-style BPE (byte fallback) rather than byte-level BPE. */
export function isSpmTokenizerJson(json: unknown): boolean {
  return isObj(json) && isObj(json.model) && (json.model.type ?? (json.model.merges ? 'BPE' : undefined)) === 'BPE' && json.model.byte_fallback === true;
}

/** The SPM vocabulary of a SentencePiece `tokenizer.model` (its bytes). */
export function spmVocabFromSentencePiece(bytes: Uint8Array, where: string): SpmVocab {
  const m = parseSentencePieceModel(bytes, where);
  if (m.modelType !== 2) {
    const kind = ({ 1: 'Unigram', 3: 'word', 4: 'char' } as Record<number, string>)[m.modelType] ?? `type ${m.modelType}`;
    throw new KvError(`${where}: a SentencePiece ${kind} model; kvmerger reads SentencePiece BPE models (llama.cpp's llama vocabulary)`);
  }
  if (m.hasCharsMap || (m.normalizerName !== '' && m.normalizerName !== 'identity')) {
    throw new KvError(`${where}: its normalizer '${m.normalizerName || 'precompiled'}' rewrites text before tokenising, which kvmerger (like llama.cpp) does not do; only 'identity' models are read`);
  }
  if (m.removeExtraWhitespaces) {
    throw new KvError(`${where}: the model collapses runs of whitespace (remove_extra_whitespaces), which kvmerger (like llama.cpp) does not do; such a model is not read`);
  }
  if (!m.escapeWhitespaces) throw new KvError(`${where}: the model keeps spaces as spaces (escape_whitespaces false); only models that write them as ▁ are read`);
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  for (const p of m.pieces) {
    tokens.push(p.piece);
    scores.push(p.score);
    types.push(
      p.type === SentencePieceType.Unknown ? TokenType.Unknown
        : p.type === SentencePieceType.Control ? TokenType.Control
          : p.type === SentencePieceType.Unused ? TokenType.Unused
            : p.type === SentencePieceType.Byte ? TokenType.Byte
              : TokenType.Normal,
    );
  }
  const inRange = (id: number) => (id >= 0 && id < tokens.length ? id : undefined);
  return {
    tokens,
    scores,
    types,
    addSpacePrefix: m.addDummyPrefix,
    spacePrefixAtStartOnly: false,
    lstrip: [],
    rstrip: [],
    unk: inRange(m.unkId),
    ...(inRange(m.bosId) !== undefined ? { bos: m.bosId } : {}),
    ...(inRange(m.eosId) !== undefined ? { eos: m.eosId } : {}),
  };
}

/** What the normalizer and pre-tokenizer do to spaces: replaced by ▁, and where a ▁ is prefixed. */
function spaceHandling(json: Json, where: string): { addSpacePrefix: boolean; spacePrefixAtStartOnly: boolean } {
  let replace = false;
  let prepend = false;
  let atStartOnly = false;
  const visitNormalizer = (n: unknown): void => {
    if (n === null || n === undefined) return;
    if (!isObj(n)) throw new KvError(`${where}: normalizer is malformed`);
    if (n.type === 'Sequence' && Array.isArray(n.normalizers)) for (const x of n.normalizers as unknown[]) visitNormalizer(x);
    else if (n.type === 'Prepend' && n.prepend === SPACE) prepend = true;
    else if (n.type === 'Replace' && isObj(n.pattern) && n.pattern.String === ' ' && n.content === SPACE) replace = true;
    else throw new KvError(`${where}: normalizer ${shortJson(n.type === 'Sequence' ? n : (n.type ?? n))} is not supported in a SentencePiece-style tokenizer (supported: Prepend "▁", Replace " " → "▁")`);
  };
  visitNormalizer(json.normalizer);
  const pt = json.pre_tokenizer;
  // Gemma's: a Split on " " after a normalizer that has already written every space as ▁, so it never splits
  const noOpSplit = replace && isObj(pt) && pt.type === 'Split' && isObj(pt.pattern) && pt.pattern.String === ' ';
  if (pt !== null && pt !== undefined && !noOpSplit) {
    if (!isObj(pt) || pt.type !== 'Metaspace') {
      throw new KvError(`${where}: pre-tokenizer ${shortJson(isObj(pt) ? pt.type : pt)} is not supported in a SentencePiece-style tokenizer (supported: none, Metaspace, Gemma's Split on " " after Replace)`);
    }
    if (pt.replacement !== undefined && pt.replacement !== SPACE) throw new KvError(`${where}: Metaspace replacement ${shortJson(pt.replacement)} is not supported (only "▁")`);
    if (pt.split !== false) {
      throw new KvError(`${where}: Metaspace with split: true cuts the text into words at every ▁, which llama.cpp's SPM tokenizer does not do; not supported`);
    }
    replace = true;
    const scheme = typeof pt.prepend_scheme === 'string' ? pt.prepend_scheme : pt.add_prefix_space === false ? 'never' : 'always';
    if (scheme === 'always') prepend = true;
    else if (scheme === 'first') {
      prepend = true;
      atStartOnly = true;
    } else if (scheme !== 'never') throw new KvError(`${where}: Metaspace prepend_scheme ${shortJson(scheme)} is not supported (always, first, never)`);
  }
  if (!replace) throw new KvError(`${where}: its normalizer does not write spaces as ▁ (Replace " " → "▁" or Metaspace), so it is not a SentencePiece-style tokenizer kvmerger reads`);
  return { addSpacePrefix: prepend, spacePrefixAtStartOnly: atStartOnly };
}

/** The SPM vocabulary of a parsed SentencePiece-style tokenizer.json (BPE with byte_fallback). */
export function spmVocabFromTokenizerJson(json: unknown, where: string): SpmVocab {
  if (!isSpmTokenizerJson(json)) throw new KvError(`${where}: not a SentencePiece-style tokenizer.json (model.type BPE with byte_fallback)`);
  const j = json as Json;
  const model = j.model as Json;
  if (!isObj(model.vocab)) throw new KvError(`${where}: model.vocab is missing (it must be an object of token → id)`);
  if (model.continuing_subword_prefix || model.end_of_word_suffix) {
    throw new KvError(`${where}: BPE with continuing_subword_prefix / end_of_word_suffix is not supported`);
  }
  const spaces = spaceHandling(j, where);
  const entries = Object.entries(model.vocab);
  const added = Array.isArray(j.added_tokens) ? (j.added_tokens as unknown[]) : [];
  const limit = entries.length + added.length + (1 << 16);
  let n = 0;
  for (const [s, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= limit) throw new KvError(`${where}: model.vocab has a bad id ${shortJson(id)} for ${shortJson(s)}`);
    n = Math.max(n, id + 1);
  }
  for (const [i, a] of added.entries()) {
    if (!isObj(a) || typeof a.id !== 'number' || !Number.isInteger(a.id) || a.id < 0 || a.id >= limit || typeof a.content !== 'string' || a.content === '') {
      throw new KvError(`${where}: added_tokens[${i}] is malformed (${shortJson(a)}); each entry needs an integer "id" and a non-empty "content"`);
    }
    n = Math.max(n, a.id + 1);
  }
  const tokens = Array.from({ length: n }, (_, i) => `[PAD${i}]`);
  const types = new Array<number>(n).fill(TokenType.Unused);
  const scores = new Array<number>(n).fill(0);
  const idOf = new Map<string, number>();
  for (const [s, id] of entries) {
    tokens[id as number] = s;
    types[id as number] = BYTE_TOKEN.test(s) ? TokenType.Byte : TokenType.Normal;
    idOf.set(s, id as number);
  }
  // Scores: the earliest merge that makes a token; tokens no merge makes below all of them, in vocabulary order.
  const merges = Array.isArray(model.merges) ? (model.merges as unknown[]) : [];
  const made = new Int32Array(n).fill(-1);
  merges.forEach((m, rank) => {
    let pair: [string, string] | undefined;
    if (typeof m === 'string') {
      const sp = m.indexOf(' ', 1);
      if (sp > 0) pair = [m.slice(0, sp), m.slice(sp + 1)];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') pair = [m[0], m[1]];
    if (!pair) throw new KvError(`${where}: model.merges[${rank}] is malformed (${shortJson(m)}); each merge is "a b" or ["a", "b"]`);
    const id = idOf.get(pair[0] + pair[1]);
    if (id === undefined) throw new KvError(`${where}: model.merges[${rank}] makes ${shortJson(pair[0] + pair[1])}, which is not in model.vocab; the file is damaged`);
    if (made[id] === -1) made[id] = rank;
  });
  for (const [s, id] of entries) {
    if (types[id as number] !== TokenType.Normal) continue;
    const r = made[id as number]!;
    scores[id as number] = merges.length === 0 ? -(id as number) : r >= 0 ? -r : -(merges.length + (id as number));
    void s;
  }
  const unkName = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  const unk = unkName !== undefined ? idOf.get(unkName) : undefined;
  if (unk !== undefined) {
    types[unk] = TokenType.Unknown;
    scores[unk] = 0;
  }
  const lstrip: number[] = [];
  const rstrip: number[] = [];
  for (const a of added as Json[]) {
    const id = a.id as number;
    if (a.lstrip === true) lstrip.push(id);
    if (a.rstrip === true) rstrip.push(id);
    if (id === unk) continue;
    const special = a.special === true;
    // llama.cpp matches user-defined tokens in raw text: their ▁ become spaces, as its converter writes them
    tokens[id] = special ? (a.content as string) : (a.content as string).replaceAll(SPACE, ' ');
    types[id] = special ? TokenType.Control : TokenType.UserDefined;
    scores[id] = 0;
  }
  return { tokens, scores, types, ...spaces, lstrip, rstrip, unk };
}
