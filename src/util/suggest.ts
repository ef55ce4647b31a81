/** "Did you mean" for mistyped names (commands, options, methods, tasks): edit distance. */

/** Levenshtein distance (small strings). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The candidates closest to `word` (at most a third of its length away, at least 1, at most 3), best first. */
export function closest(word: string, candidates: readonly string[]): string[] {
  const limit = Math.min(3, Math.max(1, Math.round(word.length / 3)));
  const scored = candidates
    .map((c) => ({ c, d: editDistance(word.toLowerCase(), c.toLowerCase()), prefix: c.startsWith(word) && word.length >= 3 }))
    .filter((x) => x.d <= limit || x.prefix)
    .sort((x, y) => x.d - y.d);
  return [...new Set(scored.map((x) => x.c))].slice(0, 3);
}

/** " (did you mean X?)", " (did you mean X or Y?)", or ''. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c.length === 0 ? '' : ` (did you mean ${c.length === 1 ? c[0] : `${c.slice(0, -1).join(', ')} or ${c[c.length - 1]}`}?)`;
}
