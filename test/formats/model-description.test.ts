// describeModel from GGUF metadata, and GGUF model files opened through openModelFile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeModel, type TensorDirectory } from '../../src/formats/model-description.js';
import type { GGUFValue } from '../../src/formats/gguf-types.js';
import { gguf, writeGGUF } from '../../src/formats/gguf-writer.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { KvError } from '../../src/util/errors.js';
import { sharedData } from '../helpers/shared-data.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-desc-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function meta(arch: string, extra: Record<string, GGUFValue> = {}): Map<string, GGUFValue> {
  return new Map<string, GGUFValue>(
    Object.entries({
      'general.architecture': arch,
      'general.name': 'test',
      [`${arch}.block_count`]: 30,
      [`${arch}.embedding_length`]: 576,
      [`${arch}.feed_forward_length`]: 1536,
      [`${arch}.attention.head_count`]: 9,
      [`${arch}.context_length`]: 8192,
      ...extra,
    }),
  );
}

function tensorsOf(names: Record<string, number[]>): TensorDirectory {
  return { has: (n) => n in names, dims: (n) => names[n], count: Object.keys(names).length };
}

test('llama defaults: KV heads = heads, head dim = embedding / heads, RoPE base 10000 over the whole head, normal style', () => {
  const c = describeModel(meta('llama', { 'llama.vocab_size': 49152 }), undefined, 'x.gguf');
  assert.deepEqual(c, {
    architecture: 'llama',
    name: 'test',
    vocabSize: 49152,
    embeddingLength: 576,
    feedForwardLength: 1536,
    blockCount: 30,
    headCount: 9,
    headCountKv: 9,
    headDim: 64,
    contextLength: 8192,
    ropeFreqBase: 10000,
    ropeStyle: 'normal',
    ropeDimensionCount: 64,
    ropeScaling: { type: 'none' },
    rmsNormEps: 1e-5,
    tiedEmbeddings: false,
    attentionBias: false,
  });
});

test('SmolLM2-like llama with GQA, explicit keys, vocabulary from the token list, tied output', () => {
  const m = meta('llama', {
    'llama.attention.head_count_kv': 3,
    'llama.rope.freq_base': 100000,
    'llama.attention.layer_norm_rms_epsilon': Math.fround(1e-5),
    'llama.rope.dimension_count': 64,
    'tokenizer.ggml.tokens': ['a', 'b', 'c'],
  });
  const c = describeModel(m, tensorsOf({ 'token_embd.weight': [576, 3] }));
  assert.equal(c.headCountKv, 3);
  assert.equal(c.ropeFreqBase, 100000);
  assert.equal(c.rmsNormEps, Math.fround(1e-5));
  assert.equal(c.vocabSize, 3);
  assert.equal(c.tiedEmbeddings, true);
  assert.equal(describeModel(m, tensorsOf({ 'token_embd.weight': [576, 3], 'output.weight': [576, 3] })).tiedEmbeddings, false);
});

test('qwen2: q/k/v biases and half-split (neox) RoPE; key_length sets the head dim', () => {
  const c = describeModel(meta('qwen2', { 'qwen2.attention.head_count_kv': 3, 'qwen2.attention.key_length': 32, 'qwen2.vocab_size': 100 }));
  assert.equal(c.attentionBias, true);
  assert.equal(c.ropeStyle, 'neox');
  assert.equal(c.headDim, 32);
  assert.equal(c.ropeDimensionCount, 32);
});

test('RoPE scaling: linear (new and legacy keys), llama3 with its factors, yarn unsupported', () => {
  const lin = describeModel(meta('llama', { 'llama.vocab_size': 10, 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': 4 }));
  assert.deepEqual(lin.ropeScaling, { type: 'linear', factor: 4 });
  const legacy = describeModel(meta('llama', { 'llama.vocab_size': 10, 'llama.rope.scale_linear': 2 }));
  assert.deepEqual(legacy.ropeScaling, { type: 'linear', factor: 2 });
  const l3 = describeModel(
    meta('llama', {
      'llama.vocab_size': 10,
      'llama.rope.scaling.type': 'llama3',
      'llama.rope.scaling.factor': 32,
      'llama.rope.scaling.low_freq_factor': 1,
      'llama.rope.scaling.high_freq_factor': 4,
      'llama.rope.scaling.original_context_length': 8192,
    }),
  );
  assert.deepEqual(l3.ropeScaling, { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 });
  assert.throws(
    () => describeModel(meta('llama', { 'llama.vocab_size': 10, 'llama.rope.scaling.type': 'yarn' }), undefined, 'y.gguf'),
    /y\.gguf: RoPE scaling 'yarn' is not supported; kvmerger supports none, linear, llama3 and Phi-3's LongRoPE factors/,
  );
});

test('unsupported architectures, missing and malformed keys are KvErrors naming the file', () => {
  for (const arch of ['gemma', 'phi2', 'bert']) {
    assert.throws(
      () => describeModel(meta(arch), undefined, 'm.gguf'),
      (e: unknown) => e instanceof KvError && e.message === `m.gguf: architecture '${arch}' is not supported; kvmerger runs llama, qwen2, qwen3, gemma2, gemma3, phi3`,
    );
  }
  assert.throws(() => describeModel(new Map(), undefined, 'm.gguf'), /m\.gguf: metadata general\.architecture is missing/);
  const noVocab = meta('llama');
  assert.throws(() => describeModel(noVocab, undefined, 'm.gguf'), /metadata key llama\.vocab_size is missing/);
  assert.throws(() => describeModel(meta('llama', { 'llama.vocab_size': 10, 'llama.block_count': 'x' }), undefined, 'm.gguf'), /llama\.block_count should be a number/);
  assert.throws(() => describeModel(meta('llama', { 'llama.vocab_size': 10, 'llama.attention.head_count_kv': 4 }), undefined, 'm.gguf'), /9 query heads is not a multiple of 4 KV heads/);
});

test('a GGUF model written by the writer opens as a WeightSource: shapes reversed, tensors dequantised and cached', () => {
  const path = join(dir, 'tiny.gguf');
  const E = 64;
  const V = 8;
  const embd = new Float32Array(E * V).map((_, i) => (i % 7) - 3);
  const q = new Float32Array(E * E).map((_, i) => ((i * 13) % 17) / 17 - 0.5);
  writeGGUF(path, {
    metadata: {
      'general.architecture': 'llama',
      'llama.block_count': gguf.u32(1),
      'llama.embedding_length': gguf.u32(E),
      'llama.feed_forward_length': gguf.u32(96),
      'llama.attention.head_count': gguf.u32(4),
      'llama.attention.head_count_kv': gguf.u32(2),
      'llama.context_length': gguf.u32(128),
      'llama.rope.freq_base': gguf.f32(10000),
      'llama.attention.layer_norm_rms_epsilon': gguf.f32(1e-5),
      'tokenizer.ggml.tokens': gguf.strArr(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']),
    },
    tensors: [
      { name: 'token_embd.weight', dims: [E, V], type: 'F16', data: embd },
      { name: 'blk.0.attn_q.weight', dims: [E, E], type: 'Q8_0', data: q },
      { name: 'output_norm.weight', dims: [E], type: 'F32', data: new Float32Array(E).fill(1) },
    ],
  });
  const m = openModelFile(path);
  try {
    assert.equal(m.format, 'gguf');
    assert.equal(m.config.vocabSize, V);
    assert.equal(m.config.headDim, 16);
    assert.equal(m.config.tiedEmbeddings, true);
    assert.deepEqual(m.shapeOf('token_embd.weight'), [V, E]);
    assert.equal(m.typeOf('blk.0.attn_q.weight'), 'Q8_0');
    assert.deepEqual(m.get('token_embd.weight'), embd); // small integers are exact in F16
    const got = m.get('blk.0.attn_q.weight');
    assert.equal(m.get('blk.0.attn_q.weight'), got, 'cached');
    for (let i = 0; i < q.length; i++) assert.ok(Math.abs(got[i]! - q[i]!) < 0.5 / 127 * 1.1 + 1e-6);
    assert.equal(m.parameterCount(), E * V + E * E + E);
    assert.deepEqual(m.tensorNames(), ['token_embd.weight', 'blk.0.attn_q.weight', 'output_norm.weight']);
    assert.equal(m.byteSizeOf('blk.0.attn_q.weight'), (E * E / 32) * 34);
  } finally {
    m.close();
  }
});

const vocabDir = sharedData('tokenizer-tests');
test('every vocabulary-only GGUF in tokenizer-tests opens; supported architectures get a config, others a configError', { skip: vocabDir ? false : 'no ../shared/data/tokenizer-tests' }, () => {
  const files = readdirSync(vocabDir!).filter((f) => f.endsWith('.gguf'));
  assert.ok(files.length >= 10);
  for (const f of files) {
    const m = openModelFile(join(vocabDir!, f));
    try {
      assert.equal(m.tensorNames().length, 0, f);
      assert.ok(m.metadata!.get('tokenizer.ggml.model'), f);
      const arch = m.metadata!.get('general.architecture');
      if (arch === 'llama' || arch === 'phi3') {
        assert.equal(m.configError, undefined, f);
        assert.equal(m.config.blockCount > 0, true);
      } else {
        assert.match(m.configError ?? '', new RegExp(`architecture '${String(arch)}' is not supported`), f);
        assert.throws(() => m.config, KvError);
      }
    } finally {
      m.close();
    }
  }
});

test("the newer architectures' defaults are llama.cpp's", () => {
  const of = (arch: string, extra: Record<string, GGUFValue> = {}, tensors?: TensorDirectory) =>
    describeModel(meta(arch, { [`${arch}.vocab_size`]: 10, ...extra }), tensors, 'm.gguf');
  // gemma2 with no optional keys: window 4096 on even layers, soft-caps 50 and 30, local RoPE = global, 1/sqrt(head_dim)
  const g2 = of('gemma2', { 'gemma2.rope.freq_base': 20000 });
  assert.equal(g2.slidingWindow!.size, 4096);
  assert.deepEqual(g2.slidingWindow!.layers.slice(0, 4), [true, false, true, false]);
  assert.deepEqual([g2.attnLogitSoftcap, g2.finalLogitSoftcap], [50, 30]);
  assert.deepEqual(g2.ropeLocal, { freqBase: 20000, scaling: { type: 'none' } });
  assert.equal(g2.attentionScale, 1 / Math.sqrt(64));
  assert.equal(g2.embeddingScale, Math.sqrt(576));
  assert.equal(g2.ropeStyle, 'neox');
  // the 27B shape (46 layers): queries scaled by 1/sqrt(n_embd / n_head) instead of 1/sqrt(head_dim)
  const big = of('gemma2', { 'gemma2.block_count': 46, 'gemma2.embedding_length': 4608, 'gemma2.attention.head_count': 32, 'gemma2.attention.key_length': 128, 'gemma2.attention.value_length': 128 });
  assert.equal(big.attentionScale, 1 / Math.sqrt(4608 / 32));
  // gemma3: no sliding_window key → every layer global; with it, 5 local : 1 global and local base 10000
  const g3 = of('gemma3');
  assert.equal(g3.slidingWindow, undefined);
  assert.equal(g3.finalLogitSoftcap, undefined);
  assert.equal(g3.attnLogitSoftcap, undefined);
  assert.equal(g3.qkNorm, true);
  const g3w = of('gemma3', { 'gemma3.attention.sliding_window': 512, 'gemma3.rope.scaling.type': 'linear', 'gemma3.rope.scaling.factor': 8 });
  assert.deepEqual(g3w.slidingWindow!.layers.slice(0, 7), [true, true, true, true, true, false, true]);
  assert.deepEqual(g3w.ropeLocal, { freqBase: 10000, scaling: { type: 'none' } });
  assert.deepEqual(g3w.ropeScaling, { type: 'linear', factor: 8 });
  // pattern 0: every layer local (llama.cpp's set_swa_pattern)
  assert.ok(of('gemma3', { 'gemma3.attention.sliding_window': 512, 'gemma3.attention.sliding_window_pattern': 0 }).slidingWindow!.layers.every((b) => b));
  // qwen3: q/k norms, neox, explicit head dim; no biases unless the file has them
  const q3 = of('qwen3', { 'qwen3.attention.key_length': 128, 'qwen3.attention.value_length': 128 });
  assert.deepEqual([q3.qkNorm, q3.headDim, q3.ropeStyle, q3.attentionBias], [true, 128, 'neox', false]);
  // phi3: the sliding window is read and ignored; LongRoPE from the factor tensors
  const p3 = of('phi3', { 'phi3.attention.sliding_window': 2047, 'phi3.rope.scaling.attn_factor': 1.19, 'phi3.rope.scaling.original_context_length': 4096 }, tensorsOf({ 'token_embd.weight': [576, 10], 'rope_factors_long.weight': [32], 'rope_factors_short.weight': [32] }));
  assert.equal(p3.slidingWindow, undefined);
  assert.deepEqual(p3.ropeScaling, { type: 'longrope', attnFactor: 1.19, originalContextLength: 4096 });
  assert.throws(() => of('phi3', {}, tensorsOf({ 'rope_factors_long.weight': [32] })), /only one of rope_factors_long\.weight and rope_factors_short\.weight/);
  // llama (Mistral): llama.attention.sliding_window is ignored, as llama.cpp does
  assert.equal(of('llama', { 'llama.attention.sliding_window': 4096 }).slidingWindow, undefined);
});
