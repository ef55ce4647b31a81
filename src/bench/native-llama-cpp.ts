/**
 * Native llama.cpp, built by scripts/build-llama-cpp.sh from the source node-llama-cpp ships
 * (node_modules/node-llama-cpp/llama/gitRelease.bundle): where its binaries are, the llama-bench command lines the
 * bench runs (`-p N -n 0` for prefill, `-p 0 -n M -d N` for decode at depth N), the parsing of llama-bench's JSON
 * output, and llama-quantize (q4_k_m bench files: llama.cpp's own mix).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvError } from '../util/errors.js';

/** The binaries the build script makes. */
export const NATIVE_TOOLS = ['llama-bench', 'llama-quantize', 'llama-cli', 'llama-server'] as const;
export type NativeTool = (typeof NATIVE_TOOLS)[number];

export interface NativeLlamaCpp {
  /** The build folder (KVMERGER_LLAMA_CPP_DIR or ~/.cache/kvmerger/llama.cpp/<commit>). */
  dir: string;
  /** Path of each binary that exists. */
  tools: Partial<Record<NativeTool, string>>;
  /** The llama.cpp commit it was built from (build-info.json), when known. */
  commit?: string;
  /** llama.cpp's build number (`llama-bench --version`), when known. */
  buildNumber?: string;
  /** True when it was built from another commit than the one node-llama-cpp ships now. */
  otherVersion?: boolean;
}

/** The repository root (this file is src/bench/*.ts or dist/bench/*.js). */
function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** node-llama-cpp's bundled llama.cpp source (a git bundle), or undefined when node-llama-cpp is not installed. */
export function llamaCppBundlePath(root = repoRoot()): string | undefined {
  const p = join(root, 'node_modules/node-llama-cpp/llama/gitRelease.bundle');
  return existsSync(p) ? p : undefined;
}

/** The commit a git bundle's HEAD points at, read from its text header ("# v2 git bundle\n<sha> HEAD\n..."). */
export function bundleCommit(bundle: string): string | undefined {
  const fd = openSync(bundle, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const head = buf.subarray(0, n).toString('latin1');
    if (!head.startsWith('# v2 git bundle') && !head.startsWith('# v3 git bundle')) return undefined;
    const lines = head.split('\n');
    const m = lines.map((l) => /^([0-9a-f]{40}) (\S+)$/.exec(l)).filter((x): x is RegExpExecArray => x !== null);
    return (m.find((x) => x[2] === 'HEAD') ?? m[0])?.[1];
  } finally {
    closeSync(fd);
  }
}

/** Root of the build cache: ~/.cache/kvmerger/llama.cpp (one folder per commit below it). */
export function llamaCppCacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kvmerger', 'llama.cpp');
}

/** The folder the build script uses: KVMERGER_LLAMA_CPP_DIR, else <cache root>/<first 12 hex digits of the bundle's commit>. */
export function llamaCppDir(root = repoRoot()): string | undefined {
  if (process.env.KVMERGER_LLAMA_CPP_DIR) return resolve(process.env.KVMERGER_LLAMA_CPP_DIR);
  const bundle = llamaCppBundlePath(root);
  const commit = bundle ? bundleCommit(bundle) : undefined;
  return commit ? join(llamaCppCacheRoot(), commit.slice(0, 12)) : undefined;
}

function describe(dir: string, otherVersion: boolean): NativeLlamaCpp | undefined {
  const tools: Partial<Record<NativeTool, string>> = {};
  for (const t of NATIVE_TOOLS) {
    const p = join(dir, 'bin', t);
    if (existsSync(p) && statSync(p).isFile()) tools[t] = p;
  }
  if (!tools['llama-bench']) return undefined;
  const out: NativeLlamaCpp = { dir, tools, ...(otherVersion ? { otherVersion } : {}) };
  try {
    const info = JSON.parse(readFileSync(join(dir, 'build-info.json'), 'utf8')) as { commit?: string; buildNumber?: string };
    if (info.commit) out.commit = info.commit;
    if (info.buildNumber) out.buildNumber = info.buildNumber;
  } catch {
    // built by hand: no build-info.json
  }
  return out;
}

/**
 * The native llama.cpp build to use, or undefined when none is built: KVMERGER_LLAMA_CPP_DIR when set (nothing else),
 * else the folder of the commit node-llama-cpp ships, else the newest other folder under the cache root.
 */
export function findNativeLlamaCpp(root = repoRoot()): NativeLlamaCpp | undefined {
  if (process.env.KVMERGER_LLAMA_CPP_DIR) return describe(resolve(process.env.KVMERGER_LLAMA_CPP_DIR), false);
  const dir = llamaCppDir(root);
  const own = dir ? describe(dir, false) : undefined;
  if (own) return own;
  const cache = llamaCppCacheRoot();
  if (!existsSync(cache)) return undefined;
  const others = readdirSync(cache)
    .map((name) => join(cache, name))
    .filter((p) => existsSync(join(p, 'bin', 'llama-bench')))
    .sort((a, b) => statSync(join(b, 'bin', 'llama-bench')).mtimeMs - statSync(join(a, 'bin', 'llama-bench')).mtimeMs);
  return others.length > 0 ? describe(others[0]!, true) : undefined;
}

/** The one line the bench prints when native llama.cpp is not built. */
export const NATIVE_NOT_BUILT =
  'llama.cpp-native: not built, so no native rows; build it once with `npm run build:llama-cpp` (needs cmake, ninja-build, g++; about 6 minutes on 2 cores)';

/** KV cache types llama-bench takes (-ctk/-ctv): no f32. */
export const NATIVE_KV_TYPES: readonly string[] = ['f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl'];

/** One llama-bench test: prefill (`promptTokens` > 0, `genTokens` 0) or decode at a depth (`promptTokens` 0). */
export interface LlamaBenchTest {
  model: string;
  promptTokens: number;
  genTokens: number;
  /** Tokens in the cache before the timed part (llama-bench -d). */
  depth: number;
  threads: number;
  /** Logical and physical batch (-b, -ub): our chunk. */
  batch: number;
  /** KV cache type of K and V (-ctk, -ctv): f32 like our cache, f16 llama.cpp's default. */
  kvType: string;
  /** Runs of the timed part (-r); llama-bench reports their mean and the samples. */
  repetitions: number;
}

/** The llama-bench arguments of one test; JSON lines on stdout (-o jsonl), CPU only. */
export function llamaBenchArgs(t: LlamaBenchTest): string[] {
  return [
    '-m', t.model,
    '-p', String(t.promptTokens),
    '-n', String(t.genTokens),
    '-d', String(t.depth),
    '-t', String(t.threads),
    '-b', String(t.batch),
    '-ub', String(t.batch),
    '-ctk', t.kvType,
    '-ctv', t.kvType,
    '-ngl', '0',
    '-r', String(t.repetitions),
    '-o', 'jsonl',
  ];
}

/** What the bench reads from one llama-bench result (one test). */
export interface LlamaBenchResult {
  nPrompt: number;
  nGen: number;
  nDepth: number;
  nThreads: number;
  nBatch: number;
  nUbatch: number;
  typeK: string;
  typeV: string;
  /** 0 off, 1 on, -1 auto (llama.cpp's LLAMA_FLASH_ATTN_TYPE). */
  flashAttn: number | null;
  /** Mean tokens/s over the repetitions, and each repetition's. */
  avgTs: number;
  stddevTs: number;
  samplesTs: number[];
  buildCommit: string;
  buildNumber: number | null;
  cpuInfo: string;
  modelType: string;
  modelSize: number;
  modelNParams: number;
}

function field<T>(o: Record<string, unknown>, k: string, kind: 'number' | 'string', where: string): T {
  const v = o[k];
  if (typeof v !== kind) throw new KvError(`llama-bench output: '${k}' is ${v === undefined ? 'missing' : `not a ${kind}`} in ${where}`);
  return v as T;
}

function toResult(o: Record<string, unknown>, where: string): LlamaBenchResult {
  const num = (k: string) => field<number>(o, k, 'number', where);
  const str = (k: string) => field<string>(o, k, 'string', where);
  const opt = (k: string) => (typeof o[k] === 'number' ? (o[k] as number) : null);
  const samples = Array.isArray(o.samples_ts) ? (o.samples_ts as unknown[]).filter((x): x is number => typeof x === 'number') : [];
  return {
    nPrompt: num('n_prompt'),
    nGen: num('n_gen'),
    nDepth: typeof o.n_depth === 'number' ? o.n_depth : 0,
    nThreads: num('n_threads'),
    nBatch: num('n_batch'),
    nUbatch: num('n_ubatch'),
    typeK: str('type_k'),
    typeV: str('type_v'),
    flashAttn: typeof o.flash_attn === 'number' ? o.flash_attn : typeof o.flash_attn === 'boolean' ? Number(o.flash_attn) : null,
    avgTs: num('avg_ts'),
    stddevTs: typeof o.stddev_ts === 'number' ? o.stddev_ts : 0,
    samplesTs: samples,
    buildCommit: typeof o.build_commit === 'string' ? o.build_commit : '',
    buildNumber: opt('build_number'),
    cpuInfo: typeof o.cpu_info === 'string' ? o.cpu_info : '',
    modelType: typeof o.model_type === 'string' ? o.model_type : '',
    modelSize: opt('model_size') ?? 0,
    modelNParams: opt('model_n_params') ?? 0,
  };
}

/**
 * llama-bench's results from its stdout: `-o json` (one array) or `-o jsonl` (one object per line). Lines that are
 * not JSON (none are expected on stdout) are ignored; a JSON object without the fields is a KvError.
 */
export function parseLlamaBenchOutput(text: string): LlamaBenchResult[] {
  const t = text.trim();
  if (t.length === 0) return [];
  if (t.startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(t);
    } catch (e) {
      throw new KvError(`llama-bench output: not JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(arr)) throw new KvError('llama-bench output: expected an array of tests');
    return arr.map((o, i) => toResult(o as Record<string, unknown>, `test ${i}`));
  }
  const out: LlamaBenchResult[] = [];
  t.split('\n').forEach((line, i) => {
    const l = line.trim();
    if (!l.startsWith('{')) return;
    let o: unknown;
    try {
      o = JSON.parse(l);
    } catch (e) {
      throw new KvError(`llama-bench output line ${i + 1}: not JSON (${(e as Error).message})`);
    }
    out.push(toResult(o as Record<string, unknown>, `line ${i + 1}`));
  });
  return out;
}

/** Peak resident memory (VmHWM) of a running process, read from /proc; undefined once it has gone or off Linux. */
function peakRssOf(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface NativeRun {
  results: LlamaBenchResult[];
  /** Largest VmHWM seen while it ran (sampled every 100 ms, so a slight underestimate; null where unknown). */
  peakRssBytes: number | null;
  /** The command line, for reproducing it. */
  command: string;
}

/** A command line as a shell reads it back. */
export function shellLine(bin: string, args: string[]): string {
  return [bin, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

/**
 * Runs one native binary to completion, gathering stdout (llama.cpp logs its loading on stderr: kept for the error of
 * a failed run, its last lines). With `maxRssBytes`, a process whose RSS passes it is killed (the bench's memory guard).
 */
export function runNative(bin: string, args: string[], maxRssBytes?: number): Promise<{ stdout: string; peakRssBytes: number | null }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak: number | null = null;
    let guard: string | undefined;
    const sample = () => {
      if (child.pid === undefined) return;
      const p = peakRssOf(child.pid);
      if (p !== undefined) peak = Math.max(peak ?? 0, p);
      if (maxRssBytes !== undefined && p !== undefined && p > maxRssBytes && guard === undefined) {
        guard = `stopped by the bench's memory guard at ${(p / 2 ** 30).toFixed(1)} GiB RSS (limit ${(maxRssBytes / 2 ** 30).toFixed(1)} GiB)`;
        child.kill('SIGKILL');
      }
    };
    const timer = setInterval(sample, 100);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      sample();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-20000);
    });
    child.on('error', (e) => {
      clearInterval(timer);
      reject(new KvError(`${bin}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      if (code === 0) return resolvePromise({ stdout, peakRssBytes: peak });
      reject(new KvError(guard ?? `${bin.split('/').at(-1)} exited with ${signal ?? `code ${code}`}${nativeFailure(stderr)}`));
    });
  });
}

/** The reason in a failed native run's stderr: llama.cpp's first error line (e.g. "error loading model: ..."), else its last line. */
export function nativeFailure(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const error = lines.find((l) => /error|failed|exception|what\(\)/i.test(l));
  const pick = error ?? lines.at(-1);
  return pick ? `: ${pick}` : '';
}

/** Runs one llama-bench test and parses its result. */
export async function runLlamaBench(native: NativeLlamaCpp, t: LlamaBenchTest, maxRssBytes?: number): Promise<NativeRun> {
  const bin = native.tools['llama-bench'];
  if (!bin) throw new KvError(NATIVE_NOT_BUILT);
  const args = llamaBenchArgs(t);
  let r: { stdout: string; peakRssBytes: number | null };
  try {
    r = await runNative(bin, args, maxRssBytes);
  } catch (e) {
    // llama-bench says only "failed to load model" unless verbose: once more with -v, for llama.cpp's own reason
    if (!/failed to load model/.test((e as Error).message)) throw e;
    const again = await runNative(bin, [...args, '-v'], maxRssBytes).then(
      () => undefined,
      (e2: unknown) => (e2 as Error).message,
    );
    throw again ? new KvError(again) : e;
  }
  const results = parseLlamaBenchOutput(r.stdout);
  if (results.length === 0) throw new KvError(`llama-bench printed no result for ${args.join(' ')}`);
  return { results, peakRssBytes: r.peakRssBytes, command: shellLine('llama-bench', args) };
}

/** The llama-quantize arguments that make `dst` in `type` (e.g. Q4_K_M) from `src`, with `threads` threads. */
export function llamaQuantizeArgs(src: string, dst: string, type: string, threads: number): string[] {
  return [src, dst, type.toUpperCase(), String(threads)];
}
