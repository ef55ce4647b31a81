/** How the attention of the query heads that share one KV head (grouped-query attention) is combined. */
export type GqaReduce = 'mean' | 'max' | 'sum';

/**
 * Reduce one layer's per-query-head statistics to per-KV-head ones: query head q reads KV head ⌊q / g⌋ with
 * g = queryHeads / kvHeads. Every query head's array has the length of its KV head's slots.
 * @param perQueryHead [queryHead] → Float32Array(slots)
 * @returns [kvHead] → Float32Array(slots)
 */
export function reduceToKvHeads(perQueryHead: readonly Float32Array[], kvHeads: number, mode: GqaReduce): Float32Array[] {
  const q = perQueryHead.length;
  if (kvHeads < 1 || q % kvHeads !== 0) throw new Error(`reduceToKvHeads: ${q} query heads do not group onto ${kvHeads} KV heads`);
  const g = q / kvHeads;
  const out: Float32Array[] = [];
  for (let h = 0; h < kvHeads; h++) {
    const first = perQueryHead[h * g]!;
    const n = first.length;
    const acc = new Float64Array(n);
    if (mode === 'max') acc.fill(-Infinity);
    for (let k = 0; k < g; k++) {
      const row = perQueryHead[h * g + k]!;
      if (row.length !== n) throw new Error(`reduceToKvHeads: query heads of KV head ${h} have different slot counts (${n}, ${row.length})`);
      if (mode === 'max') for (let j = 0; j < n; j++) acc[j] = Math.max(acc[j]!, row[j]!);
      else for (let j = 0; j < n; j++) acc[j] = acc[j]! + row[j]!;
    }
    if (mode === 'mean') for (let j = 0; j < n; j++) acc[j] = acc[j]! / g;
    const r = new Float32Array(n);
    r.set(acc);
    out.push(r);
  }
  return out;
}

/** Reduce every layer: [layer][queryHead] → [layer][kvHead]. */
export function reduceLayers(perQueryHead: readonly (readonly Float32Array[])[], kvHeadsPerLayer: readonly number[], mode: GqaReduce): Float32Array[][] {
  return perQueryHead.map((layer, l) => reduceToKvHeads(layer, kvHeadsPerLayer[l]!, mode));
}
