// The `kvmerger` entry as users run it (a child process): option-parser errors are one line naming the fix, and a
// reader that closes the pipe early (`kvmerger tokenize ... | head`) ends the command quietly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = ['--import', 'tsx', join(root, 'src/cli/main.ts')];

test("parseArgs errors: one line on stderr, the command's --help named, exit 1, no stack trace", () => {
  // a negative number after --budget: node's message spans three lines
  const neg = spawnSync(process.execPath, [...cli, 'generate', '--budget', '-0.1'], { cwd: root, encoding: 'utf8' });
  assert.equal(neg.status, 1);
  assert.equal(neg.stderr.trim().split('\n').length, 1, neg.stderr);
  assert.match(neg.stderr, /^kvmerger: Option '--budget' argument is ambiguous\. .*'--budget=-XYZ'; run 'kvmerger generate --help' for its options\n$/);
  const unknown = spawnSync(process.execPath, [...cli, 'info', '--model', 'x.gguf', '--bogus'], { cwd: root, encoding: 'utf8' });
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stderr, "kvmerger: Unknown option '--bogus'; run 'kvmerger info --help' for its options\n");
});

test('a closed stdout (EPIPE) ends the command with exit 0 and nothing on stderr', async () => {
  // `methods` prints a few KB; the reader is gone before the first write, so the write fails with EPIPE.
  const child = spawn(process.execPath, [...cli, 'methods'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});
