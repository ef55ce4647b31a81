/**
 * A Hugging Face folder's tokenizer as GGUF `tokenizer.*` metadata, as llama.cpp's converter writes it
 * (convert_hf_to_gguf.py's `_set_vocab_gpt2` and gguf-py's `SpecialVocab`): byte-level BPE (`tokenizer.ggml.model =
 * gpt2`), one token per id up to the config's `vocab_size` (ids the tokenizer lacks become `[PAD{i}]`, unused), token
 * types (added special tokens and `<|...|>` ones control, other added tokens user-defined), merges as "a b" strings,
 * the pre-tokenizer's GGUF name, BOS/EOS/UNK/PAD ids, add_bos/add_eos, and the chat template.
 *
 * The pre-tokenizer name is found by what it does, not by a hash of a tokenizer's output as llama.cpp does: the
 * tokenizer.json's pre-tokenizer and each GGUF pre-tokenizer kvmerger implements split a probe text (whitespace runs,
 * digits, contractions, punctuation, emoji, several scripts) and the first that splits it the same is taken.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvError } from '../util/errors.js';
import { preTokenizerSteps } from '../tokenizer/hf-tokenizer.js';
import { makePreTokenizer, preTokenizerStepsFor } from '../tokenizer/pre-tokenizer.js';
import { TokenType } from '../tokenizer/tokenizer.js';
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

/**
 * The GGUF tokenizer metadata of the folder `dir` (tokenizer.json, tokenizer_config.json, config.json), with
 * `vocabSize` tokens. KvError naming the file when the tokenizer cannot be written as GGUF (not byte-level BPE, ...).
 */
export function hfTokenizerMetadata(dir: string, vocabSize: number, config: Json): Map<string, GGUFTypedValue> {
  const path = join(dir, 'tokenizer.json');
  const tj = readJsonFile(path);
  if (!tj) throw new KvError(`${dir}: no tokenizer.json; kvmerger reads Hugging Face folders with a byte-level BPE tokenizer.json`);
  const model = tj.model;
  if (!isObj(model) || (model.type ?? (model.merges ? 'BPE' : undefined)) !== 'BPE' || !isObj(model.vocab)) {
    throw new KvError(`${path}: only byte-level BPE tokenizers (model.type BPE with a vocab) can be converted; this is ${isObj(model) ? String(model.type) : 'not a tokenizer.json'}`);
  }
  if (model.byte_fallback === true) {
    throw new KvError(`${path}: a SentencePiece-style BPE (byte_fallback) is not supported yet; only byte-level BPE tokenizers convert`);
  }
  const pre = ggufPreName(tj, path);
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
  const list = tokens.map((t, i) => t ?? `[PAD${i}]`);
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

  // Special tokens: tokenizer_config.json names them (a string or {content}); config.json's ids are the fallback.
  const tc = readJsonFile(join(dir, 'tokenizer_config.json'));
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
    bos: idOf(content(tc?.bos_token)) ?? firstId(config.bos_token_id),
    eos: idOf(content(tc?.eos_token)) ?? firstId(config.eos_token_id),
    unknown: idOf(content(tc?.unk_token)),
    padding: idOf(content(tc?.pad_token)) ?? firstId(config.pad_token_id),
  };
  for (const [k, v] of Object.entries(special)) {
    if (v !== undefined && v >= 0 && v < vocabSize) md.set(`tokenizer.ggml.${k === 'unknown' ? 'unknown' : k}_token_id`, gguf.u32(v));
  }
  // add_bos / add_eos: tokenizer_config.json's flags, else the post-processor's template (a leading / trailing special token).
  let addBos = typeof tc?.add_bos_token === 'boolean' ? tc.add_bos_token : undefined;
  let addEos = typeof tc?.add_eos_token === 'boolean' ? tc.add_eos_token : undefined;
  const pp = tj.post_processor;
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
  return md;
}
