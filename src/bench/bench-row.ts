/**
 * The engines: ours (onnxruntime backend), native llama.cpp's llama-bench (built by scripts/build-llama-cpp.sh: the
 * anchor) and node-llama-cpp (llama.cpp through its Node binding, one evaluate call per token).
 */
export const BENCH_ENGINES = ['kvmerger', 'llama.cpp-native', 'node-llama-cpp'] as const;
export type BenchEngine = (typeof BENCH_ENGINES)[number];

/**
 * One row of `kvmerger bench --json` (`{"rows": [...]}`): one engine on one model file at one prompt length; with
 * `method`/`budget` set, the decode after that compression of the prefilled cache (kvmerger only).
 */
export interface BenchRow {
  engine: BenchEngine;
  /** 'smollm2-135m', 'qwen2.5-0.5b', 'default' or a file name. */
  model: string;
  /** Weight type: 'f32', 'f16', 'q8_0' (random models) or the file's main tensor type. */
  weights: string;
  promptTokens: number;
  /** Prefill from an empty cache, chunked; with a method: the prefill that also computed the statistics. */
  prefillTokensPerSecond: number | null;
  /** Decode right after the prefill (or after the compression), one token per call. */
  decodeTokensPerSecond: number | null;
  method: string | null;
  budget: number | null;
  compressMs: number | null;
  /** Peak resident memory (VmHWM) of the engine's own child process when the row was measured. */
  peakRssBytes: number | null;
  /** Only with `--compress-during-prefill`, on kvmerger rows: what one session held (see BenchSession). */
  session?: BenchSession;
  /** llama.cpp-native rows: how llama-bench ran. */
  native?: NativeRowInfo;
  /** Set when the engine failed on this file or shape (its own error message); the rates are then null. */
  error?: string;
}

/** How llama-bench measured a llama.cpp-native row (prefill `-p N -n 0`, decode `-p 0 -n M -d N`). */
export interface NativeRowInfo {
  /** KV cache type (llama-bench takes f16, bf16, q8_0, q4_0...: no f32). */
  kvType: string;
  /** llama-bench's flash_attn: -1 auto, 0 off, 1 on. */
  flashAttn: number | null;
  /** llama.cpp commit (short) and build number as llama-bench reports them. */
  buildCommit: string;
  /** The command lines run, for reproducing the row. */
  commands: string[];
}

/**
 * One session's memory and decode cost (`kvmerger bench --compress-during-prefill`). Plain rows: the full cache;
 * method rows: a fresh prefill that compressed during the prefill, then the decode.
 */
export interface BenchSession {
  /** KV bytes the cache held when decoding started (4 bytes per key/value element). */
  kvBytes: number;
  /** KV bytes of the full cache at this prompt length. */
  kvBytesFull: number;
  /** Most KV bytes held at a chunk boundary during the prefill (method rows; = kvBytesFull for plain rows). */
  peakKvBytes: number;
  /** VmRSS when the session began, after a GC: the weights as held plus the runtime (method rows). */
  baseRssBytes?: number;
  /** VmHWM during the session alone (reset at its start through /proc/self/clear_refs; method rows, Linux). */
  peakRssBytes?: number;
  /** Compression rounds during the prefill (method rows). */
  compressRounds?: number;
  /** Process CPU time per decoded token (all threads): steadier than tokens/s on a shared machine. */
  decodeCpuMsPerToken: number;
}
