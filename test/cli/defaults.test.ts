// The built-in model is the default of every command that reads a model, info and tokenize included; a fresh clone
// (no ../shared) runs these.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8', ...(input !== undefined ? { input } : {}) });

test('info and tokenize without --model describe and tokenise with the built-in model', () => {
  const info = cli(['info', '--json']);
  assert.equal(info.status, 0, info.stderr);
  assert.match((JSON.parse(info.stdout) as { path: string }).path, /models\/kvmerger-default\.gguf$/);
  const a = cli(['tokenize', '-p', 'Hello world', '--json']);
  assert.equal(a.status, 0, a.stderr);
  // the old spelling, stdin, and --tokenizer naming the same file give the same ids
  const b = cli(['tokenize', '--text-file', '-', '--json'], 'Hello world');
  const c = cli(['tokenize', '--tokenizer', join(root, 'models/kvmerger-default.gguf'), '--text', 'Hello world', '--json']);
  assert.deepEqual(JSON.parse(b.stdout), JSON.parse(a.stdout));
  assert.deepEqual(JSON.parse(c.stdout), JSON.parse(a.stdout));
  const none = cli(['tokenize']);
  assert.equal(none.stderr, 'kvmerger: tokenize: give exactly one of --prompt TEXT or --prompt-file FILE (- reads stdin)\n');
});
