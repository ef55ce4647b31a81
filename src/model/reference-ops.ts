/**
 * The plain loops of the reference forward pass, kept small and exact (float64 accumulation) so tests can check
 * each against hand-computed values.
 */

/** out[o] = x / sqrt(mean(x²) + eps) · weight, for x = input[inOff .. inOff + n). */
export function rmsNorm(input: Float32Array, inOff: number, weight: Float32Array, eps: number, out: Float32Array, outOff = 0): void {
  const n = weight.length;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const v = input[inOff + i]!;
    ss += v * v;
  }
  const r = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[outOff + i] = input[inOff + i]! * r * weight[i]!;
}

/**
 * Y = X Wᵀ (+ bias): X [n, inDim], W [outDim, inDim] row-major, Y [n, outDim]. Each weight row is reused for every
 * token while it is in cache.
 */
export function linear(
  x: Float32Array,
  n: number,
  w: Float32Array,
  outDim: number,
  inDim: number,
  bias?: Float32Array,
): Float32Array {
  if (w.length !== outDim * inDim) throw new RangeError(`linear: weight has ${w.length} values, expected ${outDim}×${inDim}`);
  const y = new Float32Array(n * outDim);
  for (let o = 0; o < outDim; o++) {
    const row = o * inDim;
    const b = bias ? bias[o]! : 0;
    for (let t = 0; t < n; t++) {
      const xo = t * inDim;
      let s = 0;
      for (let i = 0; i < inDim; i++) s += w[row + i]! * x[xo + i]!;
      y[t * outDim + o] = s + b;
    }
  }
  return y;
}

/** Softmax of row[0 .. n) in place, max-subtracted (stable), in float64. */
export function softmaxInPlace(row: Float64Array, n: number): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (row[j]! > max) max = row[j]!;
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const e = Math.exp(row[j]! - max);
    row[j] = e;
    sum += e;
  }
  for (let j = 0; j < n; j++) row[j]! /= sum;
}

/** SiLU (swish): x · sigmoid(x). */
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}
