import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';
import type { KVCache } from '../cache/kv-cache.js';
import type { KvType } from '../cache/head-cache.js';
import { prepareCompression } from '../compress/compress-cache.js';
import { openModelFile } from '../formats/open-model-file.js';
import type { ForwardBackend } from '../model/backend.js';
import type { ModelConfig } from '../core/model-config.js';
import { createOrtBackend } from '../model/ort-backend.js';
import { modelFileIdentity } from '../model/ort/onnx-cache.js';
import { StatsAccumulator } from '../generate/stats-accumulator.js';
import { chunkedPrefill } from '../generate/chunked-prefill.js';
import { benchTokens, emptyCache, timeDecode } from './engine-bench.js';
import type { BenchRow } from './bench-row.js';

/** What one child process measures: one engine on one model file. */
export interface WorkerSpec {
  /** The engines that run in a child process of the bench (llama.cpp-native runs llama-bench instead). */
  engine: 'kvmerger' | 'node-llama-cpp';
  model: string;
  weights: string;
  path: string;
  lengths: number[];
  /** Lengths at which every method × budget is measured (kvmerger only). */
  compressLengths: number[];
  methods: string[];
  budgets: number[];
  decodeTokens: number;
  threads: number;
  /** Token ids are drawn below this (the model's vocabulary size), the same for both engines. */
  vocabSize: number;
  /** Prompt tokens per forward call (both engines). */
  chunk: number;
  /** How the KV cache stores keys and values: ours, and node-llama-cpp's (its experimentalKvCacheKeyType/ValueType). */
  kvType: KvType;
  /**
   * Method rows compress during the prefill (each plan its own fresh prefill, its session's memory measured) instead
   * of compressing copies of one statistics prefill; kvmerger rows then carry `session`.
   */
  duringPrefill?: boolean;
}

/** Peak resident set of this process so far (VmHWM), in bytes; process.resourceUsage's maxRSS elsewhere. */
export function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Runs `spec` in this process; `emit` gets each row as soon as it is measured, `log` progress lines. */
export async function runWorker(spec: WorkerSpec, emit: (row: BenchRow) => void, log: (s: string) => void): Promise<void> {
  if (spec.engine === 'kvmerger') await runKvmerger(spec, emit, log);
  else await runNodeLlamaCpp(spec, emit, log);
}

/** Current resident set (VmRSS) in bytes; 0 where /proc is missing. */
function rssBytes(): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return 0;
}

/**
 * Start measuring one session: a GC when node runs with --expose-gc (the runner passes it), then VmHWM := VmRSS
 * (/proc/self/clear_refs, Linux). Returns the process peak so far (which the reset forgets) and the base RSS.
 */
async function sessionStart(): Promise<{ processPeak: number; base: number; reset: boolean }> {
  const processPeak = peakRssBytes();
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
  let reset = false;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    reset = true;
  } catch {
    // not Linux: the session peak is not separable from the process peak
  }
  return { processPeak, base: rssBytes(), reset };
}

const rowBase = (spec: WorkerSpec) => ({ engine: spec.engine, model: spec.model, weights: spec.weights });

async function prefill(backend: ForwardBackend, cache: KVCache, tokens: Int32Array, chunk: number, req?: StatsRequest): Promise<{ seconds: number; stats?: AttentionStats }> {
  const acc = req ? new StatsAccumulator(req) : undefined;
  const windowStart = req && req.window > 0 ? Math.max(0, tokens.length - req.window) : undefined;
  const t0 = performance.now();
  for (let s = 0; s < tokens.length; s += chunk) {
    const r = await backend.forward(tokens.subarray(s, s + chunk), cache, {
      logits: 'last',
      ...(req ? { stats: req } : {}),
      ...(windowStart !== undefined ? { windowStart } : {}),
    });
    acc?.add(r.stats);
  }
  const seconds = (performance.now() - t0) / 1000;
  const stats = acc?.result();
  return stats ? { seconds, stats } : { seconds };
}

/** The plain measurement (no statistics); its cache is dropped before the statistics prefill allocates another. */
async function prefillThenDecode(backend: ForwardBackend, config: ModelConfig, prompt: Int32Array, spec: WorkerSpec) {
  const cache = emptyCache(config, prompt.length + spec.decodeTokens, spec.kvType);
  const pre = await prefill(backend, cache, prompt, spec.chunk);
  const dec = await timeDecode(backend, cache, spec.decodeTokens, spec.vocabSize);
  return { pre, dec };
}

async function runKvmerger(spec: WorkerSpec, emit: (row: BenchRow) => void, log: (s: string) => void): Promise<void> {
  const file = openModelFile(spec.path);
  const config = file.config;
  const t0 = performance.now();
  const backend = await createOrtBackend(file, { threads: spec.threads, chunk: spec.chunk, kvType: spec.kvType, cacheIdentity: modelFileIdentity(spec.path) });
  file.dropCache();
  log(`kvmerger ${spec.model} ${spec.weights}: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await backend.forward(benchTokens(8, spec.vocabSize), emptyCache(config, 0, spec.kvType), { logits: 'last' }); // warm-up
  const fullKv = (len: number) => len * config.blockCount * config.headCountKv * config.headDim * 2 * (spec.kvType === 'f16' ? 2 : 4);
  // The process peak, kept across the per-session VmHWM resets of --compress-during-prefill.
  let processPeak = 0;
  try {
    // --compress-during-prefill: the sessions run first, right after the load, so each starts from the weights as
    // held (a full-cache prefill before them would leave its freed heap resident and hide their growth).
    if (spec.duringPrefill && spec.methods.length > 0) {
      for (const len of spec.lengths.filter((l) => spec.compressLengths.includes(l))) {
        processPeak = await runDuringPrefill(spec, backend, config, benchTokens(len, spec.vocabSize, len), processPeak, emit, log);
      }
    }
    for (const len of spec.lengths) {
      const prompt = benchTokens(len, spec.vocabSize, len);
      const { pre, dec } = await prefillThenDecode(backend, config, prompt, spec);
      const row: BenchRow = {
        ...rowBase(spec),
        promptTokens: len,
        prefillTokensPerSecond: len / pre.seconds,
        decodeTokensPerSecond: dec.tokensPerSecond,
        method: null,
        budget: null,
        compressMs: null,
        peakRssBytes: Math.max(processPeak, peakRssBytes()),
        ...(spec.duringPrefill ? { session: { kvBytes: fullKv(len), kvBytesFull: fullKv(len), peakKvBytes: fullKv(len), decodeCpuMsPerToken: dec.cpuMsPerToken } } : {}),
      };
      emit(row); // the runner prints its progress line
      if (!spec.compressLengths.includes(len) || spec.methods.length === 0 || spec.duringPrefill) continue;

      // One prefill with every statistic any method asks for (all default to the same window), then each method and
      // budget on its own copy of that cache.
      const plans = spec.methods.flatMap((method) => spec.budgets.map((budget) => ({ method, budget })));
      const prepared = plans.map((p) => prepareCompression({ method: p.method, budget: { ratio: p.budget }, promptLength: len, reserveSlots: spec.decodeTokens }));
      const req: StatsRequest = {
        columnSums: prepared.some((p) => p.statsRequest.columnSums),
        window: Math.max(0, ...prepared.map((p) => p.statsRequest.window)),
        lastRow: prepared.some((p) => p.statsRequest.lastRow),
      };
      const windows = new Set(prepared.map((p) => p.statsRequest.window).filter((w) => w > 0));
      if (windows.size > 1) throw new Error(`bench: methods ask for different windows (${[...windows]}); run them separately`);
      const full = emptyCache(config, len, spec.kvType);
      const statsPre = await prefill(backend, full, prompt, spec.chunk, req.columnSums || req.window > 0 || req.lastRow ? req : undefined);
      log(`kvmerger ${spec.model} ${spec.weights} ${len}: prefill with statistics ${(len / statsPre.seconds).toFixed(1)} tok/s`);
      for (let i = 0; i < plans.length; i++) {
        const copy = full.clone(spec.decodeTokens);
        const t = performance.now();
        prepared[i]!.compress(copy, statsPre.stats);
        const compressMs = performance.now() - t;
        const d = await timeDecode(backend, copy, spec.decodeTokens, spec.vocabSize);
        const r: BenchRow = {
          ...rowBase(spec),
          promptTokens: len,
          prefillTokensPerSecond: len / statsPre.seconds,
          decodeTokensPerSecond: d.tokensPerSecond,
          method: plans[i]!.method,
          budget: plans[i]!.budget,
          compressMs,
          peakRssBytes: Math.max(processPeak, peakRssBytes()),
        };
        emit(r);
      }
    }
  } finally {
    await backend.dispose();
    file.close();
  }
}

/**
 * `--compress-during-prefill`: each method × budget on its own session — VmHWM reset after a GC, a fresh chunked
 * prefill that compresses whenever a layer exceeds the budget, then the decode. Returns the process peak so far.
 */
async function runDuringPrefill(
  spec: WorkerSpec,
  backend: ForwardBackend,
  config: ModelConfig,
  prompt: Int32Array,
  processPeak: number,
  emit: (row: BenchRow) => void,
  log: (s: string) => void,
): Promise<number> {
  const len = prompt.length;
  const elementBytes = spec.kvType === 'f16' ? 2 : 4;
  const kvFull = len * config.blockCount * config.headCountKv * config.headDim * 2 * elementBytes;
  for (const method of spec.methods) {
    for (const budget of spec.budgets) {
      const prep = prepareCompression({ method, budget: { ratio: budget }, promptLength: len, reserveSlots: spec.decodeTokens });
      const comp = prep.prefillCompressor();
      const start = await sessionStart();
      processPeak = Math.max(processPeak, start.processPeak);
      const pre = await chunkedPrefill({ config, backend }, prompt, comp.stats, 0, spec.chunk, (c, st, next) => comp.afterChunk(c, st, next));
      const kvBytes = pre.cache.bytes();
      const d = await timeDecode(backend, pre.cache, spec.decodeTokens, spec.vocabSize);
      const sessionPeak = peakRssBytes();
      const r: BenchRow = {
        ...rowBase(spec),
        promptTokens: len,
        prefillTokensPerSecond: len / (pre.ms / 1000),
        decodeTokensPerSecond: d.tokensPerSecond,
        method,
        budget,
        compressMs: comp.ms,
        peakRssBytes: Math.max(processPeak, sessionPeak),
        session: {
          kvBytes,
          kvBytesFull: kvFull,
          peakKvBytes: comp.peakSlots * config.headDim * 2 * elementBytes,
          baseRssBytes: start.base,
          ...(start.reset ? { peakRssBytes: sessionPeak } : {}),
          compressRounds: comp.rounds,
          decodeCpuMsPerToken: d.cpuMsPerToken,
        },
      };
      emit(r);
      const MiB = 2 ** 20;
      log(
        `kvmerger ${spec.model} ${spec.weights} ${len} ${method}@${budget} during prefill: ${comp.rounds} rounds, ${comp.ms.toFixed(0)} ms compressing, ` +
          `KV ${(kvBytes / MiB).toFixed(0)}/${(kvFull / MiB).toFixed(0)} MiB (peak ${(r.session!.peakKvBytes / MiB).toFixed(0)}), RSS ${(start.base / MiB).toFixed(0)} → peak ${(sessionPeak / MiB).toFixed(0)} MiB, decode ${d.tokensPerSecond.toFixed(2)} tok/s`,
      );
    }
  }
  return processPeak;
}

async function runNodeLlamaCpp(spec: WorkerSpec, emit: (row: BenchRow) => void, log: (s: string) => void): Promise<void> {
  let mod: typeof import('node-llama-cpp');
  try {
    mod = await import('node-llama-cpp');
  } catch {
    throw new Error('node-llama-cpp is not installed (it is a dev dependency: npm install)');
  }
  const llama = await mod.getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: mod.LlamaLogLevel.error });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: spec.path, gpuLayers: 0 });
  log(`node-llama-cpp ${spec.model} ${spec.weights}: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const vocabSize = spec.vocabSize;
  // The same KV type as ours (--kv-type); llama.cpp's own choice of attention kernel.
  const context = await model.createContext({
    contextSize: Math.max(...spec.lengths) + spec.decodeTokens + 16,
    batchSize: spec.chunk,
    threads: spec.threads,
    sequences: 1,
    experimentalKvCacheKeyType: spec.kvType === 'f16' ? 'F16' : 'F32',
    experimentalKvCacheValueType: spec.kvType === 'f16' ? 'F16' : 'F32',
  });
  try {
    const sequence = context.getSequence();
    await sequence.evaluateWithoutGeneratingNewTokens(Array.from(benchTokens(8, vocabSize)) as never); // warm-up
    for (const len of spec.lengths) {
      await sequence.clearHistory();
      const prompt = Array.from(benchTokens(len, vocabSize, len));
      let t = performance.now();
      await sequence.evaluateWithoutGeneratingNewTokens(prompt as never);
      const prefillSeconds = (performance.now() - t) / 1000;
      // One token per step with last-token logits and greedy sampling (our decode returns the logits to JavaScript).
      const it = sequence.evaluate([benchTokens(1, vocabSize, 7)[0]!] as never, { temperature: 0 });
      t = performance.now();
      for (let i = 0; i < spec.decodeTokens; i++) await it.next();
      const decodeSeconds = (performance.now() - t) / 1000;
      await it.return();
      const row: BenchRow = {
        ...rowBase(spec),
        promptTokens: len,
        prefillTokensPerSecond: len / prefillSeconds,
        decodeTokensPerSecond: spec.decodeTokens / decodeSeconds,
        method: null,
        budget: null,
        compressMs: null,
        peakRssBytes: peakRssBytes(),
      };
      emit(row);
    }
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}
