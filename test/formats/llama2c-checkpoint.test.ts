// llama2.c checkpoints: a hand-built file whose every float is its own index (so each tensor's slice is known), the
// real stories260K.bin, and size validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { openLlama2cCheckpoint } from '../../src/formats/llama2c-checkpoint.js';
import { KvError } from '../../src/util/errors.js';
import { sharedData } from '../helpers/shared-data.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-l2c-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** dim 4, hidden 6, 2 layers, 2 heads (head size 2), 1 KV head, vocab 5, seq 3; floats 0, 1, 2, ... */
function tinyCheckpoint(name: string, vocab: number, floats: number): string {
  const header = new Int32Array([4, 6, 2, 2, 1, vocab, 3]);
  const body = new Float32Array(floats).map((_, i) => i);
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([Buffer.from(header.buffer), Buffer.from(body.buffer)]));
  return path;
}

// Float counts (hand-computed): embedding 5*4 = 20; per layer (×2): attn norm 4, wq 16, wk 8, wv 8, wo 16,
// ffn norm 4, w1 24, w2 24, w3 24; final norm 4; freq tables 2 * 3 * 2/2 = 6; wcls 20 when unshared.
// Offsets: embd 0; attn_norm 20, 24; wq 28, 44; wk 60, 68; wv 76, 84; wo 92, 108; ffn_norm 124, 128;
// w1 132, 156; w2 180, 204; w3 228, 252; final norm 276; freqs 280..285; wcls 286.
const SHARED_FLOATS = 286;

test('tensors of a hand-built checkpoint sit where llama2.c puts them, named canonically, row-major [out, in]', () => {
  const m = openModelFile(tinyCheckpoint('tiny.bin', 5, SHARED_FLOATS));
  try {
    assert.equal(m.format, 'llama2c');
    assert.equal(m.metadata, undefined);
    const c = m.config;
    assert.deepEqual(
      [c.architecture, c.vocabSize, c.embeddingLength, c.feedForwardLength, c.blockCount, c.headCount, c.headCountKv, c.headDim, c.contextLength],
      ['llama', 5, 4, 6, 2, 2, 1, 2, 3],
    );
    assert.deepEqual([c.ropeStyle, c.ropeFreqBase, c.rmsNormEps, c.ropeDimensionCount, c.tiedEmbeddings, c.attentionBias], ['normal', 10000, 1e-5, 2, true, false]);
    assert.deepEqual(c.ropeScaling, { type: 'none' });
    const first = (name: string) => m.get(name)[0];
    assert.equal(first('token_embd.weight'), 0);
    assert.equal(first('blk.1.attn_norm.weight'), 24);
    assert.equal(first('blk.0.attn_q.weight'), 28);
    assert.equal(first('blk.1.attn_q.weight'), 44);
    assert.equal(first('blk.1.attn_k.weight'), 68);
    assert.equal(first('blk.0.attn_v.weight'), 76);
    assert.equal(first('blk.1.attn_output.weight'), 108);
    assert.equal(first('blk.1.ffn_norm.weight'), 128);
    assert.equal(first('blk.1.ffn_gate.weight'), 156);
    assert.equal(first('blk.0.ffn_down.weight'), 180);
    assert.equal(first('blk.1.ffn_up.weight'), 252);
    assert.deepEqual([...m.get('output_norm.weight')], [276, 277, 278, 279]);
    assert.deepEqual(m.shapeOf('blk.0.attn_k.weight'), [2, 4]);
    assert.deepEqual(m.shapeOf('blk.0.ffn_gate.weight'), [6, 4]);
    assert.deepEqual(m.shapeOf('blk.0.ffn_down.weight'), [4, 6]);
    assert.deepEqual(m.shapeOf('token_embd.weight'), [5, 4]);
    assert.equal(m.typeOf('blk.0.attn_q.weight'), 'F32');
    assert.equal(m.has('output.weight'), false);
    assert.equal(m.parameterCount(), SHARED_FLOATS - 6);
    assert.equal(m.tensorNames().length, 1 + 9 * 2 + 1);
    assert.throws(() => m.get('output.weight'), KvError);
  } finally {
    m.close();
  }
});

test('a negative vocabulary size means an unshared classifier, stored after the RoPE tables', () => {
  const m = openModelFile(tinyCheckpoint('untied.bin', -5, SHARED_FLOATS + 20));
  try {
    assert.equal(m.config.tiedEmbeddings, false);
    assert.equal(m.config.vocabSize, 5);
    assert.equal(m.get('output.weight')[0], 286);
    assert.deepEqual(m.shapeOf('output.weight'), [5, 4]);
  } finally {
    m.close();
  }
});

test('a checkpoint whose size does not match its header is a clear error', () => {
  const short = tinyCheckpoint('short.bin', 5, SHARED_FLOATS - 1);
  assert.throws(() => openModelFile(short), (e: unknown) => e instanceof KvError && e.message.includes('short.bin') && /needs 1172 bytes but the file has 1168/.test(e.message));
  assert.throws(() => openLlama2cCheckpoint(short), /truncated: the header .* needs 1172 bytes but the file has 1168; the download may be incomplete/);
  const long = tinyCheckpoint('long.bin', 5, SHARED_FLOATS + 1);
  assert.throws(() => openLlama2cCheckpoint(long), /longer than its header says/);
  const junk = join(dir, 'junk.bin');
  writeFileSync(junk, Buffer.from('this is not a model file at all, just text'));
  assert.throws(() => openModelFile(junk), /junk\.bin is neither GGUF nor a llama2\.c checkpoint/);
});

const stories = sharedData('models/stories260K.bin');
test('stories260K.bin: dim 64, hidden 172, 5 layers, 8 heads, 4 KV heads, vocab 512, seq 512, shared classifier', { skip: stories ? false : 'no ../shared/data/models/stories260K.bin' }, () => {
  const m = openModelFile(stories!);
  try {
    const c = m.config;
    assert.deepEqual(
      [c.embeddingLength, c.feedForwardLength, c.blockCount, c.headCount, c.headCountKv, c.headDim, c.vocabSize, c.contextLength, c.tiedEmbeddings],
      [64, 172, 5, 8, 4, 8, 512, 512, true],
    );
    // 512*64 + 5 * (2*64 + 64*64*2 + 2 * 32*64 + 3 * 172*64) + 64 = 260,032 weights ("260K").
    assert.equal(m.parameterCount(), 260032);
    assert.equal(m.fileSize, 28 + 4 * (260032 + 2 * 512 * 4));
    const raw = readFileSync(stories!);
    const embd = m.get('token_embd.weight');
    assert.equal(embd.length, 512 * 64);
    assert.equal(embd[0], raw.readFloatLE(28));
    assert.equal(m.get('output_norm.weight')[63], raw.readFloatLE(28 + 4 * (260032 - 1)));
    // RMSNorm weights of a trained model are positive and O(1); a misplaced read would land in a matrix.
    for (const v of m.get('output_norm.weight')) assert.ok(v > 0 && v < 10);
  } finally {
    m.close();
  }
});
