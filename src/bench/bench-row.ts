/**
 * One row of `kvmerger bench --json` (`{"rows": [...]}`): one engine on one model file at one prompt length; with
 * `method`/`budget` set, the decode after that compression of the prefilled cache (kvmerger only).
 */
export interface BenchRow {
  engine: 'kvmerger' | 'llama.cpp';
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
