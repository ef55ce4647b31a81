/**
 * RULER's string-match scoring (eval/synthetic/constants.py), per sample in [0, 1] (RULER averages over samples
 * and reports × 100, rounded to 2 decimals):
 * - all: the fraction of the references that appear in the prediction (case-insensitive substring);
 * - part: 1 if any reference appears.
 */
export function stringMatchAll(prediction: string, references: readonly string[]): number {
  if (references.length === 0) return 0;
  const p = prediction.toLowerCase();
  return references.filter((r) => p.includes(r.toLowerCase())).length / references.length;
}

export function stringMatchPart(prediction: string, references: readonly string[]): number {
  const p = prediction.toLowerCase();
  return references.some((r) => p.includes(r.toLowerCase())) ? 1 : 0;
}
