import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stripGutenberg, reflow, gutenbergSplit, loadGutenbergBooks } from '../../../src/eval/tasks/gutenberg.js';
import { resolveDataRoot } from '../../../src/eval/tasks/data-root.js';
import { KvError } from '../../../src/util/errors.js';
import { sharedData } from '../../helpers/shared-data.js';

const RAW = [
  'The Project Gutenberg eBook of X\r',
  'License blah\r',
  '*** START OF THE PROJECT GUTENBERG EBOOK X ***\r',
  '\r',
  'Chapter one. It was a\r',
  'dark night.\r',
  '\r',
  '\r',
  'Second  para.\r',
  '*** END OF THE PROJECT GUTENBERG EBOOK X ***\r',
  'Footer text',
].join('\n');

test('stripGutenberg keeps only the body between the markers', () => {
  assert.equal(stripGutenberg(RAW), 'Chapter one. It was a\ndark night.\n\n\nSecond  para.\n');
  assert.equal(stripGutenberg('no markers here'), undefined);
  // A START marker wrapped over two lines: the body starts after the line that closes it with ***.
  const wrapped = '*** START OF THIS PROJECT GUTENBERG\nEBOOK Y ***\nBody.\n*** END OF IT ***\n';
  assert.equal(stripGutenberg(wrapped), 'Body.\n');
});

test('reflow joins wrapped lines and keeps paragraphs', () => {
  assert.equal(reflow(stripGutenberg(RAW)!), 'Chapter one. It was a dark night.\n\nSecond  para.\n');
});

test('gutenbergSplit falls back to a documented deterministic choice', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gut-'));
  const rows = Array.from({ length: 25 }, (_, i) => `b${String(i).padStart(2, '0')}.txt\t1\t1\ta\tt`);
  writeFileSync(join(dir, 'MANIFEST.tsv'), ['file\tbytes\tebook_no\tauthor\ttitle', ...rows].join('\n'));
  const s = gutenbergSplit(dir, join(dir, 'absent.json'));
  assert.deepEqual(s.haystack, ['b00.txt', 'b20.txt']);
  assert.deepEqual(s.validation, ['b01.txt', 'b21.txt']);
  assert.equal(s.train.length, 21);
});

test('loadGutenbergBooks reads a split from a data root', () => {
  const root = mkdtempSync(join(tmpdir(), 'data-'));
  const dir = join(root, 'corpora', 'gutenberg');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'MANIFEST.tsv'), 'file\nx.txt\n');
  writeFileSync(join(dir, 'x.txt'), RAW);
  writeFileSync(join(root, 'split.json'), JSON.stringify({ train: [], validation: [], haystack: ['x.txt'] }));
  const books = loadGutenbergBooks(root, 'haystack', join(root, 'split.json'));
  assert.deepEqual(books, [{ file: 'x.txt', text: 'Chapter one. It was a dark night.\n\nSecond  para.\n' }]);
});

test('resolveDataRoot: a missing folder is a KvError naming the fix', () => {
  assert.throws(() => resolveDataRoot('/nonexistent/kvm-data'), (e: unknown) => e instanceof KvError && /--data/.test(e.message));
});

test('the real haystack split loads (shared data)', (t) => {
  const root = sharedData();
  if (!root) return t.skip('../shared/data absent');
  const books = loadGutenbergBooks(root, 'haystack');
  assert.ok(books.length >= 20);
  for (const b of books.slice(0, 3)) {
    assert.ok(!/\*\*\* ?(START|END) OF/.test(b.text), b.file);
    assert.ok(b.text.length > 10000);
  }
});
