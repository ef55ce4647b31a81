/** Euclidean norm of each of the n rows of `vecs` ([n, dim]), summed in float64: key norms, cosine denominators. */
export function rowNorms(vecs: ArrayLike<number>, n: number, dim: number): Float64Array {
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let c = j * dim; c < (j + 1) * dim; c++) s += vecs[c]! * vecs[c]!;
    out[j] = Math.sqrt(s);
  }
  return out;
}
