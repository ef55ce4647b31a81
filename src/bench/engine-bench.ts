import { performance } from 'node:perf_hooks';
import { KVCache } from '../cache/kv-cache.js';
import type { KvType } from '../cache/head-cache.js';
import type { ForwardBackend } from '../model/backend.js';
import type { ModelConfig } from '../core/model-config.js';

/** One measurement of one backend: prefill of `prefillTokens` from an empty cache, then decode at `decodeContext`. */
export interface EngineBenchRow {
  engine: 'kvmerger';
  backend: ForwardBackend['name'];
  model: string;
  weights: string;
  /** The prompt length the row stands for. */
  promptTokens: number;
  /** Tokens actually prefilled for the timing (fewer than promptTokens for slow backends), or 0 if not measured. */
  prefillTokens: number;
  prefillTokensPerSecond: number | null;
  /** Process CPU time (all threads) per prefilled token, in ms: steadier than tokens/s on a shared machine. */
  prefillCpuMsPerToken: number | null;
  /** Tokens decoded for the timing, one call each. */
  decodeTokens: number;
  /** Slots in the cache when decoding started. */
  decodeContext: number;
  decodeTokensPerSecond: number | null;
  decodeCpuMsPerToken: number | null;
}

/** Wall-clock rate and process CPU time of one timed stretch. */
export interface Timing {
  tokensPerSecond: number;
  cpuMsPerToken: number;
}

async function timed(tokens: number, work: () => Promise<void>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return { tokensPerSecond: tokens / seconds, cpuMsPerToken: (cpu.user + cpu.system) / 1000 / tokens };
}

/** Deterministic pseudo-random token ids (no tokenizer needed; random weights do not care). */
export function benchTokens(count: number, vocab: number, seed = 1): Int32Array {
  const out = new Int32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % vocab;
  }
  return out;
}

export function emptyCache(config: ModelConfig, reserve = 0, kvType: KvType = 'f32'): KVCache {
  return new KVCache(config.blockCount, config.headCountKv, config.headDim, Math.max(16, reserve), kvType);
}

/** Prefill `tokens` in chunks of `chunk` (last-token logits, as a generation session does). */
export async function timePrefill(backend: ForwardBackend, cache: KVCache, tokens: Int32Array, chunk = 512): Promise<Timing> {
  return timed(tokens.length, async () => {
    for (let s = 0; s < tokens.length; s += chunk) await backend.forward(tokens.subarray(s, s + chunk), cache, { logits: 'last' });
  });
}

/** Decode `steps` tokens one call each on `cache` (which grows). */
export async function timeDecode(backend: ForwardBackend, cache: KVCache, steps: number, vocab: number): Promise<Timing> {
  const next = benchTokens(steps, vocab, 7);
  cache.reserve(steps);
  return timed(steps, async () => {
    for (let i = 0; i < steps; i++) await backend.forward(next.subarray(i, i + 1), cache, { logits: 'last' });
  });
}
