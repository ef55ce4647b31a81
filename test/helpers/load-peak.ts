/**
 * The load-memory test's model and child: `writeQ4Model` writes a mid-size random Llama-shaped GGUF (Q4_0 matrices,
 * F32 norms) one tensor at a time; run as a script (`tsx load-peak.ts MODEL`), this file loads MODEL through the ort
 * backend as kvmerger does (through the model cache unless KVMERGER_ONNX_CACHE=off), runs one forward and prints
 * its memory from /proc/self/status as JSON, so the peak is the load's alone.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gguf, writeGGUF, type GGUFTensorInput } from '../../src/formats/gguf-writer.js';
import { Rng } from '../../src/util/rng.js';
import { randomBlocks } from './random-quantized.js';

export interface Q4ModelShape {
  embedding: number;
  feedForward: number;
  layers: number;
  vocab: number;
  heads: number;
}

export function writeQ4Model(path: string, s: Q4ModelShape, seed: number): void {
  const rng = new Rng(seed);
  const q4 = (name: string, rows: number, cols: number): GGUFTensorInput => ({ name, dims: [cols, rows], type: 'Q4_0', data: () => randomBlocks('Q4_0', rows * cols, rng) });
  const norm = (name: string): GGUFTensorInput => ({ name, dims: [s.embedding], type: 'F32', data: () => Float32Array.from({ length: s.embedding }, () => 0.5 + rng.next()) });
  const E = s.embedding;
  const tensors = [q4('token_embd.weight', s.vocab, E), norm('output_norm.weight'), q4('output.weight', s.vocab, E)];
  for (let l = 0; l < s.layers; l++) {
    const b = (n: string) => `blk.${l}.${n}.weight`;
    tensors.push(norm(b('attn_norm')), q4(b('attn_q'), E, E), q4(b('attn_k'), E, E), q4(b('attn_v'), E, E), q4(b('attn_output'), E, E));
    tensors.push(norm(b('ffn_norm')), q4(b('ffn_gate'), s.feedForward, E), q4(b('ffn_up'), s.feedForward, E), q4(b('ffn_down'), E, s.feedForward));
  }
  writeGGUF(path, {
    metadata: {
      'general.architecture': gguf.str('llama'),
      'llama.context_length': gguf.u32(2048),
      'llama.embedding_length': gguf.u32(E),
      'llama.block_count': gguf.u32(s.layers),
      'llama.feed_forward_length': gguf.u32(s.feedForward),
      'llama.attention.head_count': gguf.u32(s.heads),
      'llama.attention.head_count_kv': gguf.u32(s.heads),
      'llama.rope.dimension_count': gguf.u32(E / s.heads),
      'llama.attention.layer_norm_rms_epsilon': gguf.f32(1e-5),
    },
    tensors,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { openModelFile } = await import('../../src/formats/open-model-file.js');
  const { createOrtBackend } = await import('../../src/model/ort-backend.js');
  const { modelFileIdentity } = await import('../../src/model/ort/onnx-cache.js');
  const { KVCache } = await import('../../src/cache/kv-cache.js');
  const path = process.argv[2]!;
  const file = openModelFile(path);
  const c = file.config;
  const backend = await createOrtBackend(file, { threads: 1, cacheIdentity: modelFileIdentity(path) });
  file.dropCache();
  await backend.forward(Int32Array.of(1, 2, 3), new KVCache(c.blockCount, c.headCountKv, c.headDim), { logits: 'last' });
  const status = readFileSync('/proc/self/status', 'utf8');
  const mib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
  const origin = (backend as unknown as { origin: string }).origin;
  process.stdout.write(JSON.stringify({ origin, peakMiB: mib('VmHWM'), anonMiB: mib('RssAnon'), fileMiB: mib('RssFile') }) + '\n');
  await backend.dispose();
  file.close();
}
