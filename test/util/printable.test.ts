// Messages never print a binary file's raw bytes: KvError escapes control characters, undecodable bytes and
// invisible format characters, and shortens a very long message; the CLI's line on a damaged file stays one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvError, printable } from '../../src/util/errors.js';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'kvmerger-printable-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('printable: controls, U+FFFD, lone surrogates and bidi controls escaped; text and emoji kept', () => {
  assert.equal(printable('a\x1b[31mb\nc\x00 \ufffd \ud800 é 日本 😀 \u202e'), 'a\\x1b[31mb\\x0ac\\x00 \\u{fffd} \\u{d800} é 日本 😀 \\u{202e}');
  const long = new KvError('x'.repeat(5000)).message;
  assert.ok(long.length < 1600 && long.includes('characters left out'));
  assert.equal(new KvError('plain: one line').message, 'plain: one line');
});

test('a damaged GGUF key and a binary tokenizer.json: the messages hold no raw bytes', () => {
  // a key with an escape sequence and undecodable bytes, given twice
  const enc = new TextEncoder();
  const key = Uint8Array.from([...enc.encode('k\x1b[2J'), 0xff, 0xfe, 0x00]);
  const parts: number[] = [...enc.encode('GGUF'), 3, 0, 0, 0, ...new Uint8Array(8), 2, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 2; i++) parts.push(key.length, 0, 0, 0, 0, 0, 0, 0, ...key, 4, 0, 0, 0, 1, 0, 0, 0);
  const g = join(dir, 'keys.gguf');
  writeFileSync(g, Uint8Array.from(parts));
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'info', '-m', g], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^kvmerger: .*keys\.gguf: corrupt GGUF header: metadata key 'k\\x1b\[2J\\u\{fffd\}\\u\{fffd\}\\x00' appears twice\n$/);
  const j = join(dir, 'tokenizer.json');
  writeFileSync(j, Uint8Array.from([0x7b, 0x00, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0xff, 0x07]));
  assert.throws(() => loadTokenizer(j), (e: Error) => e instanceof KvError && /invalid JSON/.test(e.message) && !/\p{Cc}/u.test(e.message) && !e.message.includes('\ufffd'));
});
