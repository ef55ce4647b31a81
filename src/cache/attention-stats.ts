/**
 * Attention statistics the forward pass returns for compression, per layer and QUERY head (the reduction to
 * KV heads — mean, max or sum over the query heads of a group — is compression's business, in compress/).
 * Column sums are over the slots of the KV head that the query head reads, in slot order.
 */
export interface AttentionStats {
  /** [layer][queryHead] → Float32Array(slots of its KV head): Σ_t A[t, j] over every query processed so far. */
  columnSums?: Float32Array[][];
  /** [layer][queryHead] → column sums over only the last `window` queries of the prefill. */
  windowSums?: Float32Array[][];
  /** Size of the observation window behind `windowSums`. */
  window?: number;
  /** [layer][queryHead] → the attention row of the most recent query (decode-time methods: TOVA, CaM current). */
  lastRow?: Float32Array[][];
}

/** What a compression method asks the forward pass to compute. */
export interface StatsRequest {
  columnSums: boolean;
  /** 0 for none; otherwise the observation window size. */
  window: number;
  lastRow: boolean;
}
