// `kvmerger info`: the summary of a model written here (values known by construction), of stories260K.bin and of
// every GGUF in tokenizer-tests; the CLI's text and --json output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gguf, writeGGUF } from '../../src/formats/gguf-writer.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { summarizeModel, type ModelSummary } from '../../src/formats/model-summary.js';
import { sharedData } from '../helpers/shared-data.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'kvmerger-info-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function summary(path: string): ModelSummary {
  const m = openModelFile(path);
  try {
    return summarizeModel(m);
  } finally {
    m.close();
  }
}

function qwenLike(): string {
  const path = join(dir, 'qwen.gguf');
  const E = 32;
  writeGGUF(path, {
    metadata: {
      'general.architecture': 'qwen2',
      'general.name': 'tiny-qwen',
      'qwen2.block_count': gguf.u32(2),
      'qwen2.embedding_length': gguf.u32(E),
      'qwen2.feed_forward_length': gguf.u32(64),
      'qwen2.attention.head_count': gguf.u32(4),
      'qwen2.attention.head_count_kv': gguf.u32(2),
      'qwen2.context_length': gguf.u32(4096),
      'qwen2.rope.freq_base': gguf.f32(1000000),
      'qwen2.attention.layer_norm_rms_epsilon': gguf.f32(1e-6),
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'qwen2',
      'tokenizer.ggml.tokens': gguf.strArr(['a', 'b', 'c', 'd']),
      'tokenizer.ggml.bos_token_id': gguf.u32(1),
      'tokenizer.ggml.eos_token_id': gguf.u32(2),
    },
    tensors: [
      { name: 'token_embd.weight', dims: [E, 4], type: 'F16', data: new Float32Array(E * 4) },
      { name: 'blk.0.attn_q.weight', dims: [E, E], type: 'Q8_0', data: new Float32Array(E * E) },
      { name: 'blk.1.attn_q.weight', dims: [E, E], type: 'Q8_0', data: new Float32Array(E * E) },
      { name: 'blk.0.attn_q.bias', dims: [E], type: 'F32', data: new Float32Array(E) },
      { name: 'output.weight', dims: [E, 4], type: 'F16', data: new Float32Array(E * 4) },
    ],
  });
  return path;
}

test('summary of a written qwen2 model: shape, RoPE, tokenizer, tensor types, KV bytes per token', () => {
  const s = summary(qwenLike());
  assert.equal(s.format, 'gguf');
  assert.equal(s.ggufVersion, 3);
  assert.equal(s.architecture, 'qwen2');
  assert.equal(s.name, 'tiny-qwen');
  assert.equal(s.runnable, true);
  assert.equal(s.problem, null);
  assert.equal(s.parameterCount, 32 * 4 * 2 + 32 * 32 * 2 + 32);
  assert.deepEqual([s.blockCount, s.headCount, s.headCountKv, s.headDim, s.contextLength, s.vocabSize], [2, 4, 2, 8, 4096, 4]);
  assert.deepEqual(s.rope, { style: 'neox', freqBase: 1000000, dimensionCount: 8, scaling: { type: 'none' }, freqFactorsTensor: false });
  assert.equal(s.tiedEmbeddings, false);
  assert.equal(s.attentionBias, true);
  assert.deepEqual(s.tokenizer, { model: 'gpt2', pre: 'qwen2', vocabSize: 4, bosTokenId: 1, eosTokenId: 2 });
  assert.deepEqual(s.tensorTypes, { F16: 2, Q8_0: 2, F32: 1 });
  assert.equal(s.kvBytesPerTokenF32, 2 * 2 * 8 * 2 * 4);
});

test('summary of a gemma3 model: layer kinds and window, block features, quantisation mix, chat template, KV bytes per layer type', () => {
  const path = join(dir, 'gemma3.gguf');
  const E = 32;
  writeGGUF(path, {
    metadata: {
      'general.architecture': 'gemma3',
      'gemma3.block_count': gguf.u32(6),
      'gemma3.embedding_length': gguf.u32(E),
      'gemma3.feed_forward_length': gguf.u32(64),
      'gemma3.attention.head_count': gguf.u32(4),
      'gemma3.attention.head_count_kv': gguf.u32(1),
      'gemma3.attention.key_length': gguf.u32(16),
      'gemma3.attention.value_length': gguf.u32(16),
      'gemma3.attention.sliding_window': gguf.u32(512),
      'gemma3.context_length': gguf.u32(8192),
      'gemma3.attention.layer_norm_rms_epsilon': gguf.f32(1e-6),
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': gguf.strArr(['a', 'b', 'c', 'd']),
      'tokenizer.chat_template': '{{ messages }}',
    },
    tensors: [
      { name: 'token_embd.weight', dims: [E, 4], type: 'F16', data: new Float32Array(E * 4) },
      { name: 'blk.0.attn_q.weight', dims: [E, 64], type: 'Q8_0', data: new Float32Array(E * 64) },
      { name: 'blk.0.attn_q_norm.weight', dims: [16], type: 'F32', data: new Float32Array(16) },
    ],
  });
  const s = summary(path);
  assert.equal(s.architecture, 'gemma3');
  assert.deepEqual(s.attention, { layers: ['sliding', 'sliding', 'sliding', 'sliding', 'sliding', 'global'], window: 512 });
  assert.ok(s.features.includes('q/k RMSNorm per head') && s.features.includes('GeGLU feed-forward (GELU tanh)'), s.features.join('; '));
  assert.equal(s.chatTemplate, true);
  assert.deepEqual(s.quantization.map((q) => [q.type, q.tensors, q.parameters]), [['Q8_0', 1, E * 64], ['F16', 1, E * 4], ['F32', 1, 16]]);
  assert.equal(s.quantization[0]!.bytes, (E * 64 / 32) * 34);
  assert.deepEqual(s.kvBytes, { perLayerF32: 1 * 16 * 2 * 4, perLayerF16: 64, globalLayers: 1, slidingLayers: 5, window: 512, atContextF16: 64 * (8192 + 5 * 512) });
  const out = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'info', '--model', path], { encoding: 'utf8', cwd: repoRoot });
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stdout, /layers +6 \(5 sliding-window of 512 tokens, 1 global: layer 5\)/);
  assert.match(out.stdout, /chat template +yes/);
  assert.match(out.stdout, /quantisation +Q8_0 /);
  assert.match(out.stdout, /sliding layers \(5\) stop at 512 tokens/);
});

const stories = sharedData('models/stories260K.bin');
test('summary of stories260K.bin', { skip: stories ? false : 'no ../shared/data/models/stories260K.bin' }, () => {
  const s = summary(stories!);
  assert.equal(s.format, 'llama2c');
  assert.equal(s.parameterCount, 260032);
  assert.equal(s.tokenizer, null);
  assert.deepEqual(s.tensorTypes, { F32: 47 });
  assert.equal(s.kvBytesPerTokenF32, 5 * 4 * 8 * 2 * 4);
  assert.equal(s.runnable, true);
});

const vocabs = sharedData('tokenizer-tests');
test('summary of every GGUF in tokenizer-tests: vocabulary-only, tokenizer family and size', { skip: vocabs ? false : 'no ../shared/data/tokenizer-tests' }, () => {
  const expectModel: Record<string, string> = { 'llama-spm': 'llama', 'phi-3': 'llama', baichuan: 'llama', 'bert-bge': 'bert', 'gpt-2': 'gpt2', falcon: 'gpt2' };
  for (const f of readdirSync(vocabs!).filter((n) => n.endsWith('.gguf'))) {
    const s = summary(join(vocabs!, f));
    assert.equal(s.tensorCount, 0, f);
    assert.equal(s.runnable, false, f);
    assert.match(s.problem ?? '', /no weights \(vocabulary-only file\)/, f);
    assert.ok(s.tokenizer && s.tokenizer.vocabSize > 1000, f);
    const key = f.replace(/^ggml-vocab-/, '').replace(/\.gguf$/, '');
    if (key in expectModel) assert.equal(s.tokenizer.model, expectModel[key], f);
    assert.ok(s.blockCount !== null && s.blockCount > 0, f);
    if (key === 'llama-spm') {
      assert.equal(s.tokenizer.vocabSize, 32000);
      assert.equal(s.kvBytesPerTokenF32, 32 * 32 * 128 * 2 * 4);
    }
  }
});

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: repoRoot });
}

test('kvmerger info: text lists the essentials; --json prints exactly one JSON object', () => {
  const path = qwenLike();
  const t = cli('info', '--model', path);
  assert.equal(t.status, 0, t.stderr);
  for (const want of [/architecture\s+qwen2/, /parameters\s+2,336/, /layers\s+2/, /4 query, 2 KV/, /head dim 8/, /context\s+4096 tokens/, /half split \(neox\), base 1000000/, /tokenizer\s+gpt2 \(pre-tokenizer qwen2\), 4 tokens/, /tensor types\s+F16 ×2, Q8_0 ×2, F32 ×1/, /KV cache\s+256 bytes per token at F32/, /file size/]) {
    assert.match(t.stdout, want);
  }
  const j = cli('info', '--model', path, '--json');
  assert.equal(j.status, 0, j.stderr);
  assert.equal(j.stdout.trim().split('\n').length, 1);
  const parsed = JSON.parse(j.stdout) as ModelSummary;
  assert.equal(parsed.kvBytesPerTokenF32, 256);
  assert.equal(parsed.architecture, 'qwen2');
});
