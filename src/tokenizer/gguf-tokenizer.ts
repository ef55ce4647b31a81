/**
 * A tokenizer from GGUF `tokenizer.ggml.*` metadata, with llama.cpp's defaults where keys are absent
 * (llama-vocab.cpp's `load`): `llama` → SPM (BOS 1, EOS 2, UNK 0, add BOS, space prefix), `gpt2` → byte-level BPE
 * (BOS = EOS = 11 unless given, no BOS added except for llama3-style pre-tokenizers) with the `pre` regexes.
 */
import { KvError } from '../util/errors.js';
import { BpeTokenizer } from './bpe-tokenizer.js';
import { preTokenizerStepsFor } from './pre-tokenizer.js';
import { SpmTokenizer } from './spm-tokenizer.js';
import { TokenType, type Tokenizer } from './tokenizer.js';

/** The `tokenizer.ggml.model` values this project implements. */
export const SUPPORTED_GGUF_TOKENIZERS = ['llama (SentencePiece BPE)', 'gpt2 (byte-level BPE)', 'gemma4 (SentencePiece-style BPE with merges)'];

const UNSUPPORTED: Record<string, string> = {
  bert: 'WordPiece (WPM)',
  t5: 'Unigram (UGM)',
  rwkv: 'RWKV',
  plamo2: 'PLaMo-2',
  'no_vocab': 'no vocabulary',
  none: 'no vocabulary',
};

/** llama3-style pre-tokenizers that use whole-word vocabulary hits and add BOS (llama.cpp's ignore_merges). */
const IGNORE_MERGES_PRE = new Set(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'tekken']);

function optionalInt(md: Map<string, unknown>, key: string, where: string): number | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new KvError(`${where}: metadata ${key} should be an integer, got ${typeof v}`);
}

function optionalBool(md: Map<string, unknown>, key: string, where: string): boolean | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  throw new KvError(`${where}: metadata ${key} should be a boolean, got ${typeof v}`);
}

function stringArray(md: Map<string, unknown>, key: string, where: string): string[] | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new KvError(`${where}: metadata ${key} should be an array of strings`);
}

function numberArray(md: Map<string, unknown>, key: string, where: string, n: number): ArrayLike<number> | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  const ok =
    (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)) ||
    (Array.isArray(v) && v.every((x) => typeof x === 'number'));
  if (!ok) throw new KvError(`${where}: metadata ${key} should be a numeric array`);
  const a = v as ArrayLike<number>;
  if (a.length !== n) throw new KvError(`${where}: metadata ${key} has ${a.length} entries but there are ${n} tokens`);
  return a;
}

/** What a Hugging Face folder's tokenizer adds to the metadata (no GGUF key says it). */
export interface GGUFTokenizerOptions {
  /** SPM: the space prefix only at the start of the text (Metaspace `prepend_scheme: first`). */
  spacePrefixAtStartOnly?: boolean;
  /** Special tokens that swallow whitespace on their left / right, besides llama.cpp's rule by model name. */
  lstrip?: number[];
  rstrip?: number[];
}

/**
 * Builds the tokenizer described by GGUF metadata (as `openGGUF(path).metadata` holds it). `where` names the file
 * in error messages.
 */
export function tokenizerFromGGUFMetadata(md: Map<string, unknown>, where = 'GGUF', options: GGUFTokenizerOptions = {}): Tokenizer {
  const model = md.get('tokenizer.ggml.model');
  if (model === undefined) {
    throw new KvError(`${where}: no tokenizer in this GGUF (tokenizer.ggml.model is missing); use a GGUF that includes its vocabulary`);
  }
  if (typeof model !== 'string') throw new KvError(`${where}: metadata tokenizer.ggml.model should be a string`);
  if (model !== 'llama' && model !== 'gpt2' && model !== 'gemma4') {
    const what = UNSUPPORTED[model] ? `${model}, ${UNSUPPORTED[model]}` : model;
    throw new KvError(
      `${where}: unsupported tokenizer 'tokenizer.ggml.model = ${what}'; supported: ${SUPPORTED_GGUF_TOKENIZERS.join(', ')}`,
    );
  }
  const tokens = stringArray(md, 'tokenizer.ggml.tokens', where);
  if (!tokens || tokens.length === 0) throw new KvError(`${where}: metadata tokenizer.ggml.tokens is missing or empty`);
  const n = tokens.length;
  const types = numberArray(md, 'tokenizer.ggml.token_type', where, n);
  const id = (k: string): number | undefined => optionalInt(md, `tokenizer.ggml.${k}`, where);
  const flag = (k: string): boolean | undefined => optionalBool(md, `tokenizer.ggml.${k}`, where);
  const eog = [id('eom_token_id')].filter((x): x is number => x !== undefined);
  const fim = { pad: id('fim_pad_token_id'), rep: id('fim_rep_token_id'), sep: id('fim_sep_token_id') };

  // phi-3: llama.cpp makes special tokens swallow whitespace to their right (all but <unk>, <s>, <|endoftext|>).
  const name = String(md.get('general.name') ?? '').toLowerCase();
  const rstrip: number[] = [...(options.rstrip ?? [])];
  const lstrip = options.lstrip ?? [];
  if (name.includes('phi-3') || name.includes('phi3')) {
    const keep = new Set(['<unk>', '<s>', '<|endoftext|>']);
    for (let i = 0; i < n; i++) {
      const t = types ? types[i] : TokenType.Normal;
      const special = t === TokenType.Control || t === TokenType.UserDefined || t === TokenType.Unknown;
      if ((special || tokens[i] === '</s>') && !keep.has(tokens[i]!)) rstrip.push(i);
    }
  }

  if (model === 'llama') {
    const scores = numberArray(md, 'tokenizer.ggml.scores', where, n);
    if (!scores) throw new KvError(`${where}: metadata tokenizer.ggml.scores is missing (an SPM vocabulary needs scores)`);
    return new SpmTokenizer({
      tokens,
      types,
      scores,
      bos: id('bos_token_id') ?? 1,
      eos: id('eos_token_id') ?? 2,
      eot: id('eot_token_id'),
      eog,
      fim,
      unk: id('unknown_token_id') ?? 0,
      addBos: flag('add_bos_token') ?? true,
      addEos: flag('add_eos_token') ?? false,
      addSpacePrefix: flag('add_space_prefix') ?? true,
      spacePrefixAtStartOnly: options.spacePrefixAtStartOnly ?? false,
      lstrip,
      rstrip,
    });
  }

  // gemma4: BPE merges on raw UTF-8 with `▁` for spaces (llama.cpp sets the pre-tokenizer to gemma4 and always adds BOS)
  const preValue = md.get('tokenizer.ggml.pre') ?? (model === 'gemma4' ? 'gemma4' : 'default');
  if (typeof preValue !== 'string') throw new KvError(`${where}: metadata tokenizer.ggml.pre should be a string`);
  let steps;
  try {
    steps = preTokenizerStepsFor(preValue);
  } catch (err) {
    throw new KvError(`${where}: ${(err as Error).message}`);
  }
  const merges = stringArray(md, 'tokenizer.ggml.merges', where);
  if (!merges) throw new KvError(`${where}: metadata tokenizer.ggml.merges is missing (a gpt2 vocabulary needs merges)`);
  const llama3Like = IGNORE_MERGES_PRE.has(preValue);
  const gemma4 = preValue === 'gemma4';
  return new BpeTokenizer({
    tokens,
    types,
    merges,
    pre: preValue,
    preTokenizer: steps,
    ignoreMerges: llama3Like,
    bos: id('bos_token_id') ?? (model === 'gemma4' ? undefined : 11),
    eos: id('eos_token_id') ?? (model === 'gemma4' ? undefined : 11),
    eot: id('eot_token_id'),
    eog,
    fim,
    unk: id('unknown_token_id'),
    addBos: gemma4 || (flag('add_bos_token') ?? (llama3Like || preValue === 'chameleon')),
    rawUtf8: gemma4,
    addEos: flag('add_eos_token') ?? false,
    lstrip,
    rstrip,
  });
}
