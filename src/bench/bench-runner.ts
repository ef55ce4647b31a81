import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openModelFile } from '../formats/open-model-file.js';
import { defaultModelPath } from '../model/load-model.js';
import { KvError } from '../util/errors.js';
import { benchCacheDir, benchShape, ensureRandomModel, type BenchModelFile, type BenchWeightType } from './bench-models.js';
import type { BenchRow } from './bench-row.js';
import type { WorkerSpec } from './bench-worker.js';

export type BenchEngine = 'kvmerger' | 'llama.cpp';

export interface BenchOptions {
  /** 'default' (models/*.gguf), 'smollm2-135m', 'qwen2.5-0.5b' (random weights) or GGUF paths. */
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
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

export interface BenchResult {
  rows: BenchRow[];
  /** What was skipped, and why. */
  notes: string[];
}

/**
 * The whole benchmark: each engine in its own child process (so their peak RSS are separate and one cannot slow
 * the other through leftover threads or memory), on the same files, same threads; repeats alternate which engine
 * runs first, and each row is the median over repeats (peak RSS: the largest).
 */
export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [];
  const files = resolveModels(o, notes);
  const rows: BenchRow[] = [];
  for (const f of files) {
    if (f.skipped) {
      notes.push(`${f.model}: skipped (${f.skipped})`);
      continue;
    }
    let vocabSize: number;
    const file = openModelFile(f.path);
    try {
      vocabSize = file.config.vocabSize;
    } finally {
      file.close();
    }
    const measured: BenchRow[][] = [];
    for (let r = 0; r < o.repeats; r++) {
      const order = r % 2 === 0 ? o.engines : [...o.engines].reverse();
      for (const engine of order) {
        const spec: WorkerSpec = {
          engine,
          model: f.model,
          weights: f.weights,
          path: f.path,
          lengths: o.lengths,
          compressLengths: engine === 'kvmerger' ? o.compressLengths : [],
          methods: o.methods,
          budgets: o.budgets,
          decodeTokens: o.decodeTokens,
          threads: o.threads,
          vocabSize,
          chunk: o.chunk,
          ...(o.duringPrefill ? { duringPrefill: true } : {}),
        };
        o.log(`[${f.model} ${f.weights}] ${engine}, repeat ${r + 1}/${o.repeats}`);
        try {
          measured.push(await runChild(spec, o.log));
        } catch (e) {
          const msg = `${engine} on ${f.model} ${f.weights} failed: ${(e as Error).message}`;
          o.log(msg);
          if (!notes.includes(msg)) notes.push(msg);
        }
      }
    }
    rows.push(...medianRows(measured.flat()));
  }
  return { rows, notes };
}

function resolveModels(o: BenchOptions, notes: string[]): BenchModelFile[] {
  const out: BenchModelFile[] = [];
  for (const name of o.models) {
    if (name === 'default') {
      try {
        const path = defaultModelPath();
        out.push({ model: 'default', weights: mainType(path), path });
      } catch (e) {
        out.push({ model: 'default', weights: '-', path: '', skipped: (e as Error).message });
      }
      continue;
    }
    const shape = benchShape(name);
    if (shape) {
      for (const w of o.weights) out.push({ model: name, weights: w, path: ensureRandomModel(shape, w, o.cacheDir ?? benchCacheDir(), o.log) });
      continue;
    }
    if (name === 'smollm2-135m') {
      notes.push('smollm2-135m: skipped (../shared/data/models/smollm2-135m/config.json not found; set KVMERGER_SHARED_DATA)');
      continue;
    }
    if (!existsSync(name)) throw new KvError(`--models: '${name}' is neither default, default-shape, smollm2-135m, qwen2.5-0.5b nor an existing GGUF file; fix the name or the path`);
    out.push({ model: basename(name), weights: mainType(name), path: name });
  }
  return out;
}

/** The type of the file's first FFN matrix (what "weights" means for a file the bench did not write). */
function mainType(path: string): string {
  const f = openModelFile(path);
  try {
    return f.has('blk.0.ffn_up.weight') ? f.typeOf('blk.0.ffn_up.weight').toLowerCase() : '?';
  } finally {
    f.close();
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

function runChild(spec: WorkerSpec, log: (line: string) => void): Promise<BenchRow[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, workerArgv(spec), { stdio: ['ignore', 'pipe', 'pipe'] });
    const rows: BenchRow[] = [];
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('{')) rows.push(JSON.parse(line) as BenchRow);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      let nl: number;
      while ((nl = err.indexOf('\n')) >= 0) {
        log(`  ${err.slice(0, nl)}`);
        err = err.slice(nl + 1);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise(rows);
      else reject(new Error(`worker exited with code ${code}${err ? `: ${err.trim()}` : ''}`));
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** One row per (engine, model, weights, length, method, budget): medians of the rates and times, the largest peak RSS. */
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
  return [...groups.values()].map((g) => {
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
    return row;
  });
}
