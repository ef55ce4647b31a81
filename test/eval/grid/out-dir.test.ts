// The --out folder of a grid run: a path naming a file, or one that cannot exist (/proc/x), is one line at once; a
// lock file (pid and host) keeps a second run off the folder, and a stale one (a dead pid on this host) is taken
// over; a write that fails (ENOSPC, EIO, EFBIG) stops the run with one line and leaves results.jsonl ending with
// the last complete row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync as writeSyncFs } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lockOutDir, makeOutDir } from '../../../src/eval/grid/out-dir.js';
import { ResultsLog } from '../../../src/eval/grid/results-log.js';
import type { ResultRow } from '../../../src/eval/grid/result-row.js';
import { KvError } from '../../../src/util/errors.js';
import { writeChatModel } from '../../helpers/chat-model.js';

/** A partial row: the log writes whatever row it is given, and these tests need only the key. */
const row = (r: Partial<ResultRow> & Record<string, unknown>): ResultRow => r as ResultRow;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = ['--import', 'tsx', join(root, 'src/cli/main.ts')];
const dir = mkdtempSync(join(tmpdir(), 'kvmerger-out-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const kv = (re: RegExp) => (e: Error) => e instanceof KvError && re.test(e.message) && !e.message.includes('\n');

test('makeOutDir: nested folders are made; a file or /proc/x is one KvError at once', () => {
  makeOutDir(join(dir, 'a', 'b', 'c'));
  assert.ok(existsSync(join(dir, 'a', 'b', 'c')));
  makeOutDir(join(dir, 'a', 'b', 'c')); // again: fine
  writeFileSync(join(dir, 'file'), 'x');
  assert.throws(() => makeOutDir(join(dir, 'file')), kv(/--out .*file: is a file, not a folder; pass a folder/));
  assert.throws(() => makeOutDir(join(dir, 'file', 'sub')), kv(/file is a file, so the folder cannot be made there/));
  const t0 = performance.now();
  assert.throws(() => makeOutDir('/proc/x/y'), kv(/--out \/proc\/x\/y: cannot create the folder \(ENOENT/));
  assert.ok(performance.now() - t0 < 1000);
});

test('lock: reentrant in one process, refused while another live process holds it, stale locks taken over', async () => {
  const d = join(dir, 'locked');
  makeOutDir(d);
  const unlock = lockOutDir(d);
  const again = lockOutDir(d);
  again();
  assert.ok(existsSync(join(d, '.lock')));
  unlock();
  assert.ok(!existsSync(join(d, '.lock')));

  // another process holds it
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `import('${join(root, 'src/eval/grid/out-dir.ts')}').then((m) => { m.lockOutDir(${JSON.stringify(d)}); console.log('held'); setInterval(() => {}, 1000); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res) => holder.stdout.once('data', () => res()));
  try {
    assert.throws(() => lockOutDir(d), kv(new RegExp(`--out .*locked is in use by another run \\(pid ${holder.pid} on this host, since .*\\); wait for it to finish or pass another folder`)));
  } finally {
    holder.kill('SIGTERM');
    await new Promise((res) => holder.once('exit', res));
  }
  // killed: its lock is left behind with a dead pid, so it is stale and taken over
  assert.ok(existsSync(join(d, '.lock')));
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(join(d, '.lock'), JSON.stringify({ pid: dead, host: hostname(), started: 'then' }));
  const u2 = lockOutDir(d);
  assert.equal(JSON.parse(readFileSync(join(d, '.lock'), 'utf8')).pid, process.pid);
  u2();
  // another host: cannot tell, so refuse and say how to clear it
  writeFileSync(join(d, '.lock'), JSON.stringify({ pid: 1, host: 'elsewhere', started: 'then' }));
  assert.throws(() => lockOutDir(d), kv(/in use by another run \(pid 1 on host elsewhere, since then\); .*if that run is gone, delete .*\.lock/));
  writeFileSync(join(d, '.lock'), 'garbage');
  assert.throws(() => lockOutDir(d), kv(/in use by another run \(an unreadable lock\); .*if no run uses the folder, delete/));
  rmSync(join(d, '.lock'));
});

test('ResultsLog: a write that fails midway (ENOSPC) or at fsync (EIO) leaves the last complete row last', () => {
  const d = join(dir, 'log');
  const log0 = ResultsLog.open(d);
  log0.append(row({ cellKey: 'a' }));
  log0.close();
  const before = readFileSync(join(d, 'results.jsonl'), 'utf8');
  const fail = (code: string) => Object.assign(new Error(`${code}: simulated, write`), { code });
  let calls = 0;
  const log = ResultsLog.open(d, {
    writeSync: (fd, buf, off, len, pos) => {
      if (calls++ === 0) return writeSyncReal(fd, buf.subarray(off, off + Math.min(len, 7)), pos); // a partial write
      throw fail('ENOSPC');
    },
  });
  assert.throws(() => log.append(row({ cellKey: 'b', payload: 'x'.repeat(100) })), kv(/cannot write .*results\.jsonl \(ENOSPC: simulated\); the run stopped and the rows written so far are kept; .*run the same command again to resume/));
  log.close();
  assert.equal(readFileSync(join(d, 'results.jsonl'), 'utf8'), before);
  const log2 = ResultsLog.open(d, { fsyncSync: () => { throw fail('EIO'); } });
  assert.throws(() => log2.append(row({ cellKey: 'c' })), kv(/\(EIO: simulated\)/));
  log2.close();
  assert.equal(readFileSync(join(d, 'results.jsonl'), 'utf8'), before);
  assert.ok(!existsSync(join(d, '.lock')));
  // results.jsonl that is not a regular file (a folder here; /dev/full would never end): one line
  const odd = join(dir, 'odd');
  mkdirSync(join(odd, 'results.jsonl'), { recursive: true });
  assert.throws(() => ResultsLog.open(odd), kv(/results\.jsonl is not a regular file/));
  assert.ok(!existsSync(join(odd, '.lock')));
});

function writeSyncReal(fd: number, b: Uint8Array, pos: number): number {
  return writeSyncFs(fd, b, 0, b.length, pos);
}

test('eval --out: a file, /proc/x, a locked folder, a file-size limit: one line each, exit 1, the log valid', async () => {
  const model = join(dir, 'chat.gguf');
  writeChatModel(model, undefined, { contextLength: 256 });
  const args = (out: string) => ['eval', '-m', model, '--backend', 'reference', '--tasks', 'fidelity', '--lengths', '60', '--samples', '2', '--task-option', 'k=16', '--methods', 'full,h2o', '--budgets', '0.5', '--quiet', '--out', out];
  const run = (a: string[], pre = '') =>
    spawnSync('bash', ['-c', `${pre}exec "${process.execPath}" "$@"`, 'sh', ...cli, ...a], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const oneLine = (r: ReturnType<typeof run>, re: RegExp) => {
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^kvmerger: [^\n]+\n$/);
    assert.match(r.stderr, re);
  };
  writeFileSync(join(dir, 'exists'), 'x');
  oneLine(run(args(join(dir, 'exists'))), /--out .*exists: is a file, not a folder/);
  oneLine(run(args('/proc/x')), /--out \/proc\/x: cannot create the folder/);

  // a file-size limit of 2 KiB: two rows (~750 bytes each) fit, the third write fails partway (EFBIG)
  const small = join(dir, 'small');
  oneLine(run(args(small), 'ulimit -f 2; '), /cannot write .*results\.jsonl \(EFBIG: file too large\); the run stopped and the rows written so far are kept/);
  const text = readFileSync(join(small, 'results.jsonl'), 'utf8');
  assert.ok(text.endsWith('\n'));
  const rows = text.trim().split('\n').map((l) => JSON.parse(l) as { cellKey: string });
  assert.equal(rows.length, 2);
  assert.ok(!existsSync(join(small, '.lock')));
  // the run resumes where it stopped, without duplicates
  const done = run(args(small));
  assert.equal(done.status, 0, done.stderr);
  const all = readFileSync(join(small, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { cellKey: string }).cellKey);
  assert.equal(all.length, 4);
  assert.equal(new Set(all).size, 4);

  // a second run while one holds the folder refuses before loading anything
  const busy = join(dir, 'busy');
  makeOutDir(busy);
  const unlock = lockOutDir(busy);
  try {
    oneLine(run(args(busy)), new RegExp(`--out .*busy is in use by another run \\(pid ${process.pid} on this host`));
  } finally {
    unlock();
  }
  assert.ok(!existsSync(join(busy, 'results.jsonl')));
});

test('two evals started at once on one folder: one runs, the other refuses or finds the cells done; no duplicate rows', async () => {
  const model = join(dir, 'twice.gguf');
  writeChatModel(model, undefined, { contextLength: 256 });
  const out = join(dir, 'twice');
  const args = [...cli, 'eval', '-m', model, '--backend', 'reference', '--tasks', 'fidelity', '--lengths', '60,80', '--samples', '2', '--task-option', 'k=16', '--methods', 'full,h2o,cam', '--budgets', '0.5,0.35', '--quiet', '--out', out];
  const runOne = () =>
    new Promise<{ code: number | null; stderr: string }>((res) => {
      const c = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('exit', (code) => res({ code, stderr }));
    });
  const results = await Promise.all([runOne(), runOne(), runOne()]);
  for (const r of results) {
    if (r.code !== 0) {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^kvmerger: --out .*twice is in use by another run \(pid \d+ on this host, since [^)]+\); wait for it to finish or pass another folder\n$/);
    }
  }
  assert.ok(results.some((r) => r.code === 0));
  const keys = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { cellKey: string }).cellKey);
  assert.equal(keys.length, new Set(keys).size);
  assert.equal(keys.length, 2 * 2 * (1 + 2 * 2));
  assert.ok(!existsSync(join(out, '.lock')));
});

test('--seed -1: accepted by eval as by generate (a random seed, printed); -2 the same error in both', () => {
  const r = spawnSync(process.execPath, [...cli, 'eval', '--tasks', 'fidelity', '--out', join(dir, 'seed'), '--seed', '-2'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.stderr, 'kvmerger: --seed must be an integer in [-1, 4294967295] (got -2)\n');
  const g = spawnSync(process.execPath, [...cli, 'generate', '--seed', '-2'], { cwd: root, encoding: 'utf8' });
  assert.equal(g.stderr, r.stderr);
  for (const cmd of ['reproduce', 'demo', 'analyze']) {
    const extra = cmd === 'analyze' ? ['neighbours'] : [];
    const c = spawnSync(process.execPath, [...cli, cmd, ...extra, '--out', join(dir, 'seed'), '--seed', '-2'], { cwd: root, encoding: 'utf8' });
    assert.equal(c.stderr, r.stderr, cmd);
  }
  // -1 in eval: a drawn seed, printed with how to repeat the run, recorded in run.json and the rows
  const model = join(dir, 'seed.gguf');
  writeChatModel(model, undefined, { contextLength: 128 });
  const out = join(dir, 'seeded');
  const e = spawnSync(process.execPath, [...cli, 'eval', '-m', model, '--backend', 'reference', '--tasks', 'fidelity', '--lengths', '40', '--task-option', 'k=8', '--methods', 'full', '--quiet', '--out', out, '--seed', '-1'], { cwd: root, encoding: 'utf8' });
  assert.equal(e.status, 0, e.stderr);
  const m = /^eval: --seed -1 drew the seed (\d+); pass --seed \1 to resume or repeat this run$/m.exec(e.stderr);
  assert.ok(m, e.stderr);
  assert.equal(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).grid.seed, Number(m[1]));
  assert.equal(JSON.parse(readFileSync(join(out, 'results.jsonl'), 'utf8').split('\n')[0]!).seed, Number(m[1]));
});

test('analyze --out /proc/x or a file: one line before any model work (was a hang after the analysis)', () => {
  writeFileSync(join(dir, 'afile'), 'x');
  for (const [out, re] of [['/proc/x', /^kvmerger: --out \/proc\/x: cannot create the folder \(ENOENT/], [join(dir, 'afile'), /is a file, not a folder/]] as const) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [...cli, 'analyze', 'neighbours', '-m', join(root, 'models', 'kvmerger-default.gguf'), '--out', out], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.ok(performance.now() - t0 < 20_000);
  }
});
