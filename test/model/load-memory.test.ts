import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLoadMemory, fastPathWeightBytes } from '../../src/model/ort/load-memory.js';
import { KvError } from '../../src/util/errors.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { quantizedWeightSource } from '../helpers/random-quantized.js';

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
    () => checkLoadMemory('--model big.gguf', 4 * 2 ** 30, 8 * 2 ** 30),
    (e: Error) => e instanceof KvError && /--model big\.gguf needs about 14\.1 GiB of memory .*\(4\.0 GiB of weights .* 8\.0 GiB is available; use a smaller quantisation/.test(e.message) && !e.message.includes('\n'),
  );
  assert.doesNotThrow(() => checkLoadMemory('--model small.gguf', 2 ** 30, 8 * 2 ** 30));
});
