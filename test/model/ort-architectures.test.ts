/**
 * The ort graph of qwen3, gemma2, gemma3 and phi3 against the reference backend (itself held to llama.cpp by
 * llama-cpp-architectures.test.ts) on random models of each shape: logits within 1e-4 of the largest, attention
 * statistics within 1e-5, over a prefill in chunks and single-token decode steps that run well past the sliding
 * windows (window 5, 30 positions), with a cache compacted in between (the window mask reads slot positions, not
 * slot indices). F32 caches on both sides, so the comparison is of the arithmetic alone.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../../src/cache/attention-stats.js';
import type { ForwardBackend } from '../../src/model/backend.js';
import type { ModelConfig } from '../../src/core/model-config.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { createOrtBackend } from '../../src/model/ort-backend.js';
import { randomWeightSource, smallConfig, type RandomWeightOptions } from '../helpers/random-model.js';

const open: ForwardBackend[] = [];
after(async () => {
  for (const b of open) await b.dispose();
});

interface Shape {
  name: string;
  config: Partial<ModelConfig>;
  options?: RandomWeightOptions;
}

const W = 5;
const SHAPES: Shape[] = [
  { name: 'qwen3 (q/k norms, head_dim 12 ≠ E/H)', config: { architecture: 'qwen3', embeddingLength: 32, headCount: 4, headCountKv: 2, headDim: 12, qkNorm: true, attentionBias: false } },
  {
    name: 'gemma2 (sqrt(E) embeddings, GeGLU, post-norms, soft-capping, window 5 on layers 0 and 2)',
    config: {
      architecture: 'gemma2', blockCount: 3, tiedEmbeddings: true, embeddingScale: Math.sqrt(32), ffnActivation: 'gelu', postNorms: true, attentionScale: 0.3,
      attnLogitSoftcap: 3, finalLogitSoftcap: 4, slidingWindow: { size: W, layers: [true, false, true] }, ropeLocal: { freqBase: 10000, scaling: { type: 'none' } },
    },
  },
  {
    name: 'gemma3 (q/k norms, local RoPE base 100 vs global 1e6 linear ×4, window 5 on layers 0 and 1, untied)',
    config: {
      architecture: 'gemma3', blockCount: 3, headCountKv: 1, embeddingScale: Math.sqrt(32), ffnActivation: 'gelu', postNorms: true, qkNorm: true, attentionScale: 0.35,
      ropeFreqBase: 1e6, ropeScaling: { type: 'linear', factor: 4 }, slidingWindow: { size: W, layers: [true, true, false] }, ropeLocal: { freqBase: 100, scaling: { type: 'none' } },
    },
  },
  {
    name: 'phi3 (fused attn_qkv and gate/up, LongRoPE long factors and attn_factor 1.3, partial rotary 6 of 8)',
    config: { architecture: 'phi3', ropeDimensionCount: 6, contextLength: 512, ropeScaling: { type: 'longrope', attnFactor: 1.3, originalContextLength: 64 } },
    options: { fusedQkv: true, fusedGateUp: true, longRopeFactors: true },
  },
];

function assertClose(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(b.length, a.length, `${what}: length`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  assert.ok(scale > 0.05, `${what}: degenerate`);
  assert.ok(diff <= tol * Math.max(1, scale), `${what}: max diff ${diff} vs scale ${scale}`);
}

function assertStatsClose(a: AttentionStats, b: AttentionStats, what: string): void {
  for (const k of ['columnSums', 'windowSums', 'lastRow'] as const) {
    const ra = a[k]!;
    const rb = b[k]!;
    ra.forEach((layer, l) => layer.forEach((row, q) => assertClose(row, rb[l]![q]!, 1e-5, `${what}: ${k}[${l}][${q}]`)));
  }
}

const req: StatsRequest = { columnSums: true, window: 3, lastRow: true };

for (const [si, s] of SHAPES.entries()) {
  test(`ort matches the reference: ${s.name}`, async () => {
    const config = smallConfig({ vocabSize: 64, feedForwardLength: 40, ...s.config });
    const w = randomWeightSource(config, 500 + si, s.options);
    const ref = new ReferenceBackend(w);
    const fast = await createOrtBackend(w, { threads: 1, chunk: 7 });
    open.push(fast);
    const mk = () => new KVCache(config.blockCount, config.headCountKv, config.headDim);
    const rc = mk();
    const fc = mk();
    const toks = Int32Array.from({ length: 30 }, (_, i) => (i * 11 + si * 5 + ((i * i) % 7)) % config.vocabSize);
    // prefill of 16 in one call (the ort backend runs it in chunks of 7), all logits, every statistic
    const a = await ref.forward(toks.subarray(0, 16), rc, { logits: 'all', stats: req, windowStart: 13 });
    const b = await fast.forward(toks.subarray(0, 16), fc, { logits: 'all', stats: req, windowStart: 13 });
    assertClose(a.logits, b.logits, 1e-4, 'prefill logits');
    assertStatsClose(a.stats!, b.stats!, 'prefill stats');
    // drop every third slot of every head (as a compression would), so slot index ≠ position
    for (const cache of [rc, fc]) {
      for (const layer of cache.layers) for (const h of layer.heads) h.retain(Array.from({ length: h.length }, (_, i) => i).filter((i) => i % 3 !== 1));
    }
    for (let t = 16; t < 30; t++) {
      const one = toks.subarray(t, t + 1);
      const x = await ref.forward(one, rc, { logits: 'last', stats: { columnSums: false, window: 0, lastRow: true } });
      const y = await fast.forward(one, fc, { logits: 'last', stats: { columnSums: false, window: 0, lastRow: true } });
      assertClose(x.logits, y.logits, 1e-4, `decode logits at ${t}`);
      x.stats!.lastRow!.forEach((layer, l) => layer.forEach((row, q) => assertClose(row, y.stats!.lastRow![l]![q]!, 1e-5, `decode last row [${l}][${q}] at ${t}`)));
    }
  });
}

test('ort matches the reference on a Q8_0 phi3 file: fused attn_qkv and gate/up sliced by rows from the stored blocks', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { writeGGUF, gguf } = await import('../../src/formats/gguf-writer.js');
  const { openModelFile } = await import('../../src/formats/open-model-file.js');
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-phi3q-'));
  try {
    const config = smallConfig({ architecture: 'phi3', embeddingLength: 64, headCount: 4, headCountKv: 2, feedForwardLength: 64, vocabSize: 64 });
    const w = randomWeightSource(config, 77, { fusedQkv: true, fusedGateUp: true });
    const names = ['token_embd.weight', 'output_norm.weight', 'output.weight'];
    for (let b = 0; b < config.blockCount; b++) for (const p of ['attn_norm', 'attn_qkv', 'attn_output', 'ffn_norm', 'ffn_up', 'ffn_down']) names.push(`blk.${b}.${p}.weight`);
    const path = join(dir, 'phi3.gguf');
    const a = 'phi3';
    writeGGUF(path, {
      metadata: {
        'general.architecture': a,
        [`${a}.context_length`]: gguf.u32(256),
        [`${a}.embedding_length`]: gguf.u32(64),
        [`${a}.block_count`]: gguf.u32(config.blockCount),
        [`${a}.feed_forward_length`]: gguf.u32(64),
        [`${a}.attention.head_count`]: gguf.u32(4),
        [`${a}.attention.head_count_kv`]: gguf.u32(2),
        [`${a}.attention.layer_norm_rms_epsilon`]: gguf.f32(1e-5),
        [`${a}.vocab_size`]: gguf.u32(64),
      },
      tensors: names.map((name) => ({ name, dims: [...w.shapeOf(name)].reverse(), type: w.shapeOf(name).length === 2 ? 'Q8_0' : 'F32', data: w.get(name) })),
    });
    const file = openModelFile(path);
    try {
      const ref = new ReferenceBackend(file);
      const fast = await createOrtBackend(file, { threads: 1, precision: 'fp32' });
      open.push(fast);
      const toks = Int32Array.from({ length: 12 }, (_, i) => (i * 5 + 3) % 64);
      const mk = () => new KVCache(config.blockCount, config.headCountKv, config.headDim);
      const x = await ref.forward(toks, mk(), { logits: 'all' });
      const y = await fast.forward(toks, mk(), { logits: 'all' });
      assertClose(x.logits, y.logits, 1e-4, 'Q8_0 phi3 logits');
    } finally {
      file.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
