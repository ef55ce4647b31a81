/**
 * llama.cpp through node-llama-cpp's prebuilt CPU binary, for tests that compare next-token logits with it, and the
 * random-weight GGUF writer those tests share: any architecture, llama.cpp's metadata keys and tensor names.
 */
import { after } from 'node:test';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { gguf, typedMetadata, writeGGUF, type GGUFTensorInput, type MetadataInput } from '../../src/formats/gguf-writer.js';
import type { ModelConfig } from '../../src/core/model-config.js';
import { randomWeightSource, smallConfig, type RandomWeightOptions } from './random-model.js';

type LlamaModule = typeof import('node-llama-cpp');
export type Llama = Awaited<ReturnType<LlamaModule['getLlama']>>;
let llamaPromise: Promise<Llama | undefined> | undefined;

// registered when the test file imports this module, so it runs after all of the file's tests
after(async () => {
  const llama = await llamaPromise;
  await llama?.dispose();
});

/** llama.cpp's CPU build, loaded once per test file (disposed after it); undefined when node-llama-cpp is absent. */
export function llamaCpp(): Promise<Llama | undefined> {
  llamaPromise ??= import('node-llama-cpp').then(
    (lc) => lc.getLlama({ gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: lc.LlamaLogLevel.error }),
    () => undefined,
  );
  return llamaPromise;
}

/** Next-token logits of llama.cpp for `prompt` (token ids), F32 KV cache, no flash attention, one thread. */
export async function llamaCppNextLogits(llama: Llama, modelPath: string, prompts: number[][], contextSize: number): Promise<Float64Array[]> {
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const context = await model.createContext({
    contextSize,
    batchSize: contextSize,
    threads: 1,
    sequences: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
  });
  const out: Float64Array[] = [];
  const sequence = context.getSequence();
  try {
    for (const prompt of prompts) {
      await sequence.clearHistory();
      const input = prompt.map((id, i) => (i === prompt.length - 1 ? ([id, { generateNext: { logits: true } }] as const) : id)) as Parameters<typeof sequence.controlledEvaluate>[0];
      const res = await sequence.controlledEvaluate(input);
      const map = res[prompt.length - 1]!.next.logits!;
      const logits = new Float64Array(map.size);
      for (const [id, v] of map) logits[id as number] = v;
      out.push(logits);
    }
  } finally {
    sequence.dispose();
    await context.dispose();
    await model.dispose();
  }
  return out;
}

/** The `tokenizer.*` metadata of a vocabulary GGUF and its size. */
export function vocabularyOf(vocabPath: string): { meta: Map<string, MetadataInput>; size: number } {
  const vocab = openGGUF(vocabPath);
  try {
    const meta = new Map<string, MetadataInput>([...typedMetadata(vocab)].filter(([k]) => k.startsWith('tokenizer.')));
    return { meta, size: (vocab.metadata.get('tokenizer.ggml.tokens') as string[]).length };
  } finally {
    vocab.close();
  }
}

export interface RandomGGUFOptions extends RandomWeightOptions {
  /** Extra metadata (architecture-specific keys), written after the common ones. */
  metadata?: Record<string, MetadataInput>;
  /** Multiplies the untied output projection (makes the next-token distribution peaked). Default 4. */
  outputScale?: number;
}

/**
 * Writes a random-weight model of `config` as llama.cpp names it: `{arch}.*` keys (key/value length always written,
 * so an explicit head dimension is exercised), the vocabulary's tokenizer metadata, the tensors of
 * `randomWeightSource(config, seed, options)` in F32.
 */
export function writeRandomModelGGUF(path: string, config: ModelConfig, tokenizerMeta: Map<string, MetadataInput>, seed: number, options: RandomGGUFOptions = {}): void {
  const ws = randomWeightSource(config, seed, options);
  const arch = config.architecture;
  const meta = new Map<string, MetadataInput>([
    ['general.architecture', gguf.str(arch)],
    ['general.name', gguf.str(`random-${arch}`)],
    [`${arch}.context_length`, gguf.u32(config.contextLength)],
    [`${arch}.embedding_length`, gguf.u32(config.embeddingLength)],
    [`${arch}.block_count`, gguf.u32(config.blockCount)],
    [`${arch}.feed_forward_length`, gguf.u32(config.feedForwardLength)],
    [`${arch}.attention.head_count`, gguf.u32(config.headCount)],
    [`${arch}.attention.head_count_kv`, gguf.u32(config.headCountKv)],
    [`${arch}.attention.key_length`, gguf.u32(config.headDim)],
    [`${arch}.attention.value_length`, gguf.u32(config.headDim)],
    [`${arch}.rope.dimension_count`, gguf.u32(config.ropeDimensionCount)],
    [`${arch}.rope.freq_base`, gguf.f32(config.ropeFreqBase)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(config.rmsNormEps)],
    ...tokenizerMeta,
  ]);
  if (config.ropeScaling.type === 'linear') {
    meta.set(`${arch}.rope.scaling.type`, gguf.str('linear'));
    meta.set(`${arch}.rope.scaling.factor`, gguf.f32(config.ropeScaling.factor));
  }
  for (const [k, v] of Object.entries(options.metadata ?? {})) meta.set(k, v);
  const scale = options.outputScale ?? 4;
  const names = ['token_embd.weight', 'output_norm.weight'];
  if (!config.tiedEmbeddings) names.push('output.weight');
  for (const n of ['rope_freqs.weight', 'rope_factors_long.weight', 'rope_factors_short.weight']) if (ws.has(n)) names.push(n);
  for (let b = 0; b < config.blockCount; b++) {
    for (const p of ['attn_norm', 'attn_qkv', 'attn_q', 'attn_k', 'attn_v', 'attn_q_norm', 'attn_k_norm', 'attn_output', 'post_attention_norm', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down', 'post_ffw_norm']) {
      if (ws.has(`blk.${b}.${p}.weight`)) names.push(`blk.${b}.${p}.weight`);
    }
    for (const p of ['attn_q', 'attn_k', 'attn_v']) if (ws.has(`blk.${b}.${p}.bias`)) names.push(`blk.${b}.${p}.bias`);
  }
  const tensors: GGUFTensorInput[] = names.map((name) => {
    let data = ws.get(name);
    if (name === 'output.weight') data = data.map((v) => v * scale);
    return { name, dims: [...ws.shapeOf(name)].reverse(), type: 'F32', data };
  });
  writeGGUF(path, { metadata: meta, tensors });
}

/** `smallConfig` re-exported for the architecture tests. */
export { smallConfig };

export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const p = new Float64Array(logits.length);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += p[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < p.length; i++) p[i]! /= s;
  return p;
}

export function topK(p: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: p.length }, (_, i) => i)
    .sort((a, b) => p[b]! - p[a]! || a - b)
    .slice(0, k);
}
