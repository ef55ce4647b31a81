/**
 * Seeded, bounded fuzzing of every file kvmerger reads: mutated GGUF models (header, metadata, tensor table, data),
 * vocabulary-only GGUFs with a GPT-2 BPE tokenizer,
 * llama2.c checkpoints, llama2.c tokenizer.bin files and Hugging Face tokenizer.json files (bytes and structure).
 * Each case must either load and run correctly (open, read every tensor, load the tokenizer and round-trip a text,
 * load the model and generate a token on the reference backend) or fail with a KvError whose message is one
 * printable line. Anything else (another exception, a case slower than --slow-ms) is a failure, reported with the
 * seed and case number that reproduce it. Run under a memory limit (ulimit -v), a huge allocation shows as a
 * failure too; the test suite runs a short pass of this (test/fuzz/fuzz.test.ts).
 *
 *   npx tsx scripts/fuzz.ts [--cases N] [--seed S] [--formats gguf,gguf-bpe,llama2c,tokenizer.bin,tokenizer.json]
 *                           [--slow-ms MS] [--json] [--keep DIR] [--trace] [--case I] [--backend ort]
 *
 * --cases is per format (default 5000); --keep DIR writes each failing file there; --trace names each case on
 * stderr before it runs (the last one named is the one that killed the process); --case I runs case I alone;
 * --backend ort runs the model cases on the fast path (onnxruntime) instead of the reference backend.
 * Exit 1 when a case failed.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gguf, writeGGUF, type GGUFTensorInput, type MetadataInput } from '../src/formats/gguf-writer.js';
import { openGGUF } from '../src/formats/gguf-reader.js';
import { openModelFile } from '../src/formats/open-model-file.js';
import { summarizeModel } from '../src/formats/model-summary.js';
import { loadTokenizer } from '../src/tokenizer/load-tokenizer.js';
import { loadModel } from '../src/model/load-model.js';
import { generate } from '../src/generate/session.js';
import { KvError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { randomWeightSource, smallConfig } from '../test/helpers/random-model.js';
import { byteLevelTokenizerJson, llama2cCheckpointBytes, llama2cTokenizerBytes } from '../test/helpers/bad-files.js';

export const FORMATS = ['gguf', 'gguf-bpe', 'llama2c', 'tokenizer.bin', 'tokenizer.json'] as const;
export type FuzzFormat = (typeof FORMATS)[number];

export interface FuzzFailure {
  format: FuzzFormat;
  seed: number;
  index: number;
  mutation: string;
  error: string;
}

export interface FuzzSummary {
  seed: number;
  cases: number;
  loaded: number;
  rejected: number;
  failures: FuzzFailure[];
  byFormat: Record<string, { cases: number; loaded: number; rejected: number }>;
  slowestMs: number;
  elapsedMs: number;
}

// ---- the valid files every case starts from ----

/** A small llama GGUF with an SPM byte vocabulary and F32, F16, Q8_0 and Q4_0 tensors. */
function baseGGUF(path: string): void {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  for (const w of ['▁h', '▁he', 'll', 'o', '▁hello', '▁w', 'or', 'ld']) {
    tokens.push(w);
    types.push(1);
  }
  const config = smallConfig({ vocabSize: tokens.length, contextLength: 32, blockCount: 1 });
  const ws = randomWeightSource(config, 3);
  const meta = new Map<string, MetadataInput>([
    ['general.architecture', gguf.str('llama')],
    ['general.name', gguf.str('fuzz')],
    ['llama.context_length', gguf.u32(config.contextLength)],
    ['llama.embedding_length', gguf.u32(config.embeddingLength)],
    ['llama.block_count', gguf.u32(config.blockCount)],
    ['llama.feed_forward_length', gguf.u32(config.feedForwardLength)],
    ['llama.attention.head_count', gguf.u32(config.headCount)],
    ['llama.attention.head_count_kv', gguf.u32(config.headCountKv)],
    ['llama.attention.layer_norm_rms_epsilon', gguf.f32(config.rmsNormEps)],
    ['llama.rope.freq_base', gguf.f32(10000)],
    ['tokenizer.ggml.model', gguf.str('llama')],
    ['tokenizer.ggml.tokens', gguf.strArr(tokens)],
    ['tokenizer.ggml.scores', gguf.f32Arr(tokens.map((_, i) => (i < 259 ? 0 : -i)))],
    ['tokenizer.ggml.token_type', gguf.i32Arr(types)],
    ['tokenizer.ggml.bos_token_id', gguf.u32(1)],
    ['tokenizer.ggml.eos_token_id', gguf.u32(2)],
    ['tokenizer.chat_template', gguf.str('{% for m in messages %}{{ m.content }}{% endfor %}')],
  ]);
  const typeOf = (name: string): string =>
    name === 'token_embd.weight' ? 'F16' : name.endsWith('attn_q.weight') ? 'Q8_0' : name.endsWith('ffn_up.weight') ? 'Q4_0' : 'F32';
  const names = ['token_embd.weight', 'output_norm.weight', 'output.weight'];
  for (let b = 0; b < config.blockCount; b++) {
    for (const p of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']) names.push(`blk.${b}.${p}.weight`);
  }
  const tensors: GGUFTensorInput[] = names.map((name) => ({ name, dims: [...ws.shapeOf(name)].reverse(), type: typeOf(name), data: ws.get(name) }));
  writeGGUF(path, { metadata: meta, tensors });
}

/** A vocabulary-only GGUF with a GPT-2 byte-level BPE tokenizer (tokens, types, merges, special ids). */
function baseBpeGGUF(path: string): void {
  const j = byteLevelTokenizerJson() as { model: { vocab: Record<string, number>; merges: string[] } };
  const tokens = Object.entries(j.model.vocab).sort((a, b) => a[1] - b[1]).map(([t]) => t);
  tokens.push('<|endoftext|>', '<|im_start|>');
  const types = tokens.map((_, i) => (i >= tokens.length - 2 ? 3 : 1));
  writeGGUF(path, {
    metadata: new Map<string, MetadataInput>([
      ['general.architecture', gguf.str('gpt2')],
      ['tokenizer.ggml.model', gguf.str('gpt2')],
      ['tokenizer.ggml.pre', gguf.str('qwen2')],
      ['tokenizer.ggml.tokens', gguf.strArr(tokens)],
      ['tokenizer.ggml.token_type', gguf.i32Arr(types)],
      ['tokenizer.ggml.merges', gguf.strArr(j.model.merges)],
      ['tokenizer.ggml.bos_token_id', gguf.u32(tokens.length - 2)],
      ['tokenizer.ggml.eos_token_id', gguf.u32(tokens.length - 2)],
      ['tokenizer.ggml.add_bos_token', gguf.bool(false)],
    ]),
    tensors: [],
  });
}

// ---- mutations ----

const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 1e9, 2 ** 30, 2 ** 31 - 1];

/** One seeded mutation of `buf` (a copy); `hot` is the length of the region most worth hitting (a header). */
function mutateBytes(buf: Uint8Array, rng: Rng, hot: number): { bytes: Uint8Array; what: string } {
  const pick = (n: number) => Math.floor(rng.next() * n);
  const pos = () => (rng.next() < 0.8 ? pick(Math.max(1, Math.min(hot, buf.length))) : pick(buf.length));
  const kind = pick(8);
  let out = buf.slice();
  let what: string;
  switch (kind) {
    case 0: {
      const at = pos();
      out = out.subarray(0, at);
      what = `truncate at ${at}`;
      break;
    }
    case 1: {
      const n = 1 + pick(8);
      const spots: number[] = [];
      for (let i = 0; i < n; i++) {
        const at = pos();
        out[at] = pick(256);
        spots.push(at);
      }
      what = `random bytes at ${spots.join(',')}`;
      break;
    }
    case 2:
    case 3: {
      const at = pos() & ~3;
      const v = INTERESTING[pick(INTERESTING.length)]!;
      const dv = new DataView(out.buffer);
      if (at + 8 <= out.length && kind === 3) {
        dv.setBigUint64(at, BigInt(v) * (rng.next() < 0.3 ? 2n ** 32n : 1n), true);
        what = `u64 ${v} at ${at}`;
      } else if (at + 4 <= out.length) {
        dv.setUint32(at, v >>> 0, true);
        what = `u32 ${v} at ${at}`;
      } else what = 'no-op';
      break;
    }
    case 4: {
      const at = pos();
      const n = 1 + pick(64);
      out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(Math.min(out.length, at + n))]);
      what = `delete ${n} at ${at}`;
      break;
    }
    case 5: {
      const at = pos();
      const ins = Uint8Array.from({ length: 1 + pick(16) }, () => pick(256));
      out = Uint8Array.from([...out.subarray(0, at), ...ins, ...out.subarray(at)]);
      what = `insert ${ins.length} at ${at}`;
      break;
    }
    case 6: {
      const at = pos();
      out[at] = out[at]! ^ (1 << pick(8));
      what = `bit flip at ${at}`;
      break;
    }
    default: {
      const at = pos() & ~3;
      const dv = new DataView(out.buffer);
      const f = [NaN, Infinity, -Infinity, 1e38, -0, 3e-45][pick(6)]!;
      if (at + 4 <= out.length) dv.setFloat32(at, f, true);
      what = `f32 ${f} at ${at}`;
    }
  }
  return { bytes: out, what };
}

/** A structural mutation of a parsed tokenizer.json: a node replaced, deleted or given an odd value. */
function mutateJson(base: unknown, rng: Rng): { text: string; what: string } {
  const pick = (n: number) => Math.floor(rng.next() * n);
  if (rng.next() < 0.25) {
    const { bytes, what } = mutateBytes(new TextEncoder().encode(JSON.stringify(base)), rng, 1 << 30);
    return { text: new TextDecoder().decode(bytes), what: `text: ${what}` };
  }
  const root = structuredClone(base) as Record<string, unknown>;
  // collect paths to containers
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[], depth: number) => {
    if (depth > 4 || v === null || typeof v !== 'object') return;
    paths.push(path);
    const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
    const sample = entries.length > 12 ? Array.from({ length: 12 }, () => entries[pick(entries.length)]!) : entries;
    for (const [k, x] of sample) walk(x, [...path, k], depth + 1);
  };
  walk(root, [], 0);
  const path = paths[pick(paths.length)]!;
  let node: unknown = root;
  for (const k of path) node = (node as Record<string | number, unknown>)[k];
  const obj = node as Record<string | number, unknown>;
  const keys = Array.isArray(obj) ? obj.map((_, i) => i) : Object.keys(obj);
  const odd = [null, -1, 2e9, 1.5, '', 'x', [], {}, [null], { type: 'Sequence' }, true, 'Split', { id: 3 }, Number.MAX_SAFE_INTEGER];
  const value = odd[pick(odd.length)];
  let what: string;
  if (keys.length > 0 && rng.next() < 0.7) {
    const k = keys[pick(keys.length)]!;
    if (rng.next() < 0.3 && !Array.isArray(obj)) {
      delete obj[k];
      what = `delete ${[...path, k].join('.')}`;
    } else {
      obj[k] = value;
      what = `${[...path, k].join('.')} = ${JSON.stringify(value)}`;
    }
  } else if (Array.isArray(obj)) {
    obj.push(value);
    what = `${path.join('.')} push ${JSON.stringify(value)}`;
  } else {
    const k = ['type', 'id', 'vocab', 'merges', 'pretokenizers', 'normalizers', 'pattern', 'content', 'special'][pick(9)]!;
    obj[k] = value;
    what = `${[...path, k].join('.')} = ${JSON.stringify(value)}`;
  }
  return { text: JSON.stringify(root), what };
}

// ---- running one file ----

/** Everything a user does with a file of this format. Returns normally when the file worked. */
async function exercise(format: FuzzFormat, path: string, companion: string, backend: 'reference' | 'ort'): Promise<void> {
  if (format === 'tokenizer.bin' || format === 'tokenizer.json' || format === 'gguf-bpe') {
    const t = loadTokenizer(path);
    const ids = t.encode('hello world, 123 ünï ☃');
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= t.vocabSize) throw new Error(`encode gave id ${id} of ${t.vocabSize}`);
    t.decode(ids);
    return;
  }
  const f = openModelFile(path);
  try {
    JSON.stringify(summarizeModel(f));
    for (const name of f.tensorNames()) {
      const n = f.shapeOf(name).reduce((a, b) => a * b, 1);
      if (f.readInto) f.readInto(name, new Float32Array(n));
      else f.get(name);
      if (f.readBytes && f.typeOf(name) !== 'F32') f.readBytes(name);
    }
  } finally {
    f.close();
  }
  if (format === 'gguf') {
    const t = loadTokenizer(path);
    t.decode(t.encode('hello world'));
  }
  const m = await loadModel(path, { backend, threads: 1, ...(format === 'llama2c' ? { tokenizerPath: companion } : {}) });
  try {
    const r = await generate(m, { prompt: 'hello', maxTokens: 2, sampling: { temperature: 0 } });
    for (const id of r.tokens) if (!Number.isInteger(id) || id < 0 || id >= m.config.vocabSize) throw new Error(`generated id ${id}`);
  } finally {
    await m.close();
  }
}

/** A KvError's message is the one line a user sees: no control characters, no raw bytes, bounded length. */
function badMessage(message: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(message)) return 'control characters in the message';
  if (message.length > 2000) return `a message of ${message.length} characters`;
  if (message.trim() === '') return 'an empty message';
  return undefined;
}

export interface FuzzOptions {
  seed?: number;
  /** Cases per format. */
  cases?: number;
  formats?: readonly FuzzFormat[];
  slowMs?: number;
  /** Folder for the files of failing cases. */
  keep?: string;
  onProgress?: (done: number, total: number) => void;
  /** The backend models are loaded and run on (default reference; ort loads onnxruntime, slower per case). */
  backend?: 'reference' | 'ort';
  /** Run only the case of this index (of each format): to reproduce one failure. */
  only?: number;
  /** Called before each case runs (to find a case that crashes the process). */
  onCase?: (format: FuzzFormat, index: number, mutation: string) => void;
}

export async function runFuzz(options: FuzzOptions = {}): Promise<FuzzSummary> {
  const seed = options.seed ?? 1;
  const perFormat = options.cases ?? 5000;
  const formats = options.formats ?? FORMATS;
  const slowMs = options.slowMs ?? 2000;
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-fuzz-'));
  const t0 = performance.now();
  const summary: FuzzSummary = { seed, cases: 0, loaded: 0, rejected: 0, failures: [], byFormat: {}, slowestMs: 0, elapsedMs: 0 };
  try {
    const ggufPath = join(dir, 'base.gguf');
    baseGGUF(ggufPath);
    const ggufBytes = new Uint8Array(readFileSync(ggufPath));
    const g = openGGUF(ggufPath);
    const ggufHeader = g.dataOffset;
    g.close();
    const bpePath = join(dir, 'bpe.gguf');
    baseBpeGGUF(bpePath);
    const bpeBytes = new Uint8Array(readFileSync(bpePath));
    const companion = join(dir, 'companion-tokenizer.bin');
    // the checkpoint's 300 tokens: the 259 fixed ones and 41 words
    writeFileSync(companion, llama2cTokenizerBytes(Array.from({ length: 41 }, (_, i) => ` w${i}`)));
    const bases: Record<FuzzFormat, { bytes?: Uint8Array; json?: unknown; hot: number; ext: string }> = {
      gguf: { bytes: ggufBytes, hot: ggufHeader, ext: 'gguf' },
      'gguf-bpe': { bytes: bpeBytes, hot: bpeBytes.length, ext: 'gguf' },
      llama2c: { bytes: llama2cCheckpointBytes(), hot: 28, ext: 'bin' },
      'tokenizer.bin': { bytes: llama2cTokenizerBytes(), hot: 4 + 3 * 40, ext: 'bin' },
      'tokenizer.json': { json: byteLevelTokenizerJson(), hot: 0, ext: 'json' },
    };
    const total = formats.length * perFormat;
    for (const format of formats) {
      const base = bases[format];
      const stats = { cases: 0, loaded: 0, rejected: 0 };
      summary.byFormat[format] = stats;
      for (let i = options.only ?? 0; i < (options.only !== undefined ? options.only + 1 : perFormat); i++) {
        // One generator per case: a failure is reproduced by its seed and index alone.
        const rng = new Rng(seed * 1_000_003 + FORMATS.indexOf(format) * 7_919 + i * 2_654_435_761);
        let data: Uint8Array | string;
        let what: string;
        if (base.json !== undefined) ({ text: data, what } = mutateJson(base.json, rng));
        else ({ bytes: data, what } = mutateBytes(base.bytes!, rng, base.hot));
        const path = join(dir, `case.${base.ext}`);
        writeFileSync(path, data);
        options.onCase?.(format, i, what);
        if (options.only !== undefined && options.keep) {
          mkdirSync(options.keep, { recursive: true });
          writeFileSync(join(options.keep, `${format}-${seed}-${i}.${base.ext}`), data);
        }
        const c0 = performance.now();
        let error: string | undefined;
        try {
          await exercise(format, path, companion, options.backend ?? 'reference');
          stats.loaded++;
        } catch (err) {
          if (err instanceof KvError) {
            stats.rejected++;
            const bad = badMessage(err.message);
            if (bad) error = `${bad}: ${JSON.stringify(err.message.slice(0, 300))}`;
          } else error = `${(err as Error)?.name ?? 'throw'}: ${String((err as Error)?.message ?? err).slice(0, 300)}\n${String((err as Error)?.stack ?? '').split('\n').slice(1, 4).join('\n')}`;
        }
        const ms = performance.now() - c0;
        summary.slowestMs = Math.max(summary.slowestMs, ms);
        if (!error && ms > slowMs) error = `took ${ms.toFixed(0)} ms (limit ${slowMs})`;
        stats.cases++;
        summary.cases++;
        if (error) {
          summary.failures.push({ format, seed, index: i, mutation: what, error });
          if (options.keep) {
            mkdirSync(options.keep, { recursive: true });
            writeFileSync(join(options.keep, `${format}-${seed}-${i}.${base.ext}`), data);
          }
        }
        options.onProgress?.(summary.cases, total);
      }
      summary.loaded += stats.loaded;
      summary.rejected += stats.rejected;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  summary.elapsedMs = performance.now() - t0;
  return summary;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string' },
      seed: { type: 'string' },
      formats: { type: 'string' },
      'slow-ms': { type: 'string' },
      keep: { type: 'string' },
      json: { type: 'boolean' },
      trace: { type: 'boolean' },
      case: { type: 'string' },
      backend: { type: 'string' },
    },
  });
  const formats = values.formats ? (values.formats.split(',') as FuzzFormat[]) : FORMATS;
  for (const f of formats) if (!FORMATS.includes(f)) throw new Error(`--formats: unknown format '${f}' (${FORMATS.join(', ')})`);
  const tty = process.stderr.isTTY && !values.json;
  const s = await runFuzz({
    cases: values.cases ? Number(values.cases) : 5000,
    seed: values.seed ? Number(values.seed) : 1,
    formats,
    ...(values['slow-ms'] ? { slowMs: Number(values['slow-ms']) } : {}),
    ...(values.keep ? { keep: values.keep } : {}),
    ...(values.case !== undefined ? { only: Number(values.case) } : {}),
    ...(values.backend === 'ort' || values.backend === 'reference' ? { backend: values.backend } : {}),
    ...(values.trace ? { onCase: (f: FuzzFormat, i: number, m: string) => process.stderr.write(`case ${f} ${i}: ${m}\n`) } : {}),
    ...(tty ? { onProgress: (d: number, t: number) => d % 100 === 0 && process.stderr.write(`\r${d}/${t}`) } : {}),
  });
  if (tty) process.stderr.write('\n');
  if (values.json) process.stdout.write(JSON.stringify(s) + '\n');
  else {
    process.stdout.write(
      `fuzz: ${s.cases} cases (seed ${s.seed}) in ${(s.elapsedMs / 1000).toFixed(1)} s: ${s.loaded} loaded, ${s.rejected} rejected cleanly, ${s.failures.length} failed; slowest ${s.slowestMs.toFixed(0)} ms\n`,
    );
    for (const [f, b] of Object.entries(s.byFormat)) process.stdout.write(`  ${f}: ${b.cases} cases, ${b.loaded} loaded, ${b.rejected} rejected\n`);
    for (const f of s.failures.slice(0, 50)) process.stdout.write(`FAIL ${f.format} seed ${f.seed} case ${f.index} (${f.mutation}): ${f.error}\n`);
  }
  return s.failures.length === 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
