/**
 * Writes assets/haystack-excerpts.json.gz: the built-in haystack that ships with kvmerger, so the demo and every
 * haystack task run on a fresh clone with no data folder. It is a selection of excerpts (one per book, cut at
 * paragraph boundaries) from the held-out 'haystack' books of the Gutenberg split: public-domain prose that the
 * built-in model never trained on. Deterministic: the same data folder gives the same bytes.
 *
 *   npx tsx scripts/make-haystack-excerpts.ts [--data ../shared/data] [--books 16] [--chars 24000]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { loadGutenbergBooks } from '../src/eval/tasks/gutenberg.js';
import { resolveDataRoot, packageRoot } from '../src/eval/tasks/data-root.js';
import type { BuiltinHaystackFile } from '../src/eval/tasks/builtin-haystack.js';

const { values } = parseArgs({ options: { data: { type: 'string' }, books: { type: 'string', default: '16' }, chars: { type: 'string', default: '24000' } } });
const books = loadGutenbergBooks(resolveDataRoot(values.data), 'haystack');
const want = Number(values.books);
const chars = Number(values.chars);
// Every k-th book of the sorted list, so authors are spread over the selection.
const sorted = [...books].sort((a, b) => (a.file < b.file ? -1 : 1));
const step = Math.max(1, Math.floor(sorted.length / want));
const picked = sorted.filter((_, i) => i % step === 0).slice(0, want);
const excerpts = picked.map((b) => {
  // From the first paragraph after a third of the book (past front matter) to the last paragraph end within `chars`.
  const t = b.text;
  let start = t.indexOf('\n\n', Math.floor(t.length / 3));
  start = start < 0 ? 0 : start + 2;
  let end = t.lastIndexOf('\n\n', start + chars);
  if (end <= start) end = Math.min(t.length, start + chars);
  return { book: b.file, start, text: t.slice(start, end).trim() };
});
const file: BuiltinHaystackFile = {
  about: 'Excerpts of public-domain Project Gutenberg books (held-out haystack split), cut at paragraph boundaries; written by scripts/make-haystack-excerpts.ts',
  excerpts,
};
const out = join(packageRoot(), 'assets', 'haystack-excerpts.json.gz');
const gz = gzipSync(Buffer.from(JSON.stringify(file)), { level: 9 });
writeFileSync(out, gz);
const total = excerpts.reduce((a, e) => a + e.text.length, 0);
process.stdout.write(`${out}: ${excerpts.length} excerpts, ${total} chars, ${gz.length} bytes gzipped\n`);
