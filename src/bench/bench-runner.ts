import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { freemem } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGGUF } from '../formats/gguf-reader.js';
import { openModelFile } from '../formats/open-model-file.js';
import { defaultModelPath } from '../model/load-model.js';
import type { ModelConfig } from '../core/model-config.js';
import { KvError } from '../util/errors.js';
import {
  benchCacheDir,
  benchShapes,
  ensureRandomModel,
  findBenchShape,
  randomModelFileName,
  type BenchWeightType,
} from './bench-models.js';
import type { BenchEngine, BenchRow } from './bench-row.js';
import type { WorkerSpec } from './bench-worker.js';
import type { KvType } from '../cache/head-cache.js';
import { findNativeLlamaCpp, llamaQuantizeArgs, NATIVE_NOT_BUILT, runLlamaBench, runNative, type LlamaBenchTest, type NativeLlamaCpp } from './native-llama-cpp.js';

export type { BenchEngine } from './bench-row.js';

export interface BenchOptions {
  /** 'default' (models/*.gguf), shape names (smollm2-135m, tinyllama-1.1b, llama2-7b, ...: random weights) or GGUF paths. */
  models: string[];
  /** Weight types of the random models. */
  weights: BenchWeightType[];
  lengths: number[];
  /** Lengths at which methods are measured (those of `lengths` that are ≥ 4096 by default). */
  compressLengths: number[];
  methods: string[];
  budgets: number[];
  threads: number;
  /** Runs of each engine per model file, alternating which engine goes first; the rows are medians. */
  repeats: number;
  decodeTokens: number;
  chunk: number;
  engines: BenchEngine[];
  /** Method rows compress during the prefill, each in its own measured session (`--compress-during-prefill`). */
  duringPrefill?: boolean;
  cacheDir?: string;
  /** KV cache type of the llama.cpp-native rows (llama-bench -ctk/-ctv; default f16, llama.cpp's own). */
  nativeKvType?: string;
  /** How our engine's KV cache stores keys and values (default f16, the project's default; node-llama-cpp follows). */
  kvType?: KvType;
  /** The native build (default: findNativeLlamaCpp()); null: none. */
  native?: NativeLlamaCpp | null;
  /** An engine process whose RSS passes this is stopped and its rows fail (default: 90% of the memory available at the start). */
  maxRssBytes?: number;
  /** Progress lines (stderr). */
  log: (line: string) => void;
  /** Each model file's rows (medians) as soon as all its engines and repeats are measured. */
  onRows?: (rows: BenchRow[]) => void;
  /** The engines that will run (llama.cpp-native drops out when not built), before any row. */
  onEngines?: (engines: BenchEngine[]) => void;
}

export interface BenchResult {
  rows: BenchRow[];
  /** What was skipped, and why. */
  notes: string[];
  /** The engines that ran (llama.cpp-native drops out when it is not built). */
  engines: BenchEngine[];
}

/** A model file to measure, made when its turn comes (random models are written, q4_k_m quantised natively). */
interface PlannedFile {
  model: string;
  weights: string;
  /** The file's path, writing it first when needed. */
  make: () => Promise<string>;
}

/** Memory the system can still give (MemAvailable), in bytes. */
function availableMemory(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

const GiB = 2 ** 30;

/**
 * The whole benchmark: kvmerger and node-llama-cpp each in its own child process (so their peak RSS are separate and
 * one cannot slow the other through leftover threads or memory), native llama.cpp as llama-bench processes, on the
 * same files with the same threads; repeats alternate which engine runs first, and each row is the median over
 * repeats (peak RSS: the largest). Progress lines count the rows measured out of all of them.
 */
export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [];
  const note = (n: string) => {
    if (!notes.includes(n)) notes.push(n);
  };
  let engines = [...o.engines];
  const native = engines.includes('llama.cpp-native') ? (o.native === undefined ? findNativeLlamaCpp() : (o.native ?? undefined)) : undefined;
  if (engines.includes('llama.cpp-native') && !native) {
    note(NATIVE_NOT_BUILT);
    o.log(`note: ${NATIVE_NOT_BUILT}`);
    engines = engines.filter((e) => e !== 'llama.cpp-native');
  } else if (native?.otherVersion) {
    note(`llama.cpp-native: using the build in ${native.dir}, from another llama.cpp than node-llama-cpp ships now (npm run build:llama-cpp builds that one)`);
  }
  o.onEngines?.(engines);
  const maxRss = o.maxRssBytes ?? Math.floor(availableMemory() * 0.9);
  const { files, rows: unsupported } = planModels(o, native, notes);
  const rows: BenchRow[] = [...unsupported];
  if (unsupported.length > 0) o.onRows?.(unsupported);
  const total = files.length * o.repeats * engines.length * o.lengths.length;
  let done = 0;
  const progress = (r: BenchRow) => {
    if (r.method === null) done++;
    const what = r.error
      ? `failed: ${firstLine(r.error)}`
      : r.method === null
        ? `prefill ${fmt(r.prefillTokensPerSecond)} tok/s, decode ${fmt(r.decodeTokensPerSecond)} tok/s`
        : `${r.method}@${r.budget}: compress ${fmt(r.compressMs)} ms, decode ${fmt(r.decodeTokensPerSecond)} tok/s`;
    o.log(`[${done}/${total}] ${r.engine} ${r.model} ${r.weights} ${r.promptTokens}: ${what}`);
  };

  for (const f of files) {
    let path: string;
    try {
      path = await f.make();
    } catch (e) {
      const msg = `${f.model} ${f.weights}: skipped (${(e as Error).message})`;
      o.log(msg);
      note(msg);
      done += o.repeats * engines.length * o.lengths.length;
      continue;
    }
    const vocabSize = vocabularySize(path);
    const measured: BenchRow[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const order = r % 2 === 0 ? engines : [...engines].reverse();
      for (const engine of order) {
        o.log(`[${f.model} ${f.weights}] ${engine}, repeat ${r + 1}/${o.repeats}`);
        const got: BenchRow[] = [];
        const emit = (row: BenchRow) => {
          got.push(row);
          progress(row);
        };
        try {
          if (engine === 'llama.cpp-native') await runNativeEngine(native!, f, path, o, maxRss, emit);
          else await runChild(workerSpec(engine, f, path, vocabSize, o), o.log, maxRss, emit);
        } catch (e) {
          const msg = firstLine((e as Error).message);
          note(`${engine} on ${f.model} ${f.weights} failed: ${msg}`);
          // the lengths it did not get to, as rows carrying the engine's own error
          for (const len of o.lengths) {
            if (!got.some((x) => x.promptTokens === len && x.method === null)) emit(errorRow(engine, f, len, msg));
          }
        }
        measured.push(...got);
      }
    }
    const fileRows = medianRows(measured);
    rows.push(...fileRows);
    o.onRows?.(fileRows);
  }
  return { rows, notes, engines };
}

const fmt = (x: number | null): string => (x === null ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
const firstLine = (s: string): string => s.split('\n')[0]!.trim();

function errorRow(engine: BenchEngine, f: { model: string; weights: string }, promptTokens: number, error: string): BenchRow {
  return {
    engine,
    model: f.model,
    weights: f.weights,
    promptTokens,
    prefillTokensPerSecond: null,
    decodeTokensPerSecond: null,
    method: null,
    budget: null,
    compressMs: null,
    peakRssBytes: null,
    error,
  };
}

function workerSpec(engine: 'kvmerger' | 'node-llama-cpp', f: PlannedFile, path: string, vocabSize: number, o: BenchOptions): WorkerSpec {
  return {
    engine,
    model: f.model,
    weights: f.weights,
    path,
    lengths: o.lengths,
    compressLengths: engine === 'kvmerger' ? o.compressLengths : [],
    methods: o.methods,
    budgets: o.budgets,
    decodeTokens: o.decodeTokens,
    threads: o.threads,
    vocabSize,
    chunk: o.chunk,
    kvType: o.kvType ?? 'f16',
    ...(o.duringPrefill ? { duringPrefill: true } : {}),
  };
}

/** The vocabulary size from the GGUF metadata (token ids are drawn below it, the same for every engine). */
function vocabularySize(path: string): number {
  const g = openGGUF(path);
  try {
    const tokens = g.metadata.get('tokenizer.ggml.tokens');
    if (Array.isArray(tokens)) return tokens.length;
  } finally {
    g.close();
  }
  const file = openModelFile(path);
  try {
    return file.config.vocabSize;
  } finally {
    file.close();
  }
}

/**
 * llama-bench on one file, length by length: prefill `-p N -n 0`, then decode `-p 0 -n M -d N` (M tokens right after
 * N in the cache, as our decode rows), each one llama-bench process with one timed repetition (the bench's repeats
 * alternate engines instead). llama-bench warms up first (a full untimed run of the same test).
 */
async function runNativeEngine(native: NativeLlamaCpp, f: PlannedFile, path: string, o: BenchOptions, maxRss: number, emit: (r: BenchRow) => void): Promise<void> {
  const kvType = o.nativeKvType ?? 'f16';
  const base = { model: path, threads: o.threads, batch: o.chunk, kvType, repetitions: 1 };
  for (const len of o.lengths) {
    const pre: LlamaBenchTest = { ...base, promptTokens: len, genTokens: 0, depth: 0 };
    const dec: LlamaBenchTest = { ...base, promptTokens: 0, genTokens: o.decodeTokens, depth: len };
    const p = await runLlamaBench(native, pre, maxRss);
    const d = await runLlamaBench(native, dec, maxRss);
    const peaks = [p.peakRssBytes, d.peakRssBytes].filter((x): x is number => x !== null);
    const pr = p.results[0]!;
    emit({
      engine: 'llama.cpp-native',
      model: f.model,
      weights: f.weights,
      promptTokens: len,
      prefillTokensPerSecond: pr.avgTs,
      decodeTokensPerSecond: d.results[0]!.avgTs,
      method: null,
      budget: null,
      compressMs: null,
      peakRssBytes: peaks.length ? Math.max(...peaks) : null,
      native: { kvType: pr.typeK, flashAttn: pr.flashAttn, buildCommit: pr.buildCommit, commands: [p.command, d.command] },
    });
  }
}

/** Every name of --models as files to measure (made later), and a row for each shape that cannot run yet. */
function planModels(o: BenchOptions, native: NativeLlamaCpp | undefined, notes: string[]): { files: PlannedFile[]; rows: BenchRow[] } {
  const files: PlannedFile[] = [];
  const rows: BenchRow[] = [];
  const dir = o.cacheDir ?? benchCacheDir();
  const shapes = benchShapes();
  for (const name of o.models) {
    if (name === 'default') {
      try {
        const path = defaultModelPath();
        files.push({ model: 'default', weights: mainType(path), make: () => Promise.resolve(path) });
      } catch (e) {
        notes.push(`default: skipped (${(e as Error).message})`);
      }
      continue;
    }
    const entry = findBenchShape(name, shapes);
    if (entry) {
      if (!entry.config) {
        const why = `${entry.unsupported}; the bench writes no random GGUF for it, so no engine runs it`;
        notes.push(`${entry.name}: ${why}`);
        rows.push(errorRow('kvmerger', { model: entry.name, weights: '—' }, 0, why));
        continue;
      }
      const config = { ...entry.config, name: entry.name };
      for (const w of o.weights) files.push({ model: entry.name, weights: w, make: () => makeRandom(config, w, dir, native, o) });
      continue;
    }
    if (name === 'smollm2-135m') {
      notes.push('smollm2-135m: skipped (../shared/data/models/smollm2-135m/config.json not found; set KVMERGER_SHARED_DATA)');
      continue;
    }
    if (!existsSync(name)) {
      const known = ['default', ...shapes.map((s) => s.name)].join(', ');
      throw new KvError(`--models: '${name}' is neither a model shape (${known}) nor an existing GGUF file; fix the name or the path`);
    }
    files.push({ model: basename(name), weights: mainType(name), make: () => Promise.resolve(name) });
  }
  return { files, rows };
}

/** The random model of `config` in `weights`: written by our writer, or (q4_k_m) quantised by native llama-quantize from the f16 file. */
async function makeRandom(config: ModelConfig, weights: BenchWeightType, dir: string, native: NativeLlamaCpp | undefined, o: BenchOptions): Promise<string> {
  if (weights !== 'q4_k_m') return ensureRandomModel(config, weights, dir, o.log);
  const quantizer = native?.tools['llama-quantize'] ?? findNativeLlamaCpp()?.tools['llama-quantize'];
  if (!quantizer) {
    throw new KvError('q4_k_m files are made by native llama-quantize (llama.cpp\'s own Q4_K_M mix), which is not built: npm run build:llama-cpp');
  }
  const commit = (native ?? findNativeLlamaCpp())?.commit?.slice(0, 8) ?? 'native';
  const path = join(dir, randomModelFileName(config, 'q4_k_m', `-llamacpp-${commit}`));
  if (existsSync(path)) return path;
  const src = ensureRandomModel(config, 'f16', dir, o.log);
  const tmp = `${path}.${process.pid}.partial`;
  o.log(`llama-quantize ${basename(src)} → ${basename(path)} (Q4_K_M, once)`);
  const t0 = performance.now();
  try {
    await runNative(quantizer, llamaQuantizeArgs(src, tmp, 'Q4_K_M', o.threads));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, path);
  o.log(`wrote ${basename(path)} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${tensorTypeCounts(path)}`);
  return path;
}

/** "Q4_K ×120, Q6_K ×35, F32 ×45": how many tensors of each type a file holds. */
export function tensorTypeCounts(path: string): string {
  const g = openGGUF(path);
  try {
    const counts = new Map<string, number>();
    for (const t of g.tensors) counts.set(t.typeName, (counts.get(t.typeName) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ×${n}`).join(', ');
  } finally {
    g.close();
  }
}

/** The type of the file's first FFN matrix (what "weights" means for a file the bench did not write). */
function mainType(path: string): string {
  const g = openGGUF(path);
  try {
    return g.tensor('blk.0.ffn_up.weight')?.typeName.toLowerCase() ?? '?';
  } finally {
    g.close();
  }
}

/** `node [--import tsx] <cli main> bench --worker <spec>`: the same entry this code runs from (src or dist). */
function workerArgv(spec: WorkerSpec): string[] {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const main = join(dirname(here), '..', 'cli', `main${ext}`);
  // --expose-gc: a session measured with --compress-during-prefill starts after a GC (bench-worker sessionStart).
  return ['--expose-gc', ...(ext === '.ts' ? ['--import', 'tsx'] : []), main, 'bench', '--worker', JSON.stringify(spec)];
}

/** VmRSS of a running process in bytes; undefined once it has gone (or off Linux). */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function runChild(spec: WorkerSpec, log: (line: string) => void, maxRss: number, emit: (r: BenchRow) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, workerArgv(spec), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const errLines: string[] = [];
    let guard: string | undefined;
    // The memory guard: a model that does not fit must not push the shared machine into the OOM killer.
    const timer = setInterval(() => {
      const rss = child.pid !== undefined ? rssOf(child.pid) : undefined;
      if (rss !== undefined && rss > maxRss && guard === undefined) {
        guard = `stopped by the bench's memory guard at ${(rss / GiB).toFixed(1)} GiB RSS (limit ${(maxRss / GiB).toFixed(1)} GiB, 90% of the memory available at the start)`;
        child.kill('SIGKILL');
      }
    }, 250);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('{')) emit(JSON.parse(line) as BenchRow);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      let nl: number;
      while ((nl = err.indexOf('\n')) >= 0) {
        const line = err.slice(0, nl);
        if (line.trim()) errLines.push(line.trim());
        if (errLines.length > 200) errLines.shift();
        log(`  ${line}`);
        err = err.slice(nl + 1);
      }
    });
    child.on('error', (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      if (code === 0) return resolvePromise();
      if (err.trim()) errLines.push(err.trim());
      const why = guard ?? workerFailure(errLines) ?? `worker exited with ${signal ?? `code ${code}`}`;
      reject(new Error(why));
    });
  });
}

/**
 * The engine's own message in a failed worker's stderr: the CLI's one-line error ("kvmerger: ..."), else the first line
 * that names an error (not a stack frame), else the last line.
 */
export function workerFailure(lines: string[]): string | undefined {
  const cli = lines.find((l) => /^kvmerger: /.test(l));
  if (cli) return cli.replace(/^kvmerger: /, '');
  const error = lines.find((l) => !/^at /.test(l) && /error|failed|cannot|exception/i.test(l));
  return error ?? lines.at(-1);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * One row per (engine, model, weights, length, method, budget): medians of the rates and times, the largest peak RSS;
 * repeats that failed are left out (a row that failed in every repeat keeps its error).
 */
export function medianRows(rows: BenchRow[]): BenchRow[] {
  const groups = new Map<string, BenchRow[]>();
  for (const r of rows) {
    const k = [r.engine, r.model, r.weights, r.promptTokens, r.method, r.budget].join('|');
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const med = (g: BenchRow[], f: (r: BenchRow) => number | null): number | null => {
    const xs = g.map(f).filter((x): x is number => x !== null);
    return xs.length ? median(xs) : null;
  };
  return [...groups.values()].map((all) => {
    const g = all.filter((r) => r.error === undefined);
    if (g.length === 0) return all[0]!;
    const peaks = g.map((r) => r.peakRssBytes).filter((x): x is number => x !== null);
    const row: BenchRow = {
      ...g[0]!,
      prefillTokensPerSecond: med(g, (r) => r.prefillTokensPerSecond),
      decodeTokensPerSecond: med(g, (r) => r.decodeTokensPerSecond),
      compressMs: med(g, (r) => r.compressMs),
      peakRssBytes: peaks.length ? Math.max(...peaks) : null,
    };
    const sessions = g.map((r) => r.session).filter((x): x is NonNullable<BenchRow['session']> => x !== undefined);
    if (sessions.length > 0) {
      // sizes are the same in every repeat; memory: the largest; CPU time per token: the median
      const maxOf = (f: (s: (typeof sessions)[number]) => number | undefined) => {
        const xs = sessions.map(f).filter((x): x is number => x !== undefined);
        return xs.length ? Math.max(...xs) : undefined;
      };
      const base = maxOf((s) => s.baseRssBytes);
      const peak = maxOf((s) => s.peakRssBytes);
      row.session = {
        ...sessions[0]!,
        ...(base !== undefined ? { baseRssBytes: base } : {}),
        ...(peak !== undefined ? { peakRssBytes: peak } : {}),
        decodeCpuMsPerToken: median(sessions.map((s) => s.decodeCpuMsPerToken)),
      };
    }
    if (row.native) row.native = { ...row.native, commands: g.flatMap((r) => r.native?.commands ?? []).filter((c, i, a) => a.indexOf(c) === i) };
    return row;
  });
}
