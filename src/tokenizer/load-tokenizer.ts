/**
 * `loadTokenizer(path)`: a GGUF (its `tokenizer.ggml.*` metadata), a llama2.c `tokenizer.bin`, a Hugging Face
 * `tokenizer.json` (byte-level BPE, or SentencePiece-style with byte_fallback), recognised by content rather than by
 * name; a SentencePiece `tokenizer.model` (by its .model name: its protobuf has no magic); or a Hugging Face folder
 * (a directory with config.json: its tokenizer.model or tokenizer.json, as src/formats/hf-vocab.ts chooses).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openGGUF } from '../formats/gguf-reader.js';
import { hfFolderTokenizer, readJsonFile } from '../formats/hf-vocab.js';
import { KvError } from '../util/errors.js';
import { tokenizerFromGGUFMetadata } from './gguf-tokenizer.js';
import { tokenizerFromHFJson, type HFTokenizerHints } from './hf-tokenizer.js';
import { Llama2cTokenizer, parseLlama2cTokenizer } from './llama2c-tokenizer.js';
import { isSpmTokenizerJson } from './spm-vocab.js';
import type { Tokenizer } from './tokenizer.js';

const NOT_FOUND =
  'no tokenizer found: expected a GGUF with tokenizer.ggml.* metadata, a llama2.c tokenizer.bin or a Hugging Face tokenizer.json';

function head(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** BOS/EOS from config.json / tokenizer_config.json beside a tokenizer.json, when present. */
function hfHints(path: string): HFTokenizerHints {
  const hints: HFTokenizerHints = {};
  const read = (name: string): Record<string, unknown> | undefined => {
    const p = join(dirname(path), name);
    if (!existsSync(p)) return undefined;
    try {
      const v = JSON.parse(readFileSync(p, 'utf8')) as unknown;
      return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined; // a broken neighbour is not this file's problem
    }
  };
  const content = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string'
      ? (v as { content: string }).content
      : undefined;
  const tc = read('tokenizer_config.json');
  if (tc) {
    hints.bos = content(tc.bos_token);
    hints.eos = content(tc.eos_token);
    if (typeof tc.add_bos_token === 'boolean') hints.addBos = tc.add_bos_token;
    if (typeof tc.add_eos_token === 'boolean') hints.addEos = tc.add_eos_token;
  }
  const cfg = read('config.json');
  if (cfg) {
    if (typeof cfg.bos_token_id === 'number') hints.bos ??= cfg.bos_token_id;
    if (typeof cfg.eos_token_id === 'number') hints.eos ??= cfg.eos_token_id;
  }
  return hints;
}

export interface LoadTokenizerOptions {
  /** The model's vocabulary size, when known: a llama2.c tokenizer.bin is read for exactly this many tokens. */
  vocabSize?: number;
}

/** Loads the tokenizer in `path`; throws KvError naming the file and the problem. */
export function loadTokenizer(path: string, options: LoadTokenizerOptions = {}): Tokenizer {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) {
      if (existsSync(join(path, 'config.json'))) return folderTokenizer(path, {});
      throw new KvError(`${path}: is a directory without config.json; pass a GGUF, a tokenizer.bin, a tokenizer.json or a tokenizer.model file, or a Hugging Face model folder`);
    }
    size = st.size;
  } catch (err) {
    if (err instanceof KvError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw new KvError(`${path}: no such file; check the path`);
    throw new KvError(`${path}: cannot read (${(err as Error).message})`);
  }
  if (basename(path).endsWith('.model')) return folderTokenizer(dirname(path), { tokenizerModel: path });
  const h = head(path, 64);
  const magic = String.fromCharCode(...h.subarray(0, 4));
  if (magic === 'GGUF') {
    const g = openGGUF(path);
    try {
      if (!g.metadata.has('tokenizer.ggml.model')) throw new KvError(`${path}: ${NOT_FOUND} (this GGUF has no tokenizer.ggml.model)`);
      return tokenizerFromGGUFMetadata(g.metadata as Map<string, unknown>, path);
    } finally {
      g.close();
    }
  }
  const firstChar = new TextDecoder().decode(h).trimStart()[0];
  if (firstChar === '{') {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      // V8's message quotes the text around the error; for a damaged file that is its raw bytes, so drop it.
      const why = (err as Error).message.replace(/,\s*".*" is not valid JSON$/s, '');
      throw new KvError(`${path}: ${NOT_FOUND} (invalid JSON: ${why})`);
    }
    if (typeof json !== 'object' || json === null || !('model' in json)) {
      throw new KvError(`${path}: ${NOT_FOUND} (this JSON has no "model"; is it config.json rather than tokenizer.json?)`);
    }
    // SentencePiece-style (byte_fallback): as its folder's conversion writes it, the folder's config files beside it
    if (isSpmTokenizerJson(json)) return folderTokenizer(dirname(path), { tokenizerJson: path });
    return tokenizerFromHFJson(json, path, hfHints(path));
  }
  if (looksLikeLlama2cCheckpoint(h)) {
    throw new KvError(`${path}: ${NOT_FOUND} (this looks like a llama2.c checkpoint, which holds no vocabulary; pass its tokenizer.bin)`);
  }
  if (size >= 4) {
    try {
      return new Llama2cTokenizer(parseLlama2cTokenizer(readFileSync(path), path, options.vocabSize));
    } catch (err) {
      if (!(err instanceof KvError)) throw err;
      // A plausible max_token_length and a first token that parses: meant as a tokenizer.bin, so say what is wrong.
      if (looksLikeLlama2cTokenizer(h)) throw err;
    }
  }
  throw new KvError(`${path}: ${NOT_FOUND}`);
}

/**
 * A Hugging Face folder's tokenizer (or one file of it), with config.json's vocab_size when the folder has one: a
 * tokenizer.model or an SPM tokenizer.json pads to it, as its conversion does.
 */
function folderTokenizer(dir: string, files: { tokenizerJson?: string; tokenizerModel?: string }): Tokenizer {
  let config: Record<string, unknown> = {};
  try {
    const c = readJsonFile(join(dir, 'config.json'));
    if (c) config = typeof c.text_config === 'object' && c.text_config !== null ? { ...c, ...(c.text_config as Record<string, unknown>) } : c;
  } catch {
    config = {}; // a broken neighbour is not this file's problem
  }
  const vocabSize = typeof config.vocab_size === 'number' && Number.isInteger(config.vocab_size) && config.vocab_size > 0 ? config.vocab_size : undefined;
  return hfFolderTokenizer(dir, vocabSize, config, files);
}

/** The start of a llama2.c tokenizer.bin: max_token_length in 1..64 Ki, then the first token's finite score. */
function looksLikeLlama2cTokenizer(h: Uint8Array): boolean {
  if (h.length < 8) return false;
  const dv = new DataView(h.buffer, h.byteOffset, 8);
  const max = dv.getInt32(0, true);
  return max > 0 && max <= 1 << 16 && Number.isFinite(dv.getFloat32(4, true));
}

/** A llama2.c checkpoint header: 7 positive int32s (dim, hidden, layers, heads, kv heads, ±vocab, seq_len). */
function looksLikeLlama2cCheckpoint(h: Uint8Array): boolean {
  if (h.length < 28) return false;
  const dv = new DataView(h.buffer, h.byteOffset, 28);
  for (let i = 0; i < 7; i++) {
    const v = Math.abs(dv.getInt32(i * 4, true));
    if (v === 0 || v > 1 << 20) return false;
  }
  return dv.getInt32(12, true) % dv.getInt32(16, true) === 0; // heads divisible by kv heads
}
