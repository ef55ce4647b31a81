/**
 * Splitting SentencePiece input into independent segments, so that long texts merge word by word (with a cache)
 * instead of in one heap over the whole text.
 *
 * Why it is exact: SPM merges only ever form strings that are tokens. If no token contains a non-space character
 * followed by the space symbol (true of vocabularies trained with whitespace splitting, e.g. Llama's), no symbol can
 * span such a boundary, so merges on either side never interact and their relative order is unchanged.
 */

/** Whether no token has `space` right after a different character (then segmenting is exact). */
export function canSegmentAtSpaces(tokens: readonly string[], space: string): boolean {
  for (const t of tokens) {
    for (let i = t.indexOf(space, 1); i > 0; i = t.indexOf(space, i + 1)) {
      if (t[i - 1] !== space) return false;
    }
  }
  return true;
}

/** `text` cut before every `space` that follows a different character: "▁a▁▁b" → ["▁a", "▁▁b"]. */
export function splitBeforeSpaces(text: string, space: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf(space, 1); i > 0; i = text.indexOf(space, i + 1)) {
    if (text[i - 1] !== space) {
      out.push(text.slice(start, i));
      start = i;
    }
  }
  out.push(text.slice(start));
  return out;
}
