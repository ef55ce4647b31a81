/**
 * ROUGE scores, written from their definitions.
 *
 * - `rouge1Recall`: unigram recall of a reference in a candidate (clipped counts), on lowercased letter/digit runs
 *   (the tokenisation of Google's rouge-score, extended to any script). Used by the needle tasks.
 * - `rougeL`: ROUGE-L F exactly as the Python `rouge` package (pltrdy, the one LongBench's metrics.py calls with
 *   `Rouge().get_scores([pred], [ref], avg=True)["rouge-l"]["f"]`) computes it: texts are split into sentences on
 *   '.', each sentence's whitespace normalised, words split on ' ' (no lowercasing); the score is summary-level
 *   union-LCS over UNIQUE words: llcs = |⋃ over reference sentences r and candidate sentences c of the set of words
 *   on one LCS(r, c)|, R = llcs / |distinct reference words|, P = llcs / |distinct candidate words|,
 *   F = 2PR / (P + R + 1e-8). An empty candidate or reference scores 0 (the package raises; LongBench catches it).
 */
import { sharedTokenCount } from './shared-token-count.js';

export function rougeTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Fraction of the reference's unigrams (with multiplicity) that the candidate contains; 0 for an empty reference. */
export function rouge1Recall(candidate: string, reference: string): number {
  const ref = rougeTokens(reference);
  if (ref.length === 0) return 0;
  return sharedTokenCount(rougeTokens(candidate), ref) / ref.length;
}

/** Sentences as the rouge package splits them: on '.', empty pieces dropped, then whitespace-normalised. */
function sentences(text: string): string[] {
  return text
    .split('.')
    .filter((s) => s.length > 0)
    .map((s) => s.split(/\s+/).filter((w) => w.length > 0).join(' '));
}

function words(sentence: string): string[] {
  return sentence.split(' ');
}

/**
 * The words on one longest common subsequence of x (reference) and y (candidate), reconstructed as the rouge
 * package does (on a tie it steps left in y before up in x).
 */
export function lcsWords(x: string[], y: string[]): string[] {
  const n = x.length;
  const m = y.length;
  const w = m + 1;
  const table = new Uint32Array((n + 1) * w);
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      table[i * w + j] = x[i - 1] === y[j - 1] ? table[(i - 1) * w + j - 1]! + 1 : Math.max(table[(i - 1) * w + j]!, table[i * w + j - 1]!);
    }
  }
  const out: string[] = [];
  let i = n;
  let j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] === y[j - 1]) {
      out.push(x[i - 1]!);
      i--;
      j--;
    } else if (table[(i - 1) * w + j]! > table[i * w + j - 1]!) i--;
    else j--;
  }
  return out.reverse();
}

export interface RougeLScore {
  f: number;
  p: number;
  r: number;
}

/** ROUGE-L (summary level, unique words) of a candidate against one reference, as the `rouge` package. */
export function rougeL(candidate: string, reference: string): RougeLScore {
  const hyp = sentences(candidate);
  const ref = sentences(reference);
  if (hyp.length === 0 || ref.length === 0) return { f: 0, p: 0, r: 0 };
  const hypWords = hyp.map(words);
  const m = new Set(ref.flatMap(words)).size;
  const n = new Set(hypWords.flat()).size;
  const union = new Set<string>();
  for (const r of ref) {
    const rw = words(r);
    for (const hw of hypWords) for (const word of lcsWords(rw, hw)) union.add(word);
  }
  const llcs = union.size;
  const r = llcs / m;
  const p = llcs / n;
  return { f: (2 * p * r) / (p + r + 1e-8), p, r };
}
