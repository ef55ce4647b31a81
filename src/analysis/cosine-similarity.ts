/**
 * Cosine similarity between the rows of a flat matrix of vectors (a head's keys or values, [n, dim]): the full
 * n × n map for the figures (the analysis may build it; compression never does), and the cosines at one token
 * offset. A zero vector has cosine 0 with everything (the convention of compress/methods/kvmerger/merging-sets.ts).
 */
import { rowNorms } from '../compress/row-norms.js';

function dot(vecs: ArrayLike<number>, a: number, b: number, dim: number): number {
  let s = 0;
  const oa = a * dim;
  const ob = b * dim;
  for (let c = 0; c < dim; c++) s += vecs[oa + c]! * vecs[ob + c]!;
  return s;
}

/** The n × n cosine-similarity map of the rows of `vecs` ([n, dim]), row-major, symmetric, diagonal 1 (0 for a zero row). */
export function cosineMatrix(vecs: ArrayLike<number>, n: number, dim: number): Float32Array {
  if (vecs.length < n * dim) throw new RangeError(`cosineMatrix: ${vecs.length} numbers cannot hold ${n} × ${dim}`);
  const norms = rowNorms(vecs, n, dim);
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const den = norms[i]! * norms[j]!;
      const c = den > 0 ? dot(vecs, i, j, dim) / den : 0;
      m[i * n + j] = c;
      m[j * n + i] = c;
    }
  }
  return m;
}

/**
 * Cosines at one offset d ≥ 1: out[i] = δ(x_i, x_{i+d}) for i in [0, n − d). The pairs at offset −d are the same
 * pairs, so their mean and spread over all tokens are the same numbers.
 */
export function offsetCosines(vecs: ArrayLike<number>, n: number, dim: number, d: number, norms = rowNorms(vecs, n, dim)): Float64Array {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`offsetCosines: offset ${d} must be an integer ≥ 1`);
  const out = new Float64Array(Math.max(0, n - d));
  for (let i = 0; i + d < n; i++) {
    const den = norms[i]! * norms[i + d]!;
    out[i] = den > 0 ? dot(vecs, i, i + d, dim) / den : 0;
  }
  return out;
}
