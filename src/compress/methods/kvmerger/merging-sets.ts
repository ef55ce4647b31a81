/**
 * KVMerger's merging-set identification (spec §2.2, the paper's Algorithm 1), in the cut formulation: the sequence
 * of slots is cut between i and i+1 wherever the adjacent key cosine is ≤ ε or either slot is reserved; the merging
 * sets are the maximal runs between cuts. Only adjacent pairs are compared: T − 1 dot products per head, never a
 * T × T matrix.
 */
import { rowNorms } from '../../row-norms.js';

/** Cosine similarity of adjacent keys: out[i] = δ(k_i, k_{i+1}) for i in [0, n−1). Zero-norm keys give 0. */
export function adjacentCosines(keys: Float32Array, n: number, headDim: number): Float64Array {
  const out = new Float64Array(Math.max(0, n - 1));
  const norms = rowNorms(keys, n, headDim);
  for (let i = 0; i + 1 < n; i++) {
    let dot = 0;
    const a = i * headDim;
    const b = a + headDim;
    for (let c = 0; c < headDim; c++) dot += keys[a + c]! * keys[b + c]!;
    const den = norms[i]! * norms[i + 1]!;
    out[i] = den > 0 ? dot / den : 0;
  }
  return out;
}

/** Number of adjacent pairs whose two slots are both unreserved (the pairs that may merge). */
export function mergeablePairs(reserved: Uint8Array): number {
  let c = 0;
  for (let i = 0; i + 1 < reserved.length; i++) if (!reserved[i] && !reserved[i + 1]) c++;
  return c;
}

/** Faithful cuts: cut[i] = 1 when δ_i ≤ ε (strict threshold: only δ > ε merges) or slot i or i+1 is reserved. */
export function thresholdCuts(cosines: Float64Array, reserved: Uint8Array, epsilon: number): Uint8Array {
  const cut = new Uint8Array(cosines.length);
  for (let i = 0; i < cosines.length; i++) cut[i] = reserved[i] || reserved[i + 1] || !(cosines[i]! > epsilon) ? 1 : 0;
  return cut;
}

/** The merging sets as [start, end] (inclusive) runs of length ≥ 2 between cuts. */
export function mergingSets(cut: Uint8Array, n: number): [number, number][] {
  const sets: [number, number][] = [];
  let s = 0;
  for (let i = 0; i < n; i++) {
    if (i === n - 1 || cut[i]) {
      if (i > s) sets.push([s, i]);
      s = i + 1;
    }
  }
  return sets;
}

/**
 * The ablation's random sets (`sets=random`): the same set sizes as `cut` gives, placed at random. Within each
 * maximal stretch of unreserved slots the segments (sets and single slots) are shuffled (Fisher–Yates with `next`,
 * uniform in [0, 1)), so the stretch keeps its sets' sizes and reserved slots stay where they are, single.
 */
export function shuffledCuts(cut: Uint8Array, n: number, reserved: Uint8Array, next: () => number): Uint8Array {
  const out = new Uint8Array(cut.length).fill(1);
  let i = 0;
  while (i < n) {
    if (reserved[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < n && !reserved[j + 1]) j++; // stretch [i, j]
    const sizes: number[] = [];
    let s = i;
    for (let k = i; k <= j; k++) {
      if (k === j || cut[k]) {
        sizes.push(k - s + 1);
        s = k + 1;
      }
    }
    for (let k = sizes.length - 1; k > 0; k--) {
      const r = Math.floor(next() * (k + 1));
      [sizes[k], sizes[r]] = [sizes[r]!, sizes[k]!];
    }
    let at = i;
    for (const z of sizes) {
      for (let k = at; k < at + z - 1; k++) out[k] = 0;
      at += z;
    }
    i = j + 1;
  }
  return out;
}
