// Input without an end (--prompt-file /dev/zero, an endless stdin) is one line at 64 MiB, not a hang or an
// out-of-memory abort; ordinary files and pipes read as before; negative numbers reach the option's own check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = ['--import', 'tsx', join(root, 'src/cli/main.ts')];
const model = join(root, 'models', 'kvmerger-default.gguf');

test('--prompt-file /dev/zero and stdin from /dev/zero: one line, exit 1, in seconds', () => {
  const t0 = performance.now();
  const a = spawnSync(process.execPath, [...cli, 'tokenize', '-m', model, '-f', '/dev/zero'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(a.status, 1, a.stderr);
  assert.equal(a.stderr, 'kvmerger: --prompt-file /dev/zero: more than 64 MiB of text, far more than any context holds; pass a shorter text\n');
  const zero = openSync('/dev/zero', 'r');
  try {
    const b = spawnSync(process.execPath, [...cli, 'tokenize', '-m', model, '-f', '-'], { cwd: root, encoding: 'utf8', timeout: 30_000, stdio: [zero, 'pipe', 'pipe'] });
    assert.equal(b.status, 1, b.stderr);
    assert.match(b.stderr, /^kvmerger: --prompt-file -: more than 64 MiB of text/);
  } finally {
    closeSync(zero);
  }
  assert.ok(performance.now() - t0 < 25_000);
  const c = spawnSync(process.execPath, [...cli, 'tokenize', '-m', model, '-f', '-', '--json', '--no-special'], { cwd: root, encoding: 'utf8', input: 'hello world' });
  assert.equal(c.status, 0, c.stderr);
  assert.ok((JSON.parse(c.stdout) as { ids: number[] }).ids.length > 0);
});

test('--budget -1 and --budgets -1: the (0, 1] message, not the argument parser', () => {
  const g = spawnSync(process.execPath, [...cli, 'generate', '--method', 'h2o', '--budget', '-1'], { cwd: root, encoding: 'utf8' });
  assert.equal(g.stderr, 'kvmerger: --budget must be in (0, 1]; got -1\n');
  const e = spawnSync(process.execPath, [...cli, 'eval', '--tasks', 'fidelity', '--out', '/tmp/x', '--budgets', '-1'], { cwd: root, encoding: 'utf8' });
  assert.match(e.stderr, /^kvmerger: --budgets: -1 is outside \(0, 1\]/);
});
