import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';

/**
 * Adds up the attention statistics of a chunked prefill. Each chunk's arrays cover the slots present after that
 * chunk (earlier chunks' arrays are shorter); sums are kept in float64 and padded to the longest seen.
 * The last-row statistic is the last chunk's.
 */
export class StatsAccumulator {
  readonly request: StatsRequest;
  private column: Float64Array[][] = [];
  private window: Float64Array[][] = [];
  private lastRow?: Float32Array[][];

  constructor(request: StatsRequest) {
    this.request = request;
  }

  add(stats: AttentionStats | undefined): void {
    if (!stats) return;
    if (stats.columnSums) addInto(this.column, stats.columnSums);
    if (stats.windowSums) addInto(this.window, stats.windowSums);
    if (stats.lastRow) this.lastRow = stats.lastRow;
  }

  /** The totals as the forward pass would have returned them for one call over the whole prompt. */
  result(): AttentionStats {
    const out: AttentionStats = {};
    if (this.request.columnSums) out.columnSums = toF32(this.column);
    if (this.request.window > 0) {
      out.windowSums = toF32(this.window);
      out.window = this.request.window;
    }
    if (this.request.lastRow && this.lastRow) out.lastRow = this.lastRow;
    return out;
  }
}

function addInto(acc: Float64Array[][], add: Float32Array[][]): void {
  for (let l = 0; l < add.length; l++) {
    const layer = (acc[l] ??= []);
    for (let h = 0; h < add[l]!.length; h++) {
      const src = add[l]![h]!;
      let dst = layer[h];
      if (!dst || dst.length < src.length) {
        const grown = new Float64Array(src.length);
        if (dst) grown.set(dst);
        layer[h] = dst = grown;
      }
      for (let j = 0; j < src.length; j++) dst[j]! += src[j]!;
    }
  }
}

function toF32(acc: Float64Array[][]): Float32Array[][] {
  return acc.map((layer) => layer.map((a) => Float32Array.from(a)));
}
