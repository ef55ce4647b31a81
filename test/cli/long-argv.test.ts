// A command line over onnxruntime's limit (about 26 KB: it walks /proc/self/cmdline recursively at start and
// overflowed the stack, SIGSEGV) runs in a child that gets its arguments through a pipe: a 30 KB --prompt on the
// ort backend gives the same clean context error as --prompt-file, and --truncate runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeChatModel } from '../helpers/chat-model.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = ['--import', 'tsx', join(root, 'src/cli/main.ts')];
const dir = mkdtempSync(join(tmpdir(), 'kvmerger-argv-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a 30 KB --prompt on the ort backend: the context error (exit 1), as through --prompt-file; --truncate runs', () => {
  const model = join(dir, 'm.gguf');
  writeChatModel(model, undefined, { contextLength: 64 });
  const prompt = Array.from({ length: 6000 }, (_, i) => `w${i % 50}`).join(' ').slice(0, 30000);
  const file = join(dir, 'p.txt');
  writeFileSync(file, prompt);
  const base = ['generate', '-m', model, '--backend', 'ort', '-n', '2', '--temperature', '0', '--quiet'];
  const viaFile = spawnSync(process.execPath, [...cli, ...base, '--prompt-file', file], { cwd: root, encoding: 'utf8' });
  const viaArg = spawnSync(process.execPath, [...cli, ...base, '--prompt', prompt], { cwd: root, encoding: 'utf8' });
  assert.equal(viaArg.status, 1, viaArg.stderr.slice(0, 300));
  assert.equal(viaArg.stderr, viaFile.stderr);
  assert.match(viaArg.stderr, /^kvmerger: prompt has \d+ tokens but the model's context is 64; shorten it or pass --truncate/);
  assert.equal(viaArg.stderr.split('\n').length, 2);
  const truncated = spawnSync(process.execPath, [...cli, ...base, '--prompt', prompt, '--truncate', 'start', '--json'], { cwd: root, encoding: 'utf8' });
  assert.equal(truncated.status, 0, truncated.stderr.slice(0, 300));
  const j = JSON.parse(truncated.stdout) as { tokens: { prompt: number; generated: number } };
  assert.ok(j.tokens.prompt <= 64);
  // stdin still reaches the command in the child (--prompt-file -)
  const stdin = spawnSync(process.execPath, [...cli, ...base, '--prompt-file', '-', '--stop', prompt.slice(0, 20000)], { cwd: root, encoding: 'utf8', input: prompt });
  assert.equal(stdin.stderr, viaFile.stderr);
});
