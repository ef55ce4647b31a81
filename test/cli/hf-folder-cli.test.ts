/**
 * The command line with Hugging Face folders: `kvmerger convert DIR OUT.gguf --type T`, `--model DIR` (with
 * `--quantize`) in generate, info and tokenize, and a damaged folder's one-line error through the real `kvmerger` process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as convert } from '../../src/cli/commands/convert.js';
import { run as evalCommand } from '../../src/cli/commands/eval.js';
import { run as reproduce } from '../../src/cli/commands/reproduce.js';
import { run as generate } from '../../src/cli/commands/generate.js';
import { run as info } from '../../src/cli/commands/info.js';
import { run as tokenize } from '../../src/cli/commands/tokenize.js';
import { runCommand } from '../helpers/run-command.js';
import { writeRandomHFFolder } from '../helpers/hf-folder.js';

test('convert --type q8_0 --json; generate --model DIR and --model OUT.gguf give the same greedy text; info reads the folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-hfcli-'));
  try {
    const folder = join(dir, 'folder');
    writeRandomHFFolder(folder, { arch: 'qwen2' }, 31);
    const out = join(dir, 'out.gguf');
    const c = await runCommand(convert, [folder, out, '--type', 'q8_0', '--json']);
    assert.equal(c.code, 0);
    const j = JSON.parse(c.out) as { type: string; architecture: string; tensors: number; types: Record<string, number> };
    assert.equal(j.type, 'q8_0');
    assert.equal(j.architecture, 'qwen2');
    assert.ok(j.types.Q8_0! > 0 && j.types.F32! > 0);
    assert.ok(!existsSync(`${out}.partial`));
    const args = ['-p', 'hello world and the', '-n', '6', '--temperature', '0', '--backend', 'reference', '--quiet', '--json'];
    const a = await runCommand(generate, ['--model', folder, '--quantize', 'q8_0', ...args]);
    const b = await runCommand(generate, ['--model', out, ...args]);
    assert.equal(a.code, 0);
    assert.equal(b.code, 0);
    const ta = JSON.parse(a.out) as { text: string; tokens: { generated: number } };
    assert.equal(ta.tokens.generated, 6);
    assert.equal(ta.text, (JSON.parse(b.out) as { text: string }).text);
    const i = await runCommand(info, ['--model', folder, '--json']);
    assert.equal(i.code, 0);
    const s = JSON.parse(i.out) as { format: string; architecture: string; runnable: boolean; chatTemplate: boolean };
    assert.equal(s.format, 'hf');
    assert.equal(s.architecture, 'qwen2');
    assert.equal(s.runnable, true);
    assert.equal(s.chatTemplate, true);
    const iq = await runCommand(info, ['--model', folder, '--quantize', 'q8_0', '--json']);
    assert.equal(iq.code, 0);
    const sq = JSON.parse(iq.out) as { quantization: { type: string }[] };
    assert.ok(sq.quantization.some((q) => q.type === 'Q8_0'), 'info --quantize shows the quantised types');
    const tf = await runCommand(tokenize, ['--model', folder, '-p', 'hello world', '--json']);
    const tg = await runCommand(tokenize, ['--model', out, '-p', 'hello world', '--json']);
    assert.equal(tf.code, 0);
    assert.equal(tf.out, tg.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated shard: kvmerger exits 1 with one line naming the shard; convert leaves no file behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-hfcli-'));
  try {
    const folder = join(dir, 'folder');
    writeRandomHFFolder(folder, { arch: 'llama' }, 32);
    const shard = join(folder, 'model.safetensors');
    truncateSync(shard, statSync(shard).size - 10);
    const out = join(dir, 'out.gguf');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'convert', folder, out], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^kvmerger: .*model\.safetensors: tensor '.*': its data ends at byte \d+ but the file has \d+ bytes; the file is truncated/);
    assert.ok(!existsSync(out) && !existsSync(`${out}.partial`));
    const g = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'generate', '--model', folder, '-p', 'hi', '-n', '1'], { encoding: 'utf8' });
    assert.equal(g.status, 1);
    assert.equal(g.stderr.trim().split('\n').length, 1, g.stderr);
    const q = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'generate', '--model', folder, '--quantize', 'q3', '-p', 'hi'], { encoding: 'utf8' });
    assert.match(q.stderr, /--quantize must be 'q8_0', 'q4_0' or 'q4_k_m' \(got 'q3'\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eval --quantize q8_0 on a folder: the rows name the model NAME@q8_0, run.json records it; reproduce checks the type', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-hfcli-eval-'));
  try {
    const folder = join(dir, 'tiny');
    writeRandomHFFolder(folder, { arch: 'llama' }, 33);
    const out = join(dir, 'runs');
    const r = await runCommand(evalCommand, ['--model', folder, '--quantize', 'q8_0', '--backend', 'reference', '--tasks', 'fidelity', '--methods', 'full', '--budgets', '0.5', '--lengths', '96', '--out', out, '--quiet']);
    assert.equal(r.code, 0);
    const rows = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { model: string });
    assert.ok(rows.length > 0);
    for (const row of rows) assert.equal(row.model, 'tiny@q8_0');
    assert.equal((JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { quantize?: string }).quantize, 'q8_0');
    await assert.rejects(runCommand(reproduce, ['--model', folder, '--quantize', 'q3', '--out', join(dir, 'r2')]), /--quantize must be 'q8_0', 'q4_0' or 'q4_k_m' \(got 'q3'\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
