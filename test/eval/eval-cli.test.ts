/**
 * `kvmerger eval` as a user runs it: a separate process, interrupted with SIGINT after its first row, then run again
 * to completion. Every cell ends up in results.jsonl exactly once, each line whole.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedData } from '../helpers/shared-data.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelFile = sharedData('models/stories260K.bin');
const tokFile = sharedData('models/tok512.bin');
const skip = !modelFile || !tokFile || !sharedData('corpora/gutenberg') ? 'needs ../shared/data (models/stories260K.bin, tok512.bin, corpora/gutenberg)' : false;
const tmp = mkdtempSync(join(tmpdir(), 'kvm-evalcli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[]) => [process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), ...args]] as const;
const rowsOf = (dir: string) => {
  const p = join(dir, 'results.jsonl');
  if (!existsSync(p)) return [] as string[];
  return readFileSync(p, 'utf8').split('\n').filter((l) => l !== '');
};

test('SIGINT after the first row loses at most the cell in progress; a re-run completes the grid', { skip, timeout: 60_000 }, async () => {
  const out = join(tmp, 'run');
  const args = [
    'eval', '--model', modelFile!, '--tokenizer', tokFile!, '--tasks', 'fidelity', '--lengths', '120,160', '--samples', '2',
    '--task-option', 'k=48', '--methods', 'full,h2o,cam,kvmerger,tova', '--budgets', '0.5,0.35', '--threads', '1', '--out', out,
  ];
  const total = 2 * 2 * (1 + 4 * 2);
  const [node, argv] = cli(args);
  const child = spawn(node, argv, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((res) => {
    const timer = setInterval(() => {
      if (rowsOf(out).length > 0) {
        clearInterval(timer);
        child.kill('SIGINT');
      }
    }, 20);
    child.on('exit', (c) => {
      clearInterval(timer);
      res(c);
    });
  });
  const first = rowsOf(out);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted; finished cells are in .*results\.jsonl; run the same command again to resume/);
  assert.ok(first.length >= 1 && first.length < total, `${first.length} rows after the interrupt`);
  for (const l of first) JSON.parse(l); // whole lines only

  const r = spawnSync(node, argv, { cwd: repo, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`eval: ${total - first.length} cell\\(s\\) run, ${first.length} already done, ${total} in the grid`));
  const rows = rowsOf(out).map((l) => JSON.parse(l) as { cellKey: string });
  assert.equal(rows.length, total);
  assert.equal(new Set(rows.map((x) => x.cellKey)).size, total);
  const info = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { command: string[]; version: string; machine: { cores: number }; previous: unknown[] };
  assert.deepEqual(info.command, ['kvmerger', ...args]);
  assert.equal(info.previous.length, 1);
  assert.ok(info.machine.cores >= 1);
});

test('eval: bad input is one clear line and exit code 1', { skip }, () => {
  const [node, argv] = cli(['eval', '--model', modelFile!, '--tokenizer', tokFile!, '--tasks', 'passkey', '--budgets', '0.5,2', '--out', join(tmp, 'bad')]);
  const r = spawnSync(node, argv, { cwd: repo, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'kvmerger: --budgets: 2 is outside (0, 1]; give shares of the prompt such as 0.5,0.35');
  assert.ok(!existsSync(join(tmp, 'bad', 'results.jsonl')));
});
