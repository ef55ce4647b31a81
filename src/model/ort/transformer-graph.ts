import { KvError } from '../../util/errors.js';
import type { ModelConfig } from '../../core/model-config.js';
import { blockTensor, type WeightSource } from '../../core/weight-source.js';
import { GraphBuilder, type BuiltModel } from './graph-builder.js';

/** Names of the whole-model graph's inputs and outputs (per layer `l` and KV head `h`). */
export const graphNames = {
  /** int32 [T]: this call's token ids. */
  tokens: 'tokens',
  /** float32 [T, ropeDim/2]: cos and sin of each token's RoPE angles (row t: position start + t). */
  cos: 'rope_cos',
  sin: 'rope_sin',
  /** int32 [R]: rows of the chunk whose logits are computed (the last one, or all). */
  logitRows: 'logit_rows',
  /** float32 [S, T]: per-query weights of the attention statistics (rows: all ones, window mask, last one-hot). */
  statWeights: 'stat_weights',
  /** float32 [slots_l_h, headDim]: the slots KV head h of layer l holds before this call (keys after RoPE). */
  keyCache: (l: number, h: number) => `k_cache_${l}_${h}`,
  valueCache: (l: number, h: number) => `v_cache_${l}_${h}`,
  /** float32 [R, vocab] */
  logits: 'logits',
  /** float32 [kvHeads, T, headDim]: this call's keys (after RoPE) and values, to append to the cache. */
  newKeys: (l: number) => `k_new_${l}`,
  newValues: (l: number) => `v_new_${l}`,
  /** float32 [group, S, slots_l_h + T]: stat_weights · softmax probabilities, per query head of KV head h's group. */
  stats: (l: number, h: number) => `stats_${l}_${h}`,
} as const;

/**
 * The whole forward pass as one ONNX graph (one session.run per call). Design:
 * - Each (layer, KV head) has its own cache inputs with their own dynamic length, so heads may hold different
 *   numbers of slots with no padding; the caller feeds zero-copy views of its buffers. The graph never
 *   concatenates the cache with the new tokens: scores against the cache [G·T, L] and against the chunk [G·T, T]
 *   (causal mask) are joined (small), one softmax runs over both, and the two halves multiply their own values.
 *   Attention cost is proportional to the slots each head holds.
 * - New keys/values come out per layer as [kvHeads, T, headDim]; the caller appends them to its HeadCaches.
 * - Statistics are `stat_weights [S, T] @ P [G, T, L + T]` per KV head: one row of ones gives column sums, a 0/1
 *   window row gives window sums, a one-hot last row gives the last attention row; S = 0 costs nothing.
 * - Q, K and V (and gate and up) projections are fused into one Gemm each (transB, so weights stay [out, in]).
 * Weights are F32 initializers held as in-memory external data (no 2 GB protobuf limit), all in one buffer that is
 * filled tensor by tensor at build() and that the caller drops once onnxruntime has copied it.
 */
export function buildTransformerGraph(weights: WeightSource): BuiltModel {
  const c = weights.config;
  checkConfig(c);
  const E = c.embeddingLength;
  const D = c.headDim;
  const H = c.headCount;
  const KV = c.headCountKv;
  const G = H / KV;
  const F = c.feedForwardLength;
  const rd = c.ropeDimensionCount;
  const n = graphNames;
  const g = new GraphBuilder('kvmerger_transformer', 17);

  // Every weight is read at build() straight into the graph's one external-data buffer, without the source's cache
  // (`readInto`), so the model exists once in JavaScript until onnxruntime has copied it.
  const check = (name: string, shape: number[]): number => {
    if (!weights.has(name)) throw new KvError(`model weights: tensor '${name}' is missing; the file is incomplete or not a ${c.architecture} model`);
    const want = shape.reduce((a, b) => a * b, 1);
    const have = weights.shapeOf(name).reduce((a, b) => a * b, 1);
    if (have !== want) {
      throw new KvError(`model weights: tensor '${name}' has shape [${weights.shapeOf(name)}], expected [${shape}]; the file does not match its metadata`);
    }
    return want;
  };
  const read = (name: string, dest: Float32Array): void => {
    if (weights.readInto) return weights.readInto(name, dest);
    const data = weights.get(name);
    if (data.length !== dest.length) throw new KvError(`model weights: tensor '${name}' holds ${data.length} values, its shape says ${dest.length}; the file is corrupt`);
    dest.set(data);
  };
  const weight = (name: string, shape: number[]): string => {
    check(name, shape);
    return g.deferredInitializer(name, shape, (dest) => read(name, dest));
  };
  // Row-major [out, in] matrices (or vectors) stacked along `out`: the fused projections.
  const fused = (name: string, parts: [string, number[]][]): string => {
    const counts = parts.map(([n, shape]) => check(n, shape));
    const rows = parts.reduce((a, [, shape]) => a + shape[0]!, 0);
    const shape = parts[0]![1].length === 1 ? [rows] : [rows, parts[0]![1][1]!];
    return g.deferredInitializer(name, shape, (dest) => {
      let at = 0;
      parts.forEach(([n], i) => {
        read(n, dest.subarray(at, at + counts[i]!));
        at += counts[i]!;
      });
    });
  };

  const tokens = g.input(n.tokens, 'int32', ['T']);
  const cos = g.input(n.cos, 'float32', ['T', rd / 2]);
  const sin = g.input(n.sin, 'float32', ['T', rd / 2]);
  const logitRows = g.input(n.logitRows, 'int32', ['R']);
  const statW = g.input(n.statWeights, 'float32', ['S', 'T']);

  // Shared per-call values: T, the causal mask tiled over a group's query heads, the [G, T, -1] shape of stats.
  const tShape = g.op('Shape', [tokens]); // [1] = T
  const negInf = { tensor: { dims: [1], dataType: 1, rawData: new Uint8Array(Float32Array.of(-Infinity).buffer) } };
  const full = g.op('ConstantOfShape', [g.op('Concat', [tShape, tShape], { axis: 0 })], { value: negInf });
  const mask = g.op('Trilu', [full, g.int(1)], { upper: 1 }); // [T, T]: −inf above the diagonal, 0 elsewhere
  const maskG = G === 1 ? mask : g.op('Tile', [mask, g.ints([G, 1])]); // [G·T, T]
  const groupShape = g.op('Concat', [g.ints([G]), tShape, g.ints([-1])], { axis: 0 }); // [G, T, -1]
  // RoPE tables are per call: row t holds position start + t, so the op's position offset is 0.
  const ropeOffset = g.ints([0]);

  const rmsNorm = (x: string, w: string): string =>
    g.op('SimplifiedLayerNormalization', [x, w], { axis: -1, epsilon: { float: c.rmsNormEps }, stash_type: 1 });

  const embd = weight('token_embd.weight', [c.vocabSize, E]);
  let x = g.op('Gather', [embd, tokens], { axis: 0 }); // [T, E]
  const scale = { float: 1 / Math.sqrt(D) };

  for (let l = 0; l < c.blockCount; l++) {
    const b = (part: string) => blockTensor(l, part);
    const attnNorm = weight(b('attn_norm.weight'), [E]);
    const h = rmsNorm(x, attnNorm);
    const wqkv = fused(`blk.${l}.attn_qkv.weight`, [
      [b('attn_q.weight'), [H * D, E]],
      [b('attn_k.weight'), [KV * D, E]],
      [b('attn_v.weight'), [KV * D, E]],
    ]);
    const gemmIn = [h, wqkv];
    if (c.attentionBias) {
      gemmIn.push(fused(`blk.${l}.attn_qkv.bias`, [[b('attn_q.bias'), [H * D]], [b('attn_k.bias'), [KV * D]], [b('attn_v.bias'), [KV * D]]]));
    }
    const qkv = g.op('Gemm', gemmIn, { transB: 1 }); // [T, (H + 2KV)·D]
    // Head-major in one transpose: [H + 2KV, T, D]; then RoPE on the H + KV query and key heads at once.
    const heads3 = g.op('Transpose', [g.op('Reshape', [qkv, g.ints([0, H + 2 * KV, D])])], { perm: [1, 0, 2] });
    const vNew = g.claim(n.newValues(l));
    const [qk0] = g.node('Split', [heads3, g.ints([H + KV, KV])], { attrs: { axis: 0 }, outputs: [g.fresh('qk'), vNew] });
    const qkRot = g.op(
      'RotaryEmbedding',
      [g.op('Unsqueeze', [qk0, g.ints([0])]), ropeOffset, cos, sin],
      { interleaved: c.ropeStyle === 'normal' ? 1 : 0, rotary_embedding_dim: rd, num_heads: H + KV },
      'com.microsoft',
    ); // [1, H + KV, T, D]
    const kNew = g.claim(n.newKeys(l));
    const [qHeads] = g.node('Split', [g.op('Squeeze', [qkRot, g.ints([0])]), g.ints([H, KV])], {
      attrs: { axis: 0 },
      outputs: [g.fresh('q'), kNew],
    }); // [H, T, D], [KV, T, D]
    g.output(kNew, n.newKeys(l), 'float32', [KV, 'T', D]);
    g.output(vNew, n.newValues(l), 'float32', [KV, 'T', D]);

    // Query heads grouped by KV head: [KV, G·T, D] (query head qh reads KV head floor(qh / G)).
    const qGroups = g.op('Reshape', [qHeads, g.ints([KV, -1, D])]);
    const outs: string[] = [];
    for (let kh = 0; kh < KV; kh++) {
      const kc = g.input(n.keyCache(l, kh), 'float32', [`slots_${l}_${kh}`, D]);
      const vc = g.input(n.valueCache(l, kh), 'float32', [`slots_${l}_${kh}`, D]);
      const at = g.int(kh);
      const qh = g.op('Gather', [qGroups, at], { axis: 0 }); // [G·T, D]
      const kn = g.op('Gather', [kNew, at], { axis: 0 }); // [T, D]
      const vn = g.op('Gather', [vNew, at], { axis: 0 });
      const sc = g.op('Gemm', [qh, kc], { transB: 1, alpha: scale }); // [G·T, L]
      const sn = g.op('Add', [g.op('Gemm', [qh, kn], { transB: 1, alpha: scale }), maskG]); // [G·T, T]
      const p = g.op('Softmax', [g.op('Concat', [sc, sn], { axis: 1 })], { axis: 1 }); // [G·T, L + T]
      const len = g.op('Shape', [kc], { start: 0, end: 1 }); // [1] = L
      const pc = g.op('Slice', [p, g.ints([0]), len, g.ints([1])]);
      const pn = g.op('Slice', [p, len, g.ints([2 ** 31 - 1]), g.ints([1])]);
      const st = g.node('MatMul', [statW, g.op('Reshape', [p, groupShape])], { outputs: [g.claim(n.stats(l, kh))] })[0]!; // [G, S, L + T]
      g.output(st, n.stats(l, kh), 'float32', [G, 'S', `slots_${l}_${kh}_plus_T`]);
      // The head's output depends on its stats (+ 0 · sum, exact: the stats are finite), so onnxruntime runs the stats
      // MatMul here and frees p at once. Without it the stats nodes (graph outputs only) run last and every layer's
      // [G·T, L + T] block stays alive until then: 3 GB more and 2.4× slower at a 4096-token prefill.
      const zero = g.op('Mul', [g.op('ReduceSum', [st], { keepdims: 0 }), g.floats([0], [])]);
      outs.push(g.op('Add', [g.op('Add', [g.op('MatMul', [pc, vc]), g.op('MatMul', [pn, vn])]), zero])); // [G·T, D]
    }
    const attn = g.op('Reshape', [KV === 1 ? outs[0]! : g.op('Concat', outs, { axis: 0 }), g.ints([H, -1, D])]); // [H, T, D]
    const attnFlat = g.op('Reshape', [g.op('Transpose', [attn], { perm: [1, 0, 2] }), g.ints([-1, H * D])]);
    const wo = weight(b('attn_output.weight'), [E, H * D]);
    x = g.op('Add', [x, g.op('Gemm', [attnFlat, wo], { transB: 1 })]);

    const ffnNorm = weight(b('ffn_norm.weight'), [E]);
    const h2 = rmsNorm(x, ffnNorm);
    const wgu = fused(`blk.${l}.ffn_gate_up.weight`, [
      [b('ffn_gate.weight'), [F, E]],
      [b('ffn_up.weight'), [F, E]],
    ]);
    const [gate, up] = g.node('Split', [g.op('Gemm', [h2, wgu], { transB: 1 })], { attrs: { axis: 1 }, count: 2 }) as [string, string];
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]); // SwiGLU
    const wd = weight(b('ffn_down.weight'), [E, F]);
    x = g.op('Add', [x, g.op('Gemm', [act, wd], { transB: 1 })]);
  }

  const rows = g.op('Gather', [x, logitRows], { axis: 0 }); // [R, E]
  const outNorm = weight('output_norm.weight', [E]);
  // Tied output reuses the embedding initializer (one copy in memory).
  const out = weights.has('output.weight') ? weight('output.weight', [c.vocabSize, E]) : embd;
  const logits = g.node('Gemm', [rmsNorm(rows, outNorm), out], { attrs: { transB: 1 }, outputs: [g.claim(n.logits)] })[0]!;
  g.output(logits, n.logits, 'float32', ['R', c.vocabSize]);
  return g.build();
}

function checkConfig(c: ModelConfig): void {
  if (c.architecture !== 'llama' && c.architecture !== 'qwen2') {
    throw new KvError(`model: architecture '${c.architecture}' is not supported by the ort backend; use a llama or qwen2 model`);
  }
  if (c.headCount % c.headCountKv !== 0) {
    throw new KvError(`model: ${c.headCount} query heads are not a multiple of ${c.headCountKv} KV heads; the metadata is inconsistent`);
  }
  if (c.ropeDimensionCount % 2 !== 0 || c.ropeDimensionCount > c.headDim || c.ropeDimensionCount <= 0) {
    throw new KvError(`model: rope dimension count ${c.ropeDimensionCount} must be even and at most the head size ${c.headDim}`);
  }
}
