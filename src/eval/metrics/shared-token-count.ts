/**
 * Tokens two lists share, counted with multiplicity and clipped (a token twice in one list and once in the other
 * counts once): the matches of unigram recall, precision and F1.
 */
export function sharedTokenCount(a: readonly string[], b: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const t of a) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of b) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      same++;
      counts.set(t, c - 1);
    }
  }
  return same;
}
