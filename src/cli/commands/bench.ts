import { availableParallelism } from 'node:os';
import { BENCH_WEIGHT_TYPES, type BenchWeightType } from '../../bench/bench-models.js';
import { BENCH_ENGINES, type BenchEngine } from '../../bench/bench-row.js';
import { runBench } from '../../bench/bench-runner.js';
import { benchMethodTables, benchTableHeader, benchTableRows } from '../../bench/bench-table.js';
import { NATIVE_KV_TYPES } from '../../bench/native-llama-cpp.js';
import { getMethod, methodNames } from '../../compress/registry.js';
import { prepareCompression } from '../../compress/compress-cache.js';
import { parseMethodOptions } from '../../compress/method-options.js';
import { prefillUnsupported } from '../../compress/prefill-compressor.js';
import { KvError } from '../../util/errors.js';
import { CHUNK_OPTION, MODEL_OPTIONS, choiceOption, parseOptions, type OptionTable } from '../options.js';

export const summary = 'speed and memory of kvmerger vs native llama.cpp (and node-llama-cpp) on the same GGUF files, and what each compression method costs';

export const help = `Usage: kvmerger bench [--models default,smollm2-135m,tinyllama-1.1b,llama2-7b,...|FILE...]
                      [--weights f32,f16,q8_0,q4_0,q4_k_m] [--lengths 512,2048] [--threads N] [--full] [--json]

Runs our engine (onnxruntime backend), native llama.cpp (llama-bench, built once by \`npm run build:llama-cpp\`) and
node-llama-cpp on the same GGUF files with the same thread count, each engine in its own process, alternating which
goes first, and reports medians with the kvmerger / native ratio. The table's rows print as each model file is done;
each measurement prints on stderr as it is made, with the progress ([n/total]). Without a native build its rows are
left out, with a note.

  --models LIST        default: the built-in model (models/*.gguf; skipped with a note when absent);
                       a model shape: random weights with the shape of a real model's config.json
                       (../shared/data/models/configs/*.json: tinyllama-1.1b, llama-3.2-1b, qwen2.5-0.5b, qwen3-0.6b,
                       gemma-3-1b, phi-3-mini-4k, llama-2-7b, mistral-7b-v0.2; and smollm2-135m), written once into
                       $KVMERGER_BENCH_CACHE (default <tmpdir>/kvmerger-bench-models), tensor by tensor. Names match
                       without '-', '.' and as a unique prefix: llama2-7b, mistral-7b. Each is written in its GGUF
                       architecture (llama, qwen2, qwen3, gemma3, phi3); an engine that cannot run one
                       gets rows with its own error; another model_type gets a 'not supported yet' row;
                       default-shape: random weights with the built-in model's shape and a context of 8192;
                       or GGUF paths.
                       (default: default,smollm2-135m; --full: default,smollm2-135m,qwen2.5-0.5b,tinyllama-1.1b,llama-3.2-1b)
  --weights LIST       weight types of the random models: f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1 (our writer: every
                       matrix in that type), q4_k_m (native llama-quantize from the f16 file: llama.cpp's Q4_K_M mix;
                       needs the native build) (default: q8_0; --full: f32,q8_0,q4_0,q4_k_m)
  --lengths LIST       prompt tokens; prefill tokens/s from an empty cache, decode tokens/s right after (native:
                       llama-bench -p N -n 0, and -p 0 -n M -d N) (default: 512,2048; --full: 512,2048,4096,8192)
  --methods LIST       compression methods measured at the --compress-lengths (default: every method but full;
                       'none' for none)
  --budgets LIST       budgets of the methods (default: 0.5,0.35)
  --compress-lengths   lengths at which methods are measured (default: those of --lengths that are 4096 or 8192)
  -t, --threads N      threads of every engine (default: the machine's cores)
  --repeats N          runs of each engine per file, alternating order; rows are medians (default: 1)
  --decode N           decoded tokens per measurement (default: 32)
  -b, --chunk-size N   prompt tokens per forward call, every engine (llama-bench -b and -ub) (default: 512;
                       also --chunk)
  --engines LIST       kvmerger,llama.cpp-native,node-llama-cpp (default: all three)
  --kv-type f16|f32    how our engine's and node-llama-cpp's KV cache store keys and values (default f16, as
                       kvmerger and llama.cpp default to)
  --native-kv TYPE     KV cache type of the native rows: f16 (llama.cpp's default; llama-bench takes no f32), bf16,
                       q8_0 (default: f16)
  --full               the long matrix (the --full defaults above: hours on 2 cores); explicit options still win
  --compress-during-prefill
                       method rows compress during the prefill (generate --compress-during-prefill): each method and
                       budget gets its own fresh prefill, measured as one session (GC, VmHWM reset, prefill, decode),
                       all of them right after the load, before the plain rows;
                       kvmerger rows then also carry "session": {"kvBytes", "kvBytesFull", "peakKvBytes",
                       "decodeCpuMsPerToken", and on method rows "baseRssBytes" (RSS at the session's start: the
                       weights as held), "peakRssBytes" (the session's own peak), "compressRounds"}
  --json               print exactly one JSON object: {"rows": [{"engine", "model", "weights", "promptTokens",
                       "prefillTokensPerSecond", "decodeTokensPerSecond", "method", "budget", "compressMs",
                       "peakRssBytes"}]}; native rows also carry "native": {"kvType", "flashAttn", "buildCommit",
                       "commands"}, a row of an engine that failed "error" (its own message, rates null)

An engine process whose RSS passes 90% of the memory available at the start is stopped (its rows fail with that
message), so a model too large for this machine cannot push it into the OOM killer.
Method rows: prefillTokensPerSecond is the prefill that also computed the statistics, decodeTokensPerSecond the decode
after compressing a copy of that cache, compressMs the compression itself.
Example: kvmerger bench --models default --lengths 512 --threads 1
         kvmerger bench --models llama2-7b --weights q4_0 --lengths 512 --threads 2`;

const OPTIONS = {
  models: { type: 'string', multiple: true },
  weights: { type: 'string' },
  lengths: { type: 'string' },
  methods: { type: 'string' },
  budgets: { type: 'string' },
  'compress-lengths': { type: 'string' },
  threads: MODEL_OPTIONS.threads,
  repeats: { type: 'string' },
  decode: { type: 'string' },
  ...CHUNK_OPTION,
  engines: { type: 'string' },
  'native-kv': { type: 'string' },
  'kv-type': MODEL_OPTIONS['kv-type'],
  full: { type: 'boolean' },
  'compress-during-prefill': { type: 'boolean' },
  json: { type: 'boolean' },
  worker: { type: 'string', hidden: true },
} as const satisfies OptionTable;

/** The option table (parsed by src/cli/options.ts), for the help consistency test. */
export const options: OptionTable = OPTIONS;

const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);

function ints(s: string, what: string, min: number): number[] {
  const out = list(s).map(Number);
  if (out.length === 0 || !out.every((n) => Number.isInteger(n) && n >= min)) throw new KvError(`--${what} '${s}': give integers ≥ ${min}, comma-separated`);
  return out;
}

function int(s: string, what: string, min: number): number {
  return ints(s, what, min)[0]!;
}

/** The defaults of a plain run (a few minutes) and of --full (the long matrix). */
export const BENCH_DEFAULTS = {
  plain: { models: 'default,smollm2-135m', weights: 'q8_0', lengths: '512,2048' },
  full: { models: 'default,smollm2-135m,qwen2.5-0.5b,tinyllama-1.1b,llama-3.2-1b', weights: 'f32,q8_0,q4_0,q4_k_m', lengths: '512,2048,4096,8192' },
} as const;

/** Engine names of --engines; 'llama.cpp' alone is ambiguous now and answered with the two it could mean. */
export function parseEngines(s: string): BenchEngine[] {
  const out = list(s);
  for (const e of out) {
    if (e === 'llama.cpp') throw new KvError(`--engines: 'llama.cpp' is ambiguous; use llama.cpp-native (llama-bench) or node-llama-cpp`);
    if (!(BENCH_ENGINES as readonly string[]).includes(e)) throw new KvError(`--engines: unknown engine '${e}'; use ${BENCH_ENGINES.join(', ')}`);
  }
  if (out.length === 0) throw new KvError('--engines: give at least one engine');
  return out as BenchEngine[];
}

export async function run(argv: string[]): Promise<number> {
  const { values: given } = parseOptions('bench', argv, OPTIONS);
  const values = { budgets: '0.5,0.35', repeats: '1', decode: '32', 'chunk-size': '512', engines: BENCH_ENGINES.join(','), 'native-kv': 'f16', ...given };
  if (values.worker !== undefined) return runWorkerProcess(values.worker);

  const d = values.full ? BENCH_DEFAULTS.full : BENCH_DEFAULTS.plain;
  const models = (values.models ?? [d.models]).flatMap(list);
  const weights = list(values.weights ?? d.weights).map((w) => w.toLowerCase());
  for (const w of weights) {
    if (!(BENCH_WEIGHT_TYPES as readonly string[]).includes(w)) throw new KvError(`--weights: unknown type '${w}'; use ${BENCH_WEIGHT_TYPES.join(', ')}`);
  }
  const lengths = ints(values.lengths ?? d.lengths, 'lengths', 1);
  const all = methodNames().filter((m) => m !== 'full');
  let methods = values.methods === undefined ? all : values.methods === 'none' ? [] : list(values.methods);
  for (const m of methods) if (!methodNames().includes(m)) throw new KvError(`--methods: unknown method '${m}'; methods: ${methodNames().join(', ')}`);
  if (values['compress-during-prefill']) {
    const can = (m: string) => prepareCompression({ method: m, promptLength: 1 }).prefillCompressor();
    // the default list keeps the methods that can; a named one that cannot is the compressor's KvError
    if (values.methods !== undefined) methods.forEach(can);
    else {
      methods = methods.filter((m) => {
        const options = parseMethodOptions(m, getMethod(m).options, []);
        return prefillUnsupported(m, options, getMethod(m).statsRequest(options)) === undefined;
      });
    }
  }
  const budgets = list(values.budgets).map(Number);
  if (!budgets.every((b) => b > 0 && b <= 1)) throw new KvError(`--budgets '${values.budgets}': give ratios in (0, 1], comma-separated`);
  const compressLengths = values['compress-lengths'] ? ints(values['compress-lengths'], 'compress-lengths', 1) : lengths.filter((l) => l === 4096 || l === 8192);
  const engines = parseEngines(values.engines);
  const nativeKv = values['native-kv'].toLowerCase();
  if (!NATIVE_KV_TYPES.includes(nativeKv)) throw new KvError(`--native-kv '${values['native-kv']}': use ${NATIVE_KV_TYPES.join(', ')} (llama-bench takes no f32 cache)`);

  // Text output: the table's header, then each model file's rows as soon as it is measured.
  let headerShown = false;
  let shownEngines: BenchEngine[] = engines;
  const result = await runBench({
    models,
    weights: weights as BenchWeightType[],
    lengths,
    compressLengths,
    methods,
    budgets,
    threads: values.threads ? int(values.threads, 'threads', 1) : availableParallelism(),
    repeats: int(values.repeats, 'repeats', 1),
    decodeTokens: int(values.decode, 'decode', 1),
    chunk: int(values['chunk-size'], 'chunk-size', 1),
    engines,
    nativeKvType: nativeKv,
    kvType: choiceOption('kv-type', values['kv-type'], ['f16', 'f32'] as const, 'f16'),
    duringPrefill: values['compress-during-prefill'],
    log: (line) => process.stderr.write(line + '\n'),
    onEngines: (e) => {
      shownEngines = e;
    },
    onRows: (rows) => {
      if (values.json) return;
      const lines = benchTableRows(rows, shownEngines);
      if (!headerShown) lines.unshift(...benchTableHeader(shownEngines));
      headerShown = true;
      process.stdout.write(lines.map((l) => l + '\n').join(''));
    },
  });
  if (values.json) process.stdout.write(JSON.stringify({ rows: result.rows }) + '\n');
  else {
    const rest = benchMethodTables(result.rows);
    if (!headerShown) rest.unshift(...benchTableHeader(result.engines));
    if (result.notes.length) rest.push('', ...result.notes.map((n) => `note: ${n}`));
    process.stdout.write(rest.join('\n') + '\n');
  }
  for (const n of result.notes) if (values.json) process.stderr.write(`note: ${n}\n`);
  return 0;
}

/** Child-process side: measure one engine on one file, one JSON row per stdout line. */
async function runWorkerProcess(specJson: string): Promise<number> {
  const { runWorker } = await import('../../bench/bench-worker.js');
  await runWorker(
    JSON.parse(specJson),
    (row) => process.stdout.write(JSON.stringify(row) + '\n'),
    (line) => process.stderr.write(line + '\n'),
  );
  return 0;
}
