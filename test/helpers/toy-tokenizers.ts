/** Lossless toy tokenizers for eval tests: any text round-trips through encode/decode. */
import type { EvalTokenizer } from '../../src/eval/tasks/task.js';

/** One token per Unicode code point (id = the code point). */
export const charTokenizer: EvalTokenizer = {
  encode: (text) => Array.from(text, (c) => c.codePointAt(0)!),
  decode: (ids) => ids.map((i) => String.fromCodePoint(i)).join(''),
};

/** One token per run of whitespace or run of non-whitespace; ids assigned on first sight. */
export function wordTokenizer(): EvalTokenizer {
  const ids = new Map<string, number>();
  const pieces: string[] = [];
  return {
    encode(text) {
      const out: number[] = [];
      for (const m of text.matchAll(/\s+|\S+/gu)) {
        let id = ids.get(m[0]);
        if (id === undefined) {
          id = pieces.length;
          ids.set(m[0], id);
          pieces.push(m[0]);
        }
        out.push(id);
      }
      return out;
    },
    decode: (list) => list.map((i) => pieces[i]!).join(''),
  };
}
