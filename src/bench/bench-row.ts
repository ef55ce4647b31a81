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
}
