import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLoadMemory, fastPathWeightBytes } from '../../src/model/ort/load-memory.js';
import { KvError } from '../../src/util/errors.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { quantizedWeightSource } from '../helpers/random-quantized.js';
import { writeQ4Model } from '../helpers/load-peak.js';

test('fast-path weight bytes count packed matrices at their bits plus scales, the rest as F32', () => {
  const config = smallConfig({ embeddingLength: 256, feedForwardLength: 512, vocabSize: 96 });
  const base = randomWeightSource(config, 1);
  const names = ['token_embd.weight', 'blk.0.attn_q.weight', 'blk.0.attn_norm.weight'];
  const f32 = fastPathWeightBytes(base, names, 'int8');
  assert.equal(f32, (96 * 256 + 256 * 256 + 256) * 4);
  const q4 = quantizedWeightSource(base, 2, (_n, shape) => (shape.length === 2 ? 'Q4_0' : undefined));
  // Q4_0: 4 bits a weight plus one float32 scale per 32.
  assert.equal(fastPathWeightBytes(q4, names, 'int8'), ((96 * 256 + 256 * 256) * 4) / 8 + ((96 * 256 + 256 * 256) / 32) * 4 + 256 * 4);
  const q8 = quantizedWeightSource(base, 2, (_n, shape) => (shape.length === 2 ? 'Q8_0' : undefined));
  assert.equal(fastPathWeightBytes(q8, names, 'fp32'), f32, 'under fp32 compute 8-bit matrices are expanded');
});

test('a model too large for the memory available fails before loading, with one line naming both sizes', () => {
  assert.throws(
    () => checkLoadMemory('--model big.gguf', 4 * 2 ** 30, 'memory', 8 * 2 ** 30),
    (e: Error) => e instanceof KvError && /--model big\.gguf needs about 14\.3 GiB of memory .*\(4\.0 GiB of weights .* 8\.0 GiB is available; use a smaller quantisation/.test(e.message) && !e.message.includes('\n'),
  );
  assert.doesNotThrow(() => checkLoadMemory('--model small.gguf', 2 ** 30, 'memory', 8 * 2 ** 30));
});

test('a mid-size Q4_0 model loads within 1.5× its file + 300 MiB, building the model cache and mapping it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-load-memory-'));
  try {
    const model = join(dir, 'mid-q4_0.gguf');
    // 8 layers of 1536 × 4096 (Llama's proportions), vocabulary 8192: 141 MiB of Q4_0, 157 MiB as the graph holds it
    writeQ4Model(model, { embedding: 1536, feedForward: 4096, layers: 8, vocab: 8192, heads: 12 }, 1);
    const fileMiB = statSync(model).size / 2 ** 20;
    const load = (cache: string) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/load-peak.ts', model], { encoding: 'utf8', env: { ...process.env, KVMERGER_ONNX_CACHE: cache } });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { origin: string; peakMiB: number; anonMiB: number; fileMiB: number };
    };
    const bound = 1.5 * fileMiB + 300;
    const first = load(join(dir, 'cache'));
    const later = load(join(dir, 'cache'));
    const memory = load('off');
    assert.deepEqual([first.origin, later.origin, memory.origin], ['built', 'cache', 'memory']);
    const say = (what: string, r: { peakMiB: number }) => `${what} peaks at ${r.peakMiB.toFixed(0)} MiB, bound ${bound.toFixed(0)} MiB (file ${fileMiB.toFixed(0)} MiB)`;
    assert.ok(first.peakMiB <= bound, say('the first load', first));
    assert.ok(later.peakMiB <= bound, say('a later load', later));
    // the in-memory path holds the weights three times over while onnxruntime prepacks them: the bound tells them apart
    assert.ok(memory.peakMiB > bound, say('the in-memory load', memory));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
