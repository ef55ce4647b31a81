/**
 * KVMerger's pivot (spec §2.3): the member of a merging set with the highest aggregated attention, ties → the later
 * slot. The merged slot is written into the pivot's slot and keeps its position.
 */
export function pivotOf(attention: ArrayLike<number>, start: number, end: number): number {
  let p = start;
  for (let i = start + 1; i <= end; i++) if (attention[i]! >= attention[p]!) p = i;
  return p;
}

/** The centre member of a set (ablation of the pivot rule): start + ⌊|S| / 2⌋, so of two members the later. */
export function centrePivot(start: number, end: number): number {
  return start + ((end - start + 1) >> 1);
}
