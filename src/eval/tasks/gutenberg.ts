/**
 * Gutenberg books for haystacks and fidelity documents: the Project Gutenberg header and footer stripped, hard-wrapped
 * lines reflowed into paragraphs, and only held-out books (the split in src/eval/tasks/data/gutenberg-split.json, written by
 * the training tool, tools/train/corpus.py; the same stripping rule, so that training and evaluation agree).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvError } from '../../util/errors.js';
import { dataPath, packageRoot } from './data-root.js';

export type GutenbergSplitName = 'train' | 'validation' | 'haystack';

/**
 * The book body: from the line after the LAST `*** START OF` marker (the marker may wrap; its line ends with `***`)
 * to the first `*** END OF` line after it. CRLF becomes LF. Undefined when either marker is missing.
 */
export function stripGutenberg(raw: string): string | undefined {
  const text = raw.replace(/\r\n?/g, '\n');
  const starts = [...text.matchAll(/^\*\*\* ?START OF/gm)];
  if (starts.length === 0) return undefined;
  const s = starts[starts.length - 1]!.index!;
  const close = text.indexOf('***', s + 3);
  if (close < 0) return undefined;
  const bodyStart = text.indexOf('\n', close + 3);
  if (bodyStart < 0) return undefined;
  const endRe = /^\*\*\* ?END OF/gm;
  endRe.lastIndex = bodyStart;
  const end = endRe.exec(text);
  if (!end) return undefined;
  return text.slice(bodyStart + 1, end.index).replace(/^\n+|\n+$/g, '') + '\n';
}

/** Joins the lines of each paragraph with one space; paragraphs are separated by one blank line ("\n\n"). */
export function reflow(body: string): string {
  const out: string[] = [];
  for (const para of body.split(/\n[ \t]*\n+/)) {
    const joined = para
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0)
      .join(' ');
    if (joined) out.push(joined);
  }
  return out.join('\n\n') + '\n';
}

/** Book paths (relative to corpora/gutenberg) of one split. */
export interface GutenbergSplit {
  source: string;
  train: string[];
  validation: string[];
  haystack: string[];
}

/**
 * The split: src/eval/tasks/data/gutenberg-split.json when present. Fallback when it is absent (a deterministic choice,
 * documented here): the MANIFEST.tsv files sorted by path; index i % 20 === 0 → haystack, === 1 → validation, the
 * rest → train.
 */
export function gutenbergSplit(gutenbergDir: string, splitFile = join(packageRoot(), 'src', 'eval', 'tasks', 'data', 'gutenberg-split.json')): GutenbergSplit {
  if (existsSync(splitFile)) {
    const j = JSON.parse(readFileSync(splitFile, 'utf8')) as Partial<Record<GutenbergSplitName, unknown>>;
    const list = (k: GutenbergSplitName): string[] => {
      const v = j[k];
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
        throw new KvError(`${splitFile}: '${k}' must be a list of book paths; regenerate it with tools/train`);
      }
      return v as string[];
    };
    return { source: splitFile, train: list('train'), validation: list('validation'), haystack: list('haystack') };
  }
  const files = manifestFiles(gutenbergDir).sort();
  const split: GutenbergSplit = { source: 'fallback: MANIFEST order, i % 20 (0 haystack, 1 validation)', train: [], validation: [], haystack: [] };
  files.forEach((f, i) => (i % 20 === 0 ? split.haystack : i % 20 === 1 ? split.validation : split.train).push(f));
  return split;
}

function manifestFiles(dir: string): string[] {
  const manifest = dataPath(dir, 'MANIFEST.tsv', 'the Gutenberg corpus');
  return readFileSync(manifest, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => l.split('\t')[0]!);
}

export interface GutenbergBook {
  /** Path relative to corpora/gutenberg. */
  file: string;
  /** Reflowed body text. */
  text: string;
}

const bookCache = new Map<string, GutenbergBook[]>();

/** The books of one split under `dataRoot/corpora/gutenberg`, stripped and reflowed (cached per process). */
export function loadGutenbergBooks(dataRoot: string, split: GutenbergSplitName = 'haystack', splitFile?: string): GutenbergBook[] {
  const dir = dataPath(dataRoot, join('corpora', 'gutenberg'), 'the Gutenberg haystack');
  const key = `${dir}|${split}|${splitFile ?? ''}`;
  const cached = bookCache.get(key);
  if (cached) return cached;
  const files = gutenbergSplit(dir, splitFile)[split];
  const books: GutenbergBook[] = [];
  for (const file of files) {
    const p = join(dir, file);
    if (!existsSync(p)) throw new KvError(`${p}: book listed in the Gutenberg split is missing; check the data folder`);
    const body = stripGutenberg(readFileSync(p, 'utf8'));
    if (body === undefined) continue; // no markers: the split rule excludes these; skip defensively
    books.push({ file, text: reflow(body) });
  }
  if (books.length === 0) throw new KvError(`${dir}: no usable '${split}' books; check the data folder and the split file`);
  bookCache.set(key, books);
  return books;
}
