/**
 * A tokenizer from a Hugging Face `tokenizer.json` whose model is byte-level BPE (GPT-2, SmolLM2, Llama 3, Qwen2
 * style): `added_tokens` (special → control, else user-defined), the normalizer (none / NFC / NFKC / NFD / NFKD),
 * the pre-tokenizer (ByteLevel, Digits, Split, Sequence) and the BPE model (merges, `ignore_merges`).
 * Added tokens are split out longest first, as llama.cpp does (Hugging Face matches leftmost-longest; the two differ
 * only when added tokens overlap each other in the text).
 */
import { KvError } from '../util/errors.js';
import { BpeTokenizer } from './bpe-tokenizer.js';
import { byteChar } from './byte-unicode.js';
import { BYTE_LEVEL_REGEX, type PreTokenizerStep, type SplitBehavior } from './pre-tokenizer.js';
import { TokenType, type Tokenizer } from './tokenizer.js';

/** BOS/EOS hints from files beside tokenizer.json (config.json, tokenizer_config.json). */
export interface HFTokenizerHints {
  bos?: number | string;
  eos?: number | string;
  addBos?: boolean;
  addEos?: boolean;
}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** A value as a short JSON text for a message (a type name, a bad entry). */
function shortJson(v: unknown): string {
  const t = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return t.length > 40 ? `${t.slice(0, 40)}…` : t;
}

/**
 * Ids beyond this many past the number of entries are not a vocabulary but a broken file (an id of 2e9 would
 * otherwise allocate tables of 2e9 entries). Real files are dense: ids 0..n-1.
 */
const ID_SLACK = 1 << 16;

const BEHAVIORS: Record<string, SplitBehavior> = {
  Isolated: 'isolated',
  Removed: 'removed',
  MergedWithPrevious: 'merged-with-previous',
  MergedWithNext: 'merged-with-next',
};

/** The pre-tokenizer steps of a tokenizer.json `pre_tokenizer` (also used to name its GGUF `tokenizer.ggml.pre`). */
export function preTokenizerSteps(pt: unknown, where: string): { steps: PreTokenizerStep[]; byteLevel: boolean } {
  const steps: PreTokenizerStep[] = [];
  let byteLevel = false;
  const visit = (p: unknown): void => {
    if (p === null || p === undefined) return;
    if (!isObj(p)) throw new KvError(`${where}: pre_tokenizer is malformed`);
    switch (p.type) {
      case 'Sequence':
        if (!Array.isArray(p.pretokenizers)) throw new KvError(`${where}: pre_tokenizer Sequence has no "pretokenizers" list`);
        for (const q of p.pretokenizers as unknown[]) visit(q);
        return;
      case 'ByteLevel':
        byteLevel = true;
        if (p.add_prefix_space === true) steps.push({ kind: 'prefix-space' });
        if (p.use_regex !== false) steps.push({ kind: 'regex', pattern: BYTE_LEVEL_REGEX });
        return;
      case 'Digits':
        steps.push({ kind: 'regex', pattern: p.individual_digits === true ? '\\p{N}' : '\\p{N}+' });
        return;
      case 'Split': {
        const pat = p.pattern;
        let pattern: string;
        if (isObj(pat) && typeof pat.Regex === 'string') pattern = pat.Regex;
        else if (isObj(pat) && typeof pat.String === 'string') pattern = escapeRegex(pat.String);
        else throw new KvError(`${where}: Split pre-tokenizer has no pattern`);
        const behavior = BEHAVIORS[String(p.behavior)];
        if (!behavior || p.invert === true) {
          throw new KvError(`${where}: Split pre-tokenizer with behavior ${String(p.behavior)}${p.invert ? ', invert' : ''} is not supported`);
        }
        steps.push({ kind: 'regex', pattern, behavior });
        return;
      }
      default:
        throw new KvError(
          `${where}: pre-tokenizer ${shortJson(p.type)} is not supported; supported: ByteLevel, Digits, Split, Sequence (byte-level BPE)`,
        );
    }
  };
  visit(pt);
  return { steps, byteLevel };
}

function normalizer(n: unknown, where: string): ((s: string) => string) | undefined {
  if (n === null || n === undefined) return undefined;
  const forms: string[] = [];
  const visit = (x: unknown): void => {
    if (!isObj(x)) throw new KvError(`${where}: normalizer is malformed`);
    if (x.type === 'Sequence') {
      if (!Array.isArray(x.normalizers)) throw new KvError(`${where}: normalizer Sequence has no "normalizers" list`);
      for (const y of x.normalizers as unknown[]) visit(y);
    } else if (x.type === 'NFC' || x.type === 'NFD' || x.type === 'NFKC' || x.type === 'NFKD') forms.push(x.type);
    else throw new KvError(`${where}: normalizer ${shortJson(x.type)} is not supported; supported: NFC, NFD, NFKC, NFKD`);
  };
  visit(n);
  if (forms.length === 0) return undefined;
  return (s) => forms.reduce((acc, f) => acc.normalize(f), s);
}

/** Builds the tokenizer described by a parsed tokenizer.json. `where` names the file in error messages. */
export function tokenizerFromHFJson(json: unknown, where = 'tokenizer.json', hints: HFTokenizerHints = {}): Tokenizer {
  if (!isObj(json) || !isObj(json.model)) {
    throw new KvError(`${where}: not a Hugging Face tokenizer.json (no "model" object)`);
  }
  const model = json.model;
  const type = model.type ?? (model.merges ? 'BPE' : undefined);
  if (type !== 'BPE') {
    throw new KvError(`${where}: unsupported tokenizer model ${String(type)}; supported: BPE (byte-level, or SentencePiece-style with byte_fallback)`);
  }
  if (model.continuing_subword_prefix || model.end_of_word_suffix) {
    throw new KvError(`${where}: BPE with continuing_subword_prefix / end_of_word_suffix is not supported`);
  }
  const { steps, byteLevel } = preTokenizerSteps(json.pre_tokenizer, where);
  const decoderType = isObj(json.decoder) ? json.decoder.type : undefined;
  if (!byteLevel && decoderType !== 'ByteLevel') {
    throw new KvError(
      `${where}: a BPE tokenizer.json is read when it is byte-level (a ByteLevel pre-tokenizer or decoder) or ` +
        'SentencePiece-style (byte_fallback); this one is neither',
    );
  }
  if (!isObj(model.vocab)) throw new KvError(`${where}: model.vocab is missing (it must be an object of token → id)`);
  const vocab = model.vocab as Record<string, unknown>;
  const entries = Object.entries(vocab);
  if (entries.length === 0) throw new KvError(`${where}: model.vocab is empty; the file is not a usable tokenizer (re-download it)`);
  if (json.added_tokens !== undefined && json.added_tokens !== null && !Array.isArray(json.added_tokens)) {
    throw new KvError(`${where}: added_tokens must be a list`);
  }
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as unknown[]) : [];
  const isId = (id: unknown): id is number => typeof id === 'number' && Number.isInteger(id) && id >= 0;
  const limit = entries.length + added.length + ID_SLACK;
  let n = 0;
  for (const [s, id] of entries) {
    if (!isId(id)) throw new KvError(`${where}: model.vocab has a bad id ${shortJson(id)} for ${shortJson(s)} (ids are integers ≥ 0)`);
    if (id >= limit) {
      throw new KvError(`${where}: model.vocab gives ${shortJson(s)} the id ${id}, far beyond its ${entries.length} entries; the file is corrupt`);
    }
    n = Math.max(n, id + 1);
  }
  added.forEach((a, i) => {
    if (!isObj(a) || !isId(a.id) || typeof a.content !== 'string' || a.content === '') {
      throw new KvError(`${where}: added_tokens[${i}] is malformed (${shortJson(a)}); each entry needs an integer "id" and a non-empty "content"`);
    }
    if (a.id >= limit) throw new KvError(`${where}: added_tokens[${i}] has the id ${a.id}, far beyond the vocabulary's ${entries.length} entries; the file is corrupt`);
    n = Math.max(n, a.id + 1);
  });
  const tokens = new Array<string>(n).fill('');
  const types = new Uint8Array(n).fill(TokenType.Unused);
  for (const [s, id] of entries) {
    tokens[id as number] = s;
    types[id as number] = TokenType.Normal;
  }
  // Byte-level BPE holds a symbol for every byte; real files may leave out bytes that never occur in UTF-8 text or
  // rare control bytes, but never printable ASCII: without those, plain text encodes to nothing.
  const missing = Array.from({ length: 0x7f - 0x20 }, (_, i) => byteChar(0x20 + i)).filter((c) => !Object.hasOwn(vocab, c));
  if (missing.length > 0) {
    throw new KvError(
      `${where}: model.vocab lacks ${missing.length} of the 95 printable ASCII byte-level symbols (e.g. ${shortJson(missing[0])}), so text with those bytes would be lost; the file is incomplete`,
    );
  }
  const lstrip: number[] = [];
  const rstrip: number[] = [];
  for (const a of added as Json[]) {
    if (typeof a.id !== 'number' || typeof a.content !== 'string') throw new KvError(`${where}: added_tokens has a malformed entry`);
    tokens[a.id] = a.content;
    types[a.id] = a.special === true ? TokenType.Control : TokenType.UserDefined;
    if (a.lstrip === true) lstrip.push(a.id);
    if (a.rstrip === true) rstrip.push(a.id);
  }
  const merges = model.merges;
  if (!Array.isArray(merges)) throw new KvError(`${where}: model.merges is missing (it must be a list)`);
  merges.forEach((m: unknown, i) => {
    const ok =
      (typeof m === 'string' && m.indexOf(' ', 1) > 0) ||
      (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string' && m[0] !== '' && m[1] !== '');
    if (!ok) throw new KvError(`${where}: model.merges[${i}] is malformed (${shortJson(m)}); each merge is "a b" or ["a", "b"]`);
  });

  // BOS/EOS: the post-processor's template says what encode adds; hints (config files) name the ids.
  const idOf = (v: number | string | undefined): number | undefined =>
    typeof v === 'number' ? v : typeof v === 'string' ? tokens.indexOf(v) : undefined;
  let bos = idOf(hints.bos);
  let eos = idOf(hints.eos);
  let addBos = false;
  let addEos = false;
  const pp = json.post_processor;
  if (isObj(pp) && pp.type === 'TemplateProcessing' && Array.isArray(pp.single)) {
    const single = pp.single as Json[];
    const specialId = (item: Json | undefined): number | undefined => {
      const st = item && isObj(item.SpecialToken) ? item.SpecialToken : undefined;
      return st && typeof st.id === 'string' ? tokens.indexOf(st.id) : undefined;
    };
    const first = specialId(single[0]);
    const last = single.length > 1 ? specialId(single[single.length - 1]) : undefined;
    if (first !== undefined && first >= 0) {
      bos = first;
      addBos = true;
    }
    if (last !== undefined && last >= 0) {
      eos = last;
      addEos = true;
    }
  }
  if (hints.addBos !== undefined) addBos = hints.addBos;
  if (hints.addEos !== undefined) addEos = hints.addEos;
  if (bos === undefined || bos < 0) bos = ['<|begin_of_text|>', '<s>', '<|endoftext|>'].map((t) => tokens.indexOf(t)).find((i) => i >= 0);
  if (eos === undefined || eos < 0) eos = ['<|end_of_text|>', '</s>', '<|endoftext|>'].map((t) => tokens.indexOf(t)).find((i) => i >= 0);

  return new BpeTokenizer({
    tokens,
    types,
    merges: merges as (string | [string, string])[],
    pre: 'tokenizer.json',
    preTokenizer: steps,
    ignoreMerges: model.ignore_merges === true,
    normalize: normalizer(json.normalizer, where),
    bos,
    eos,
    addBos,
    addEos,
    lstrip,
    rstrip,
  });
}
