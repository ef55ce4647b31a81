import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/cli/commands/generate.js';
import { runCommand } from '../helpers/run-command.js';
import { sharedData } from '../helpers/shared-data.js';

const model = sharedData('models/stories260K.bin');
const tok = sharedData('models/tok512.bin');
const skip = !model || !tok ? 'needs ../shared/data/models (stories260K.bin, tok512.bin)' : false;

const capture = (argv: string[]) => runCommand(run, argv);

const base = () => ['--model', model!, '--tokenizer', tok!, '--backend', 'reference', '--quiet'];

test('--json prints exactly one JSON object with the documented fields', { skip }, async () => {
  const { code, out } = await capture([...base(), '--prompt', 'Once upon a time', '--max-tokens', '12', '--temperature', '0', '--json']);
  assert.equal(code, 0);
  assert.equal(out.trim().split('\n').length, 1);
  const j = JSON.parse(out) as { text: unknown; tokens: unknown; timings: Record<string, unknown>; cache: { slots: number; bytes: number } };
  // exactly the fields docs/generate.md lists (no method: no compression report)
  assert.deepEqual(Object.keys(j), ['text', 'tokens', 'stopReason', 'seed', 'timings', 'cache', 'model']);
  assert.deepEqual(Object.keys(j.timings), ['prefillMs', 'compressMs', 'decodeMs', 'prefillTokensPerSecond', 'decodeTokensPerSecond']);
  assert.deepEqual(Object.keys(j.cache), ['slots', 'bytes', 'allocatedBytes', 'slotsPerLayer']);
  assert.equal(typeof j.text, 'string');
  assert.deepEqual(j.tokens, { prompt: 5, generated: 12 });
  for (const k of ['prefillMs', 'decodeMs', 'prefillTokensPerSecond', 'decodeTokensPerSecond']) assert.equal(typeof j.timings[k], 'number', k);
  // 5 layers × 4 KV heads × (5 + 11) slots × 8 dims × K,V × 2 bytes (--kv-type f16, the default)
  assert.equal(j.cache.slots, 5 * 4 * 16);
  assert.equal(j.cache.bytes, 5 * 4 * 16 * 8 * 2 * 2);
});

test('streams the text to stdout, and --method compresses with the report in --json', { skip }, async () => {
  const prompt = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
  const plain = await capture([...base(), '--prompt', prompt, '--max-tokens', '8', '--temperature', '0']);
  const json = await capture([...base(), '--prompt', prompt, '--max-tokens', '8', '--temperature', '0', '--json']);
  assert.equal(plain.out, JSON.parse(json.out).text + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-gen-'));
  try {
    const dumpPath = join(dir, 'dump.json');
    const c = await capture([...base(), '--prompt', prompt, '--max-tokens', '4', '--temperature', '0', '--method', 'h2o', '--budget', '0.5', '--json', '--dump-cache', dumpPath]);
    const j = JSON.parse(c.out);
    assert.deepEqual(Object.keys(j.cache), ['slots', 'bytes', 'allocatedBytes', 'method', 'options', 'budgetRequested', 'budgetAchieved', 'bytesFull', 'bytesKept', 'compressMs', 'slotsPerLayer']);
    assert.equal(j.cache.method, 'h2o');
    assert.equal(j.cache.budgetRequested, 0.5);
    assert.ok(j.cache.budgetAchieved <= 0.5 + 1e-9);
    assert.ok(j.cache.bytesKept < j.cache.bytesFull);
    const dump = JSON.parse(readFileSync(dumpPath, 'utf8'));
    const T = j.tokens.prompt;
    assert.equal(dump.before.layers[0].heads[0].positions.length, T);
    assert.ok(dump.after.layers[0].heads[0].positions.length < T);
    assert.equal(dump.stats.aggregatedAttention[0][0].length, T);
    assert.equal(dump.before.layers[0].heads[0].keys[0].length, 8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input: one clear error each', async () => {
  const m = model ?? 'model.gguf';
  await assert.rejects(run(['--model', m, '--backend', 'gpu']), /--backend must be 'ort' or 'reference'/);
  await assert.rejects(run(['--model', m, '--temperature', 'hot']), /--temperature must be a number/);
  await assert.rejects(run(['--model', m, '--max-tokens', '2.5']), /--max-tokens must be an integer/);
  await assert.rejects(run(['--model', m, '--truncate', 'end']), /--truncate must be 'middle' or 'start'/);
  await assert.rejects(run(['--model', m, '--budget', '0.5']), /need --method NAME/);
  await assert.rejects(run(['--model', m, '--method', 'kvmerger']), /--method kvmerger needs a budget: add --budget B .* or --budget-tokens N/);
  await assert.rejects(run(['--model', m, '--method', 'h2o', '--method-option', 'kvmerger.sigma=5', '--budget', '0.5']), /is an option of kvmerger, but --method is h2o/);
  await assert.rejects(run(['--model', m, '--top-p', '0']), /--top-p must be a number in \(0, 1\]/);
  await assert.rejects(run(['--model', m, '--seed', '-2']), /--seed must be an integer in \[-1, 4294967295\]/);
  await assert.rejects(run(['--model', m, '--method', 'nope']), /nope/);
  await assert.rejects(run(['--model', m, '--prompt', 'a', '--prompt-file', 'b']), /either --prompt or --prompt-file/);
  await assert.rejects(run(['--model', '/nonexistent/model.gguf']), /--model \/nonexistent\/model.gguf: no such file/);
  await assert.rejects(run(['--model', m, '--prompt-file', '/nonexistent/p.txt']), /--prompt-file \/nonexistent\/p.txt: cannot read it/);
});

const vocabOnly = sharedData('tokenizer-tests/ggml-vocab-llama-spm.gguf');
test('a vocabulary-only GGUF: a clear error naming the file, on both backends', { skip: vocabOnly ? false : 'needs ../shared/data/tokenizer-tests' }, async () => {
  for (const backend of ['reference', 'ort']) {
    await assert.rejects(run(['--model', vocabOnly!, '--backend', backend, '--prompt', 'hi']), (e: Error) => {
      assert.equal(e.message, `--model ${vocabOnly!}: the file has no weights (a vocabulary-only GGUF); it works with 'kvmerger tokenize' and 'info'; pass a model with weights to run it`);
      return true;
    });
  }
});

test('a llama2.c checkpoint without --tokenizer, and a prompt longer than the context', { skip }, async () => {
  await assert.rejects(run(['--model', model!, '--backend', 'reference']), /has no vocabulary of its own.*pass --tokenizer/);
  const long = 'Lily and Tom played in the park. '.repeat(80); // > 512 tokens
  await assert.rejects(run([...base(), '--prompt', long]), /prompt has \d+ tokens but the model's context is 512; shorten it or pass --truncate middle\|start/);
  const { code, out } = await capture([...base(), '--prompt', long, '--truncate', 'middle', '--max-tokens', '2', '--json', '--chunk-size', '128']);
  assert.equal(code, 0);
  const j = JSON.parse(out);
  assert.ok(j.truncatedFrom > 512);
  assert.equal(j.tokens.prompt, 512 - 2);
});

// The built-in model ships with the repository, so these run on a fresh clone.
const cli = ['--import', 'tsx', 'src/cli/main.ts', 'generate'];
const gen = (args: string[], input?: string) => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });

test('llama.cpp habits: -p/-n/-s, a random seed printed when none is given, a given seed reproduces, -f - reads stdin', () => {
  const a = gen(['-p', 'Once upon a time', '-n', '6', '--temp', '1', '--json']);
  assert.equal(a.status, 0, a.stderr);
  const ja = JSON.parse(a.stdout) as { seed: number; text: string };
  assert.ok(Number.isInteger(ja.seed) && ja.seed >= 0);
  const b = gen(['-p', 'Once upon a time', '-n', '6', '--temp', '1', '-s', String(ja.seed), '--json']);
  assert.equal((JSON.parse(b.stdout) as { text: string }).text, ja.text);
  // stdin as the prompt file; the summary line on stderr names the seed and why generation stopped
  const c = gen(['-f', '-', '-n', '4', '--temperature', '0', '-s', '7'], 'Once upon a time');
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stderr, /^\[\d+ prompt tokens, prefill [\d.]+ t\/s \| 4 generated, decode [\d.]+ t\/s \| stop: max tokens \| seed 7 \| KV cache \d+ slots, \d+ bytes\]\n$/);
  const q = gen(['-p', 'Once', '-n', '2', '-q']);
  assert.equal(q.stderr, '');
});

test('reaching the context says so on stderr', () => {
  const r = gen(['-p', 'Once upon a time', '-n', '50', '-c', '16', '--temperature', '0', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { stopReason: string; tokens: { prompt: number; generated: number } };
  assert.equal(j.stopReason, 'context');
  // the last token is sampled from the logits of the cache's last position; it never enters the cache
  assert.equal(j.tokens.prompt + j.tokens.generated, 17);
  assert.match(r.stderr, /^generate: stopped after \d+ of --max-tokens 50 tokens: the context of 16 tokens is full/);
});
