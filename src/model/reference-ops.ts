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
 * Y = X Wᵀ (+ bias): X [n, inDim], W [outDim, inDim] row-major, Y [n, outDim]. Each weight row is reused for four
 * tokens at a time while it is in cache; every dot product is summed in float64, in index order.
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
  const n4 = n - (n % 4);
  for (let o = 0; o < outDim; o++) {
    const row = o * inDim;
    const b = bias ? bias[o]! : 0;
    for (let t = 0; t < n4; t += 4) {
      const x0 = t * inDim;
      const x1 = x0 + inDim;
      const x2 = x1 + inDim;
      const x3 = x2 + inDim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < inDim; i++) {
        const wi = w[row + i]!;
        s0 += wi * x[x0 + i]!;
        s1 += wi * x[x1 + i]!;
        s2 += wi * x[x2 + i]!;
        s3 += wi * x[x3 + i]!;
      }
      y[t * outDim + o] = s0 + b;
      y[(t + 1) * outDim + o] = s1 + b;
      y[(t + 2) * outDim + o] = s2 + b;
      y[(t + 3) * outDim + o] = s3 + b;
    }
    for (let t = n4; t < n; t++) {
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

/** GELU with the tanh approximation (ggml_gelu; Gemma's gelu_pytorch_tanh): ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * x * (1 + 0.044715 * x * x)));
}

/** Soft-capping: cap · tanh(x / cap). */
export function softcap(x: number, cap: number): number {
  return cap * Math.tanh(x / cap);
}
