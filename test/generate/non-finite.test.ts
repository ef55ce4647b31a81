// Non-finite numbers: NaN / Inf in a model's weights is found as the tensor is read at load (F32, F16, a Q8_0
// block scale, a llama2.c checkpoint), naming the tensor; logits that go non-finite during a run stop it with one
// line (weights finite but overflowing); a KVMerger σ whose square underflows (1e-300) or overflows behaves as its
// limit; and a --max-tokens far beyond the context stops at the context without reserving for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { gguf, writeGGUF } from '../../src/formats/gguf-writer.js';
import { loadModel } from '../../src/model/load-model.js';
import { generate } from '../../src/generate/session.js';
import { kernelWeights } from '../../src/compress/methods/kvmerger/gaussian-merge.js';
import { KvError } from '../../src/util/errors.js';
import { writeChatModel } from '../helpers/chat-model.js';
import { llama2cCheckpointBytes, llama2cTokenizerBytes } from '../helpers/bad-files.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = ['--import', 'tsx', join(root, 'src/cli/main.ts')];
const dir = mkdtempSync(join(tmpdir(), 'kvmerger-nonfinite-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Overwrites bytes of tensor `name` in a GGUF file, at `at` bytes into its data. */
function patchTensor(path: string, name: string, at: number, bytes: Uint8Array): void {
  const g = openGGUF(path);
  const t = g.tensor(name)!;
  g.close();
  const fd = openSync(path, 'r+');
  writeSync(fd, bytes, 0, bytes.length, t.offset + at);
  closeSync(fd);
}
const f32 = (x: number) => new Uint8Array(Float32Array.of(x).buffer);
const u16 = (x: number) => new Uint8Array(Uint16Array.of(x).buffer);

/** The ort backend reads every weight at load; the reference backend reads each on first use (the first forward). */
const rejectsNaming = async (path: string, backend: 'reference' | 'ort', re: RegExp) =>
  assert.rejects(
    (async () => {
      const m = await loadModel(path, { backend });
      try {
        await generate(m, { prompt: 'hi', maxTokens: 1 });
      } finally {
        await m.close();
      }
    })(),
    (e: Error) => e instanceof KvError && re.test(e.message) && !e.message.includes('\n'),
  );

test('NaN / Inf in weights: found at load, the tensor named (F32, F16, a Q8_0 scale; both backends; llama2.c)', async () => {
  const base = join(dir, 'chat.gguf');
  writeChatModel(base, undefined, { contextLength: 64 });
  const m = await loadModel(base, { backend: 'reference' });
  await m.close();

  const nan = join(dir, 'nan.gguf');
  writeChatModel(nan, undefined, { contextLength: 64 });
  patchTensor(nan, 'blk.1.ffn_down.weight', 7 * 4, f32(NaN));
  for (const backend of ['reference', 'ort'] as const) {
    await rejectsNaming(nan, backend, /nan\.gguf: tensor 'blk\.1\.ffn_down\.weight' holds a NaN or Inf at element 7; the weights are corrupt/);
  }
  const inf = join(dir, 'inf.gguf');
  writeChatModel(inf, undefined, { contextLength: 64 });
  patchTensor(inf, 'token_embd.weight', 100 * 4, f32(-Infinity));
  await rejectsNaming(inf, 'reference', /tensor 'token_embd\.weight' holds a NaN or Inf at element 100/);

  // F16 and Q8_0 tensors: a value, a block scale
  const typed = join(dir, 'typed.gguf');
  const data = new Float32Array(64 * 32).map((_, i) => Math.sin(i) / 10);
  writeGGUF(typed, {
    metadata: { 'general.architecture': 'llama', 'k.x': gguf.u32(1) },
    tensors: [
      { name: 'a.weight', dims: [32, 64], type: 'F16', data },
      { name: 'b.weight', dims: [32, 64], type: 'Q8_0', data },
    ],
  });
  patchTensor(typed, 'a.weight', 2 * 300, u16(0x7c00));
  patchTensor(typed, 'b.weight', 34 * 5, u16(0x7e00));
  const { openModelFile } = await import('../../src/formats/open-model-file.js');
  const f = openModelFile(typed);
  assert.throws(() => f.get('a.weight'), /typed\.gguf: tensor 'a\.weight' holds a NaN or Inf at element 300/);
  assert.throws(() => f.readBytes!('b.weight'), /tensor 'b\.weight' holds a NaN or Inf scale in block 5 \(elements 160\.\.\)/);
  assert.throws(() => f.get('b.weight'), /scale in block 5/);
  f.close();
  // the raw reader (format tools, round trips) still reads such values as they are
  const raw = openGGUF(typed);
  assert.ok(Number.isNaN(raw.readTensorF32('b.weight')[170]!));
  raw.close();

  // llama2.c
  const ck = llama2cCheckpointBytes();
  new DataView(ck.buffer).setFloat32(28 + 4 * 5000, NaN, true);
  const ckPath = join(dir, 'nan.bin');
  writeFileSync(ckPath, ck);
  const tok = join(dir, 'tok.bin');
  writeFileSync(tok, llama2cTokenizerBytes(Array.from({ length: 41 }, (_, i) => `w${i}`)));
  await assert.rejects(loadModel(ckPath, { backend: 'ort', tokenizerPath: tok }), /nan\.bin: tensor 'blk\.\d\.[a-z_]+\.weight' holds a NaN or Inf at element \d+/);
});

test('logits that go non-finite during a run stop it with one line (exit 1), on both backends', () => {
  const big = join(dir, 'overflow.gguf');
  writeChatModel(big, undefined, { contextLength: 64 });
  const g = openGGUF(big);
  const t = g.tensor('output.weight')!;
  g.close();
  const fd = openSync(big, 'r+');
  writeSync(fd, new Uint8Array(new Float32Array(t.elements).fill(3e38).buffer), 0, t.elements * 4, t.offset);
  closeSync(fd);
  for (const backend of ['reference', 'ort']) {
    const r = spawnSync(process.execPath, [...cli, 'generate', '-m', big, '--backend', backend, '-p', 'hello', '-n', '4', '--quiet'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 1, `${backend}: ${r.stderr}`);
    assert.match(r.stderr, /^kvmerger: the model's output is (NaN|infinite) at position \d+ \(token \d+ of its logits\); the run stopped: the weights or the settings .* give non-finite values\n$/);
  }
});

test('KVMerger σ: a square that underflows (1e-300) is the σ → 0 limit, one that overflows (1e300) the mean', () => {
  const d = 4;
  const keys = new Float32Array([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0.5, 0.5, 0, 0]);
  const tiny = kernelWeights(keys, d, 0, 4, 0, { sigma: 1e-300, weighting: 'gaussian' });
  const small = kernelWeights(keys, d, 0, 4, 0, { sigma: 1e-3, weighting: 'gaussian' });
  for (const w of tiny.weights) assert.ok(Number.isFinite(w));
  // all weight on the keys nearest the pivot (slot 0 and its copy, slot 2), as with a small σ
  assert.deepEqual([...tiny.weights], [0.5, 0, 0.5, 0, 0]);
  assert.deepEqual([...small.weights], [...tiny.weights]);
  const huge = kernelWeights(keys, d, 0, 4, 0, { sigma: 1e300, weighting: 'gaussian' });
  assert.deepEqual([...huge.weights], [0.2, 0.2, 0.2, 0.2, 0.2]);
  // an ordinary σ is unchanged: exp(-d²/2σ²) normalised
  const one = kernelWeights(keys, d, 0, 4, 0, { sigma: 1, weighting: 'gaussian' });
  const raw = [0, 1, 0, 5, 0.5].map((x) => Math.exp(-x / 2));
  const sum = raw.reduce((a, b) => a + b, 0);
  one.weights.forEach((w, i) => assert.ok(Math.abs(w - raw[i]! / sum) < 1e-15));
  // end to end: generate with kvmerger.sigma=1e-300 runs and emits finite logits
  const model = join(dir, 'sigma.gguf');
  writeChatModel(model, undefined, { contextLength: 128 });
  const r = spawnSync(process.execPath, [...cli, 'generate', '-m', model, '--backend', 'reference', '-p', 'hello there, a longer prompt', '-n', '4', '--temperature', '0', '--method', 'kvmerger', '--budget', '0.5', '--method-option', 'sigma=1e-300', '--json', '--quiet'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { tokens: { generated: number } }).tokens.generated, 4);
});

test('--max-tokens 100000000: stops at the context (stopReason "context"), the cache sized for the context only', () => {
  const model = join(dir, 'ctx.gguf');
  writeChatModel(model, undefined, { contextLength: 64 });
  const run = (n: string, extra: string[]) => {
    const r = spawnSync(process.execPath, [...cli, 'generate', '-m', model, '--backend', 'reference', '-p', 'hi', '-n', n, '--temperature', '0', '--json', '--quiet', ...extra], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { stopReason: string; tokens: { prompt: number; generated: number }; cache: { allocatedBytes: number } };
  };
  for (const extra of [[], ['--method', 'h2o', '--budget', '0.5'], ['-c', '32']]) {
    const ctx = extra[0] === '-c' ? 32 : 64;
    const j = run('100000000', extra);
    assert.equal(j.stopReason, 'context', extra.join(' '));
    // every position filled; the last token is sampled from the last position's logits and needs no slot
    assert.equal(j.tokens.prompt + j.tokens.generated, ctx + 1);
    // as much cache as a --max-tokens of the context's size, not room for 10^8 tokens
    assert.equal(j.cache.allocatedBytes, run(String(ctx), extra).cache.allocatedBytes, extra.join(' '));
  }
});

test('firstNonFinite: every position, both halves of a word, misaligned views, each float type', async () => {
  const { firstNonFinite } = await import('../../src/formats/finite-check.js');
  const cases: [string, number[], number[], number][] = [
    ['F16', [0x7c00, 0xfc00, 0x7e01], [0x7bff, 0xfbff, 0x3c00, 0x0001], 0x3c00],
    ['BF16', [0x7f80, 0xff80, 0x7fc1], [0x7f7f, 0xff7f, 0x3f80], 0x3f80],
  ];
  for (const [type, bad, good, one] of cases) {
    for (const b of [...bad, ...good]) {
      for (let pos = 0; pos < 9; pos++) {
        const a = new Uint16Array(10).fill(one);
        a[pos] = b;
        const hit = firstNonFinite(new Uint8Array(a.buffer), type);
        assert.deepEqual(hit, bad.includes(b) ? { index: pos, unit: 'value' } : undefined, `${type} ${b.toString(16)} at ${pos}`);
        const shifted = firstNonFinite(new Uint8Array(a.buffer, 2, 18), type);
        assert.deepEqual(shifted, bad.includes(b) && pos > 0 ? { index: pos - 1, unit: 'value' } : undefined);
      }
    }
  }
  const f = new Float32Array([1, 2, 3, -Infinity]);
  assert.deepEqual(firstNonFinite(new Uint8Array(f.buffer), 'F32'), { index: 3, unit: 'value' });
  assert.deepEqual(firstNonFinite(new Uint8Array(new Float64Array([0, NaN]).buffer), 'F64'), { index: 1, unit: 'value' });
  assert.equal(firstNonFinite(new Uint8Array(new Float32Array([3.4e38, -1e-45]).buffer), 'F32'), undefined);
});
