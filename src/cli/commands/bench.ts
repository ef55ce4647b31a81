import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { BENCH_WEIGHT_TYPES, type BenchWeightType } from '../../bench/bench-models.js';
import { runBench, type BenchEngine } from '../../bench/bench-runner.js';
import { benchTable } from '../../bench/bench-table.js';
import { getMethod, methodNames } from '../../compress/registry.js';
import { prepareCompression } from '../../compress/compress-cache.js';
import { parseMethodOptions } from '../../compress/method-options.js';
import { prefillUnsupported } from '../../compress/prefill-compressor.js';
import { KvError } from '../../util/errors.js';

export const summary = 'speed and memory of kvmerger vs llama.cpp on the same GGUF files, and what each compression method costs';

export const help = `Usage: kvmerger bench [--models default,smollm2-135m,qwen2.5-0.5b|FILE...] [--weights f32,f16,q8_0]
                      [--lengths 512,2048,4096,8192] [--methods NAME,...] [--budgets 0.5,0.35] [--threads N] [--json]

Runs our engine (onnxruntime backend) and llama.cpp (node-llama-cpp, F32 KV cache) on the same GGUF files with the
same thread count, each engine in its own child process, alternating which goes first, and reports medians.

  --models LIST        default: the built-in model (models/*.gguf; skipped with a note when absent);
                       smollm2-135m, qwen2.5-0.5b: random weights with that model's shape, written once by our GGUF
                       writer into $KVMERGER_BENCH_CACHE (default <tmpdir>/kvmerger-bench-models);
                       default-shape: random weights with the built-in model's shape and a context of 8192;
                       or GGUF paths.
                       (default: default,smollm2-135m)
  --weights LIST       weight types of the random models: f32, f16, q8_0 (default: f32,q8_0)
  --lengths LIST       prompt tokens; prefill tokens/s from an empty cache, decode tokens/s right after
                       (default: 512,2048,4096,8192)
  --methods LIST       compression methods measured at the --compress-lengths (default: every method but full;
                       'none' for none)
  --budgets LIST       budgets of the methods (default: 0.5,0.35)
  --compress-lengths   lengths at which methods are measured (default: those of --lengths that are 4096 or 8192)
  --threads N          threads of both engines (default: the machine's cores)
  --repeats N          runs of each engine per file, alternating order; rows are medians (default: 1)
  --decode N           decoded tokens per measurement (default: 32)
  --chunk N            prompt tokens per forward call, both engines (default: 512)
  --engines LIST       kvmerger,llama.cpp (default: both)
  --compress-during-prefill
                       method rows compress during the prefill (generate --compress-during-prefill): each method and
                       budget gets its own fresh prefill, measured as one session (GC, VmHWM reset, prefill, decode),
                       all of them right after the load, before the plain rows;
                       kvmerger rows then also carry "session": {"kvBytes", "kvBytesFull", "peakKvBytes",
                       "decodeCpuMsPerToken", and on method rows "baseRssBytes" (RSS at the session's start: the
                       weights as held), "peakRssBytes" (the session's own peak), "compressRounds"}
  --json               print exactly one JSON object: {"rows": [{"engine", "model", "weights", "promptTokens",
                       "prefillTokensPerSecond", "decodeTokensPerSecond", "method", "budget", "compressMs",
                       "peakRssBytes"}]}

Progress goes to stderr. Method rows: prefillTokensPerSecond is the prefill that also computed the statistics,
decodeTokensPerSecond the decode after compressing a copy of that cache, compressMs the compression itself.
Example: kvmerger bench --models smollm2-135m --weights f32 --lengths 512,2048 --methods none --threads 2`;

const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);

function ints(s: string, what: string, min: number): number[] {
  const out = list(s).map(Number);
  if (out.length === 0 || !out.every((n) => Number.isInteger(n) && n >= min)) throw new KvError(`--${what} '${s}': give integers ≥ ${min}, comma-separated`);
  return out;
}

function int(s: string, what: string, min: number): number {
  return ints(s, what, min)[0]!;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string', multiple: true },
      weights: { type: 'string', default: 'f32,q8_0' },
      lengths: { type: 'string', default: '512,2048,4096,8192' },
      methods: { type: 'string' },
      budgets: { type: 'string', default: '0.5,0.35' },
      'compress-lengths': { type: 'string' },
      threads: { type: 'string' },
      repeats: { type: 'string', default: '1' },
      decode: { type: 'string', default: '32' },
      chunk: { type: 'string', default: '512' },
      engines: { type: 'string', default: 'kvmerger,llama.cpp' },
      'compress-during-prefill': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      worker: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.worker !== undefined) return runWorkerProcess(values.worker);

  const models = (values.models ?? ['default,smollm2-135m']).flatMap(list);
  const weights = list(values.weights).map((w) => w.toLowerCase());
  for (const w of weights) {
    if (!(BENCH_WEIGHT_TYPES as readonly string[]).includes(w)) throw new KvError(`--weights: unknown type '${w}'; use ${BENCH_WEIGHT_TYPES.join(', ')}`);
  }
  const lengths = ints(values.lengths, 'lengths', 1);
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
  const engines = list(values.engines) as BenchEngine[];
  for (const e of engines) if (e !== 'kvmerger' && e !== 'llama.cpp') throw new KvError(`--engines: unknown engine '${e}'; use kvmerger, llama.cpp`);

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
    chunk: int(values.chunk, 'chunk', 1),
    engines,
    duringPrefill: values['compress-during-prefill'],
    log: (line) => process.stderr.write(line + '\n'),
  });
  if (values.json) process.stdout.write(JSON.stringify({ rows: result.rows }) + '\n');
  else process.stdout.write(benchTable(result.rows, result.notes) + '\n');
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
