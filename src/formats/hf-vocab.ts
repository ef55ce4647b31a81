/**
 * A Hugging Face folder's tokenizer as GGUF `tokenizer.*` metadata, as llama.cpp's converter writes it
 * (convert_hf_to_gguf.py's `_set_vocab_gpt2` and gguf-py's `SpecialVocab`): byte-level BPE (`tokenizer.ggml.model =
 * gpt2`), one token per id up to the config's `vocab_size` (ids the tokenizer lacks become `[PAD{i}]`, unused), token
 * types (added special tokens and `<|...|>` ones control, other added tokens user-defined), merges as "a b" strings,
 * the pre-tokenizer's GGUF name, BOS/EOS/UNK/PAD ids, add_bos/add_eos, and the chat template; or SentencePiece-style
 * (`tokenizer.ggml.model = llama`, `_create_vocab_sentencepiece`) from a tokenizer.model or a byte_fallback
 * tokenizer.json (src/tokenizer/spm-vocab.ts): tokens, scores and types padded to `vocab_size`, `add_space_prefix`,
 * and the same special-token fields.
 *
 * The pre-tokenizer name is found by what it does, not by a hash of a tokenizer's output as llama.cpp does: the
 * tokenizer.json's pre-tokenizer and each GGUF pre-tokenizer kvmerger implements split a probe text (whitespace runs,
 * digits, contractions, punctuation, emoji, several scripts) and the first that splits it the same is taken.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KvError } from '../util/errors.js';
import { tokenizerFromGGUFMetadata } from '../tokenizer/gguf-tokenizer.js';
import { preTokenizerSteps, tokenizerFromHFJson, type HFTokenizerHints } from '../tokenizer/hf-tokenizer.js';
import { makePreTokenizer, preTokenizerStepsFor } from '../tokenizer/pre-tokenizer.js';
import { isSpmTokenizerJson, spmVocabFromSentencePiece, spmVocabFromTokenizerJson } from '../tokenizer/spm-vocab.js';
import { TokenType, type Tokenizer } from '../tokenizer/tokenizer.js';
import { gguf } from './gguf-writer.js';
import type { GGUFTypedValue } from './gguf-types.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Candidate GGUF pre-tokenizer names, in the order they are tried (one per distinct behaviour). */
const PRE_CANDIDATES = ['llama-bpe', 'qwen2', 'smollm', 'gpt-2', 'default', 'gpt-4o', 'deepseek-llm', 'deepseek-coder', 'falcon'];

const PROBE =
  '\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶‍🌫️ (multiple emojis) ✅ 🦙🦙 3 33 333 3333 33333 333333 ' +
  '3333333 3.3 3..3 3...3 កាន់តែពិសេស 😁 ?我想在apple工作1314151天～ ------======= нещо на Български ' +
  "''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, " +
  "'D you like some tea? We'Ve a'lL HELLO World's  x\r\ny  \t z $5+3=8 <tag> a|b ^~";

/** Reads a JSON file of the folder, or undefined when absent; a KvError naming it when it does not parse. */
export function readJsonFile(path: string): Json | undefined {
  if (!existsSync(path)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = (err as Error).message.replace(/,\s*".*" is not valid JSON$/s, '');
    throw new KvError(`${path}: not valid JSON (${why.slice(0, 100)})`);
  }
  if (!isObj(v)) throw new KvError(`${path}: expected a JSON object`);
  return v;
}

/** The GGUF `tokenizer.ggml.pre` that splits text as this tokenizer.json's pre-tokenizer does. */
export function ggufPreName(tokenizerJson: Json, where: string): string {
  const { steps } = preTokenizerSteps(tokenizerJson.pre_tokenizer, where);
  const hf = makePreTokenizer(steps)(PROBE).join('\u0000');
  for (const name of PRE_CANDIDATES) {
    if (makePreTokenizer(preTokenizerStepsFor(name))(PROBE).join('\u0000') === hf) return name;
  }
  throw new KvError(
    `${where}: its pre-tokenizer splits text unlike every GGUF pre-tokenizer kvmerger knows (${PRE_CANDIDATES.join(', ')}); it cannot be written as GGUF tokenizer metadata`,
  );
}

function looksSpecial(t: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) ||
    (t.startsWith('<|') && t.endsWith('|>')) ||
    (t.startsWith('<｜') && t.endsWith('｜>')) ||
    (t.startsWith('<unused') && t.endsWith('>'))
  );
}

/** The chat template of the folder: tokenizer_config.json's `chat_template` (or its `default` entry), else chat_template.jinja / .json. */
export function hfChatTemplate(dir: string, tokenizerConfig: Json | undefined): string | undefined {
  const ct = tokenizerConfig?.chat_template;
  if (typeof ct === 'string') return ct;
  if (Array.isArray(ct)) {
    const named = ct.filter(isObj);
    const d = named.find((x) => x.name === 'default') ?? named[0];
    if (d && typeof d.template === 'string') return d.template;
  }
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return readFileSync(jinja, 'utf8');
  const j = readJsonFile(join(dir, 'chat_template.json'));
  if (j && typeof j.chat_template === 'string') return j.chat_template;
  return undefined;
}

/** Which files hold the tokenizer: by default the folder's tokenizer.model, else its tokenizer.json. */
export interface VocabularyFiles {
  /** This tokenizer.json (a `--tokenizer FILE`), not the folder's tokenizer.model. */
  tokenizerJson?: string;
  /** This tokenizer.model (a `--tokenizer FILE`), whatever the folder's tokenizer.json is. */
  tokenizerModel?: string;
}

/** A BPE tokenizer.json without byte_fallback (byte-level BPE, or one hf-tokenizer.ts refuses with its reason). */
function isByteLevelJson(tj: Json | undefined): boolean {
  return tj !== undefined && isObj(tj.model) && (tj.model.type ?? (tj.model.merges ? 'BPE' : undefined)) === 'BPE' && !isSpmTokenizerJson(tj);
}

/** One more than the largest id of a tokenizer.json's vocab and added tokens. */
function idCount(vocab: Json, added: unknown): number {
  let n = 0;
  for (const id of Object.values(vocab)) if (typeof id === 'number') n = Math.max(n, id + 1);
  if (Array.isArray(added)) for (const a of added) if (isObj(a) && typeof a.id === 'number') n = Math.max(n, a.id + 1);
  return n;
}

/**
 * The tokenizer of a folder as it tokenises (`--model DIR`, `loadTokenizer(DIR)`): a byte-level BPE tokenizer.json
 * through src/tokenizer/hf-tokenizer.ts (its own pre-tokenizer rules); a SentencePiece-style vocabulary through the
 * GGUF metadata its conversion writes (so the folder and its GGUF tokenise alike), with a tokenizer.json's
 * `prepend_scheme: first` kept. `vocabSize`: config.json's (undefined: the tokenizer's own size).
 */
export function hfFolderTokenizer(dir: string, vocabSize: number | undefined, config: Json, files: VocabularyFiles = {}): Tokenizer {
  const path = files.tokenizerJson ?? join(dir, 'tokenizer.json');
  const tj = readJsonFile(path);
  const byteLevel = files.tokenizerModel === undefined && isByteLevelJson(tj);
  if (byteLevel && tj) return tokenizerFromHFJson(tj, path, hfHints(readJsonFile(join(dir, 'tokenizer_config.json')), config));
  const v = hfVocabulary(dir, vocabSize, config, files);
  const md = new Map<string, unknown>([...v.metadata].map(([k, x]) => [k, x.value]));
  if (!md.has('general.name')) md.set('general.name', basename(dir.replace(/[/\\]+$/, '')));
  return tokenizerFromGGUFMetadata(md, v.source, { spacePrefixAtStartOnly: v.spacePrefixAtStartOnly, lstrip: v.lstrip, rstrip: v.rstrip });
}

/** BOS/EOS hints for a byte-level tokenizer.json from tokenizer_config.json and config.json. */
function hfHints(tc: Json | undefined, config: Json): HFTokenizerHints {
  const content = (v: unknown): string | undefined => (typeof v === 'string' ? v : isObj(v) && typeof v.content === 'string' ? v.content : undefined);
  const hints: HFTokenizerHints = {};
  const bos = content(tc?.bos_token) ?? (typeof config.bos_token_id === 'number' ? config.bos_token_id : undefined);
  const eos = content(tc?.eos_token) ?? (typeof config.eos_token_id === 'number' ? config.eos_token_id : undefined);
  if (bos !== undefined) hints.bos = bos;
  if (eos !== undefined) hints.eos = eos;
  if (typeof tc?.add_bos_token === 'boolean') hints.addBos = tc.add_bos_token;
  if (typeof tc?.add_eos_token === 'boolean') hints.addEos = tc.add_eos_token;
  return hints;
}

/** What a folder's vocabulary becomes: GGUF metadata, and what GGUF cannot say about how the folder tokenises. */
export interface HFVocabulary {
  metadata: Map<string, GGUFTypedValue>;
  /** `gpt2` (byte-level BPE) or `llama` (SentencePiece-style). */
  kind: 'gpt2' | 'llama';
  /** The file the vocabulary was read from (tokenizer.json or tokenizer.model). */
  source: string;
  /**
   * A tokenizer.json's Metaspace `prepend_scheme: first`: the ▁ prefix only at the start of the text, not after
   * special tokens. GGUF has no key for it: a converted file gets llama.cpp's rule (after special tokens too).
   */
  spacePrefixAtStartOnly: boolean;
  /** A tokenizer.json's added tokens with `lstrip` / `rstrip` (GGUF has no key: llama.cpp sets them by model name). */
  lstrip: number[];
  rstrip: number[];
}

/**
 * The GGUF tokenizer metadata of the folder `dir` (tokenizer.json, tokenizer.model, tokenizer_config.json,
 * config.json), with `vocabSize` tokens. KvError naming the file when the tokenizer cannot be written as GGUF.
 */
export function hfTokenizerMetadata(dir: string, vocabSize: number, config: Json): Map<string, GGUFTypedValue> {
  return hfVocabulary(dir, vocabSize, config).metadata;
}

/**
 * The folder's vocabulary as llama.cpp's converter chooses it: a byte-level BPE tokenizer.json → `gpt2`; else a
 * SentencePiece `tokenizer.model` → `llama` (its pieces and scores); else a SentencePiece-style tokenizer.json
 * (BPE with byte_fallback) → `llama` (scores from its merges, see src/tokenizer/spm-vocab.ts).
 */
export function hfVocabulary(dir: string, vocabSizeArg: number | undefined, config: Json, files: VocabularyFiles = {}): HFVocabulary {
  const path = files.tokenizerJson ?? join(dir, 'tokenizer.json');
  const tj = readJsonFile(path);
  const spPath = files.tokenizerModel ?? (files.tokenizerJson !== undefined ? undefined : join(dir, 'tokenizer.model'));
  const tc = readJsonFile(join(dir, 'tokenizer_config.json'));
  const byteLevel = files.tokenizerModel === undefined && isByteLevelJson(tj);
  if (!byteLevel && ((spPath !== undefined && existsSync(spPath)) || (tj !== undefined && isSpmTokenizerJson(tj)))) {
    return spmVocabulary(dir, vocabSizeArg, config, spPath !== undefined && existsSync(spPath) ? spPath : undefined, path, tj, tc);
  }
  if (!tj) throw new KvError(`${dir}: no tokenizer.json or tokenizer.model; kvmerger reads a byte-level BPE tokenizer.json, a SentencePiece-style one, or a SentencePiece tokenizer.model`);
  const model = tj.model;
  if (!isObj(model) || (model.type ?? (model.merges ? 'BPE' : undefined)) !== 'BPE' || !isObj(model.vocab)) {
    throw new KvError(`${path}: only BPE tokenizers (model.type BPE with a vocab: byte-level, or SentencePiece-style with byte_fallback) can be converted; this is ${isObj(model) ? String(model.type) : 'not a tokenizer.json'}`);
  }
  const pre = ggufPreName(tj, path);
  const vocabSize = vocabSizeArg ?? idCount(model.vocab as Json, tj.added_tokens);
  const tokens: (string | undefined)[] = new Array<string | undefined>(vocabSize);
  const types = new Int32Array(vocabSize).fill(TokenType.Unused);
  for (const [s, id] of Object.entries(model.vocab as Json)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new KvError(`${path}: model.vocab has a bad id for ${JSON.stringify(s).slice(0, 40)}`);
    if (id >= vocabSize) throw new KvError(`${path}: token id ${id} is beyond config.json's vocab_size ${vocabSize}`);
    tokens[id] = s;
    types[id] = TokenType.Normal;
  }
  const added = Array.isArray(tj.added_tokens) ? tj.added_tokens : [];
  for (const a of added) {
    if (!isObj(a) || typeof a.id !== 'number' || typeof a.content !== 'string') throw new KvError(`${path}: added_tokens has a malformed entry`);
    if (a.id >= vocabSize) throw new KvError(`${path}: added token ${JSON.stringify(a.content).slice(0, 40)} has id ${a.id}, beyond config.json's vocab_size ${vocabSize}`);
    tokens[a.id] = a.content;
    types[a.id] = a.special === true || looksSpecial(a.content) ? TokenType.Control : TokenType.UserDefined;
  }
  const list = Array.from({ length: vocabSize }, (_, i) => tokens[i] ?? `[PAD${i}]`); // (map would skip the holes)
  const merges = Array.isArray(model.merges) ? model.merges : [];
  const mergeStrings = merges.map((m: unknown, i: number) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return m.map((part: string) => part.replace(/ /g, String.fromCharCode(0x20 + 256))).join(' ');
    }
    throw new KvError(`${path}: model.merges[${i}] is malformed`);
  });

  const md = new Map<string, GGUFTypedValue>();
  md.set('tokenizer.ggml.model', gguf.str('gpt2'));
  md.set('tokenizer.ggml.pre', gguf.str(pre));
  md.set('tokenizer.ggml.tokens', gguf.strArr(list));
  md.set('tokenizer.ggml.token_type', gguf.i32Arr(types));
  md.set('tokenizer.ggml.merges', gguf.strArr(mergeStrings));
  setSpecialTokens(md, list, dir, tj, tc, config, {});
  return { metadata: md, kind: 'gpt2', source: path, spacePrefixAtStartOnly: false, lstrip: [], rstrip: [] };
}

/** A SentencePiece-style folder as `tokenizer.ggml.model = llama`, padded to `vocabSize` as the converter pads. */
function spmVocabulary(dir: string, vocabSizeArg: number | undefined, config: Json, spPath: string | undefined, tjPath: string, tj: Json | undefined, tc: Json | undefined): HFVocabulary {
  const fromModel = spPath !== undefined;
  const source = spPath ?? tjPath;
  const v = spPath !== undefined ? spmVocabFromSentencePiece(readFileSync(spPath), spPath) : spmVocabFromTokenizerJson(tj, source);
  const vocabSize = vocabSizeArg ?? v.tokens.length;
  if (v.tokens.length > vocabSize) throw new KvError(`${source}: ${v.tokens.length} tokens, more than config.json's vocab_size ${vocabSize}; the tokenizer is not this model's`);
  const tokens = [...v.tokens];
  const scores = [...v.scores];
  const types = [...v.types];
  // ids the file lacks, up to vocab_size: [PAD{i}], unused (convert_hf_to_gguf.py's _create_vocab_sentencepiece)
  for (let i = tokens.length; i < vocabSize; i++) {
    tokens.push(`[PAD${i}]`);
    scores.push(-10000);
    types.push(TokenType.Unused);
  }
  if (fromModel) {
    // the converter's added tokens: added_tokens.json (user-defined), then tokenizer_config.json's added_tokens_decoder
    const addedPath = join(dir, 'added_tokens.json');
    const addedJson = readJsonFile(addedPath);
    for (const [text, id] of Object.entries(addedJson ?? {})) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new KvError(`${addedPath}: a bad id for ${JSON.stringify(text).slice(0, 40)}`);
      if (id >= vocabSize) continue;
      tokens[id] = text;
      scores[id] = -1000;
      types[id] = TokenType.UserDefined;
    }
    const decoder = isObj(tc?.added_tokens_decoder) ? tc.added_tokens_decoder : {};
    for (const [key, data] of Object.entries(decoder)) {
      const id = Number(key);
      if (!Number.isInteger(id) || id < 0 || !isObj(data) || typeof data.content !== 'string') throw new KvError(`${join(dir, 'tokenizer_config.json')}: added_tokens_decoder has a malformed entry '${key.slice(0, 20)}'`);
      if (id >= vocabSize) continue;
      const control = data.special === true || looksSpecial(data.content);
      tokens[id] = control ? data.content : data.content.replaceAll('\u2581', ' ');
      scores[id] = -1000;
      types[id] = control ? TokenType.Control : TokenType.UserDefined;
    }
  }
  const md = new Map<string, GGUFTypedValue>();
  md.set('tokenizer.ggml.model', gguf.str('llama'));
  md.set('tokenizer.ggml.pre', gguf.str('default'));
  md.set('tokenizer.ggml.tokens', gguf.strArr(tokens));
  md.set('tokenizer.ggml.scores', gguf.f32Arr(Float32Array.from(scores)));
  md.set('tokenizer.ggml.token_type', gguf.i32Arr(Int32Array.from(types)));
  md.set('tokenizer.ggml.add_space_prefix', gguf.bool(v.addSpacePrefix));
  setSpecialTokens(md, tokens, dir, tj, tc, config, { bos: v.bos, eos: v.eos, unknown: v.unk });
  return { metadata: md, kind: 'llama', source, spacePrefixAtStartOnly: v.spacePrefixAtStartOnly, lstrip: v.lstrip, rstrip: v.rstrip };
}

/**
 * BOS/EOS/UNK/PAD ids, add_bos/add_eos and the chat template, as gguf-py's SpecialVocab finds them: tokenizer_config.json
 * names the tokens (a string or {content}); config.json's ids, then `fallback` (a tokenizer.model's own ids) where it
 * does not; add_bos/add_eos from tokenizer_config.json, else the post-processor's template.
 */
function setSpecialTokens(md: Map<string, GGUFTypedValue>, list: string[], dir: string, tj: Json | undefined, tc: Json | undefined, config: Json, fallback: { bos?: number | undefined; eos?: number | undefined; unknown?: number | undefined }): void {
  const vocabSize = list.length;
  const content = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : isObj(v) && typeof v.content === 'string' ? v.content : undefined;
  const idOf = (s: string | undefined): number | undefined => {
    if (s === undefined) return undefined;
    const i = list.indexOf(s);
    return i >= 0 ? i : undefined;
  };
  const firstId = (v: unknown): number | undefined =>
    typeof v === 'number' ? v : Array.isArray(v) && typeof v[0] === 'number' ? v[0] : undefined;
  const special: Record<string, number | undefined> = {
    bos: idOf(content(tc?.bos_token)) ?? firstId(config.bos_token_id) ?? fallback.bos,
    eos: idOf(content(tc?.eos_token)) ?? firstId(config.eos_token_id) ?? fallback.eos,
    unknown: idOf(content(tc?.unk_token)) ?? fallback.unknown,
    padding: idOf(content(tc?.pad_token)) ?? firstId(config.pad_token_id),
  };
  for (const [k, v] of Object.entries(special)) {
    if (v !== undefined && v >= 0 && v < vocabSize) md.set(`tokenizer.ggml.${k}_token_id`, gguf.u32(v));
  }
  // add_bos / add_eos: tokenizer_config.json's flags, else the post-processor's template (a leading / trailing special token).
  let addBos = typeof tc?.add_bos_token === 'boolean' ? tc.add_bos_token : undefined;
  let addEos = typeof tc?.add_eos_token === 'boolean' ? tc.add_eos_token : undefined;
  const pp = tj?.post_processor;
  const procs = isObj(pp) ? (Array.isArray(pp.processors) ? pp.processors : [pp]) : [];
  for (const p of procs) {
    if (!isObj(p) || p.type !== 'TemplateProcessing' || !Array.isArray(p.single) || p.single.length < 2) continue;
    const sid = (x: unknown) => (isObj(x) && isObj(x.SpecialToken) && typeof x.SpecialToken.id === 'string' ? x.SpecialToken.id : undefined);
    const first = sid(p.single[0]);
    const last = sid(p.single[p.single.length - 1]);
    if (first !== undefined && addBos === undefined) {
      addBos = true;
      const id = idOf(first);
      if (id !== undefined) md.set('tokenizer.ggml.bos_token_id', gguf.u32(id));
    }
    if (last !== undefined && addEos === undefined) addEos = idOf(last) === special.eos;
  }
  if (addBos !== undefined) md.set('tokenizer.ggml.add_bos_token', gguf.bool(addBos));
  if (addEos !== undefined) md.set('tokenizer.ggml.add_eos_token', gguf.bool(addEos));
  const template = hfChatTemplate(dir, tc);
  if (template !== undefined) md.set('tokenizer.chat_template', gguf.str(template));
}
