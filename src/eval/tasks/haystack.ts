/**
 * Haystacks: long public-domain prose filled to a token count, and needle insertion at a depth, snapped back to a
 * sentence boundary as the standard needle-in-a-haystack test does.
 *
 * Sources: `gutenberg` (the held-out haystack books, reflowed, joined by blank lines; the default) and `essays` (the
 * Paul Graham essays of the standard test, when present in the data folder; concatenated as-is in sorted file order,
 * as the original tester reads them). Either is treated as circular, so any length can be filled.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KvError } from '../../util/errors.js';
import { builtinHaystackText } from './builtin-haystack.js';
import { defaultDataRoot, resolveDataRoot } from './data-root.js';
import { loadGutenbergBooks, type GutenbergSplitName } from './gutenberg.js';
import { encodeContent, type EvalTokenizer } from './task.js';

export type HaystackSource = 'gutenberg' | 'builtin' | 'essays';
export const HAYSTACK_SOURCES: readonly HaystackSource[] = ['gutenberg', 'builtin', 'essays'];

export interface HaystackCorpus {
  /** Identifies the text for caches (source and split). */
  id: string;
  /** The text actually used: 'gutenberg' falls back to 'builtin' where there is no data folder. */
  source: HaystackSource;
  text: string;
  /** Char offsets where a paragraph starts (random windows start there). */
  paragraphStarts: number[];
}

export const ESSAYS_DIR = join('haystacks', 'paul-graham-essays');

const corpora = new Map<string, HaystackCorpus>();

/**
 * The haystack text of a source. `split` picks the Gutenberg books (default the held-out 'haystack' books; fidelity
 * documents use 'validation' or 'haystack'); the essays have no split.
 */
export function loadHaystackCorpus(source: HaystackSource, dataRoot: string, split: GutenbergSplitName = 'haystack'): HaystackCorpus {
  const id = source === 'gutenberg' ? `gutenberg:${split}` : source;
  if (source === 'builtin') dataRoot = '';
  const key = `${id}|${dataRoot}`;
  const hit = corpora.get(key);
  if (hit) return hit;
  let text: string;
  if (source === 'builtin') {
    text = builtinHaystackText();
  } else if (source === 'gutenberg') {
    text = loadGutenbergBooks(dataRoot, split)
      .map((b) => b.text.trim())
      .join('\n\n');
  } else if (source === 'essays') {
    const dir = join(dataRoot, ESSAYS_DIR);
    if (!existsSync(dir)) {
      throw new KvError(`${dir} not found: the 'essays' haystack needs the Paul Graham essays there; use haystack=gutenberg`);
    }
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
    text = files.map((f) => readFileSync(join(dir, f), 'utf8')).join('');
  } else {
    throw new KvError(`unknown haystack '${String(source)}'; use one of ${HAYSTACK_SOURCES.join(', ')}`);
  }
  const paragraphStarts = [0];
  for (const m of text.matchAll(/\n\s*\n(?=\S)/g)) paragraphStarts.push(m.index! + m[0].length);
  const corpus = { id, source, text, paragraphStarts };
  corpora.set(key, corpus);
  return corpus;
}

/**
 * The haystack a task reads: `gutenberg` from the data folder (`given`, else the default one), or, when no folder was
 * given and the default one does not exist (a fresh clone, an installed package), the built-in excerpts of the same
 * held-out books; `builtin` always the excerpts; `essays` needs the data folder. `what` names the task for errors.
 */
export function openHaystack(source: HaystackSource, given: string | undefined, what: string, split: GutenbergSplitName = 'haystack'): HaystackCorpus {
  if (source === 'builtin' || (source === 'gutenberg' && given === undefined && !existsSync(defaultDataRoot()))) {
    return loadHaystackCorpus('builtin', '');
  }
  return loadHaystackCorpus(source, resolveDataRoot(given, what), split);
}

/** `len` chars of the corpus from `start`, wrapping around to the beginning (joined by a blank line). */
export function circularSlice(corpus: HaystackCorpus, start: number, len: number): string {
  const t = corpus.text;
  let out = t.slice(start, start + len);
  while (out.length < len) out += '\n\n' + t.slice(0, len - out.length);
  return out.slice(0, len);
}

const tokenCache = new WeakMap<EvalTokenizer, Map<string, number[]>>();

/**
 * The first `n` content tokens of the corpus read from char offset `start`. A window of text is encoded (larger
 * windows as needed, cached per tokenizer) and cut in token space, so fills are exact token counts.
 */
export function haystackTokens(corpus: HaystackCorpus, start: number, n: number, tokenizer: EvalTokenizer): number[] {
  let cache = tokenCache.get(tokenizer);
  if (!cache) tokenCache.set(tokenizer, (cache = new Map()));
  const key = `${corpus.id}|${corpus.text.length}|${start}`;
  let ids = cache.get(key);
  // A margin of tokens past n keeps the last kept token away from the window's cut.
  const need = n + 16;
  if (!ids || ids.length < need) {
    const probe = encodeContent(tokenizer, circularSlice(corpus, start, 4000)).length;
    const charsPerToken = 4000 / Math.max(1, probe);
    let chars = Math.ceil(need * charsPerToken * 1.1) + 64;
    for (;;) {
      ids = encodeContent(tokenizer, circularSlice(corpus, start, chars));
      if (ids.length >= need) break;
      chars = Math.ceil(chars * Math.max(1.2, (need / Math.max(1, ids.length)) * 1.05));
    }
    cache.set(key, ids);
  }
  return ids.slice(0, n);
}

/** Decodes haystack tokens to text, dropping a broken character at either end (a cut through a UTF-8 sequence). */
export function decodeHaystack(ids: number[], tokenizer: EvalTokenizer): string {
  return tokenizer.decode(ids).replace(/^\uFFFD+|\uFFFD+$/g, '');
}

/**
 * The char offset of the last sentence boundary at or before `pos`: just after `.`, `!` or `?` (and any closing
 * quotes or brackets) where whitespace follows. 0 when there is none.
 */
export function sentenceBoundaryBefore(text: string, pos: number): number {
  const re = /[.!?]["'”’)\]]*(?=\s)/g;
  let best = 0;
  for (const m of text.slice(0, Math.min(text.length, pos + 8)).matchAll(re)) {
    const end = m.index! + m[0].length;
    if (end <= pos) best = end;
    else break;
  }
  return best;
}

/**
 * Splits a haystack at `depth` percent of its tokens, snapped back to a sentence boundary: `before` ends with the
 * sentence's punctuation (no trailing whitespace), `after` starts at the next sentence (leading whitespace dropped).
 * Depth 100 puts everything before; depth 0 everything after.
 */
export function splitAtDepth(ids: number[], depth: number, tokenizer: EvalTokenizer): { before: string; after: string } {
  if (!(depth >= 0 && depth <= 100)) throw new KvError(`depth ${depth} is out of range; depths are percentages in [0, 100]`);
  const text = decodeHaystack(ids, tokenizer);
  if (depth >= 100) return { before: text.trimEnd(), after: '' };
  const cutTokens = Math.floor((ids.length * depth) / 100);
  const pos = cutTokens === 0 ? 0 : decodeHaystack(ids.slice(0, cutTokens), tokenizer).length;
  const b = sentenceBoundaryBefore(text, pos);
  return { before: text.slice(0, b), after: text.slice(b).replace(/^\s+/, '') };
}

/** The text up to its last complete sentence ('' when it has none): a haystack that does not stop mid-word. */
export function trimToSentence(text: string): string {
  return text.slice(0, sentenceBoundaryBefore(text + ' ', text.length));
}

/** A random paragraph start in the corpus (seeded windows for samples that should each see different prose). */
export function randomParagraphStart(corpus: HaystackCorpus, r: { int(n: number): number }): number {
  return corpus.paragraphStarts[r.int(corpus.paragraphStarts.length)]!;
}

/**
 * Sentences of a text (a stand-in for NLTK's sent_tokenize that RULER uses): split after `.`, `!` or `?` plus closing
 * quotes/brackets where whitespace follows; pieces trimmed, empty ones dropped.
 */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?]["'”’)\]]*)\s+/u)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
