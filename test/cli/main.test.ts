// The `kvmerger` entry as users run it (a child process): option-parser errors are one line naming the fix, and a
// reader that closes the pipe early (`kvmerger tokenize ... | head`) ends the command quietly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = ['--import', 'tsx', join(root, 'src/cli/main.ts')];

test("option errors: one line on stderr, the command's --help named, exit 1, no stack trace", () => {
  // a negative number is a number: the option's own range check answers, not the parser
  const neg = spawnSync(process.execPath, [...cli, 'generate', '--budget', '-0.1', '--method', 'h2o'], { cwd: root, encoding: 'utf8' });
  assert.equal(neg.status, 1);
  assert.equal(neg.stderr, 'kvmerger: --budget must be in (0, 1]; got -0.1\n');
  const temp = spawnSync(process.execPath, [...cli, 'generate', '--temperature', '-1'], { cwd: root, encoding: 'utf8' });
  assert.equal(temp.stderr, "kvmerger: --temperature must be a number ≥ 0 (got -1)\n");
  const unknown = spawnSync(process.execPath, [...cli, 'info', '--model', 'x.gguf', '--bogus'], { cwd: root, encoding: 'utf8' });
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stderr, "kvmerger: unknown option '--bogus'; run 'kvmerger info --help' for its options\n");
  const typo = spawnSync(process.execPath, [...cli, 'generate', '--max-token', '5'], { cwd: root, encoding: 'utf8' });
  assert.equal(typo.stderr, "kvmerger: unknown option '--max-token' (did you mean --max-tokens?); run 'kvmerger generate --help' for its options\n");
  const elsewhere = spawnSync(process.execPath, [...cli, 'generate', '--data', 'x'], { cwd: root, encoding: 'utf8' });
  assert.match(elsewhere.stderr, /^kvmerger: unknown option '--data' \(eval, .*analyze take it, generate does not\); run 'kvmerger generate --help'/);
  const command = spawnSync(process.execPath, [...cli, 'genrate'], { cwd: root, encoding: 'utf8' });
  assert.equal(command.status, 1);
  assert.equal(command.stderr, "kvmerger: unknown command 'genrate' (did you mean generate?); run 'kvmerger --help' for the list of commands\n");
});

test('every --help fits 100 columns', () => {
  for (const args of [['--help'], ...['info', 'tokenize', 'generate', 'methods', 'report', 'eval', 'reproduce', 'demo', 'analyze', 'bench'].map((c) => [c, '--help'])]) {
    const r = spawnSync(process.execPath, [...cli, ...args], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    for (const l of r.stdout.split('\n')) assert.ok([...l].length <= 100, `${args.join(' ')}: ${l}`);
  }
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
