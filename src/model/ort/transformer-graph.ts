import { KvError } from '../../util/errors.js';
import type { ModelConfig } from '../model-config.js';
import { blockTensor, type WeightSource } from '../weights.js';
import { GraphBuilder, type BuiltModel } from './graph-builder.js';

/** Names of the whole-model graph's inputs and outputs (per layer `l` and KV head `h`). */
export const graphNames = {
  /** int32 [T]: this call's token ids. */
  tokens: 'tokens',
  /** float32 [T, ropeDim/2]: cos and sin of each token's RoPE angles. */
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
 * Weights are F32 initializers held as in-memory external data (no 2 GB protobuf limit).
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

  const get = (name: string, shape: number[]): Float32Array => {
    if (!weights.has(name)) throw new KvError(`model weights: tensor '${name}' is missing; the file is incomplete or not a ${c.architecture} model`);
    const s = weights.shapeOf(name);
    const want = shape.reduce((a, b) => a * b, 1);
    const data = weights.get(name);
    if (data.length !== want) {
      throw new KvError(`model weights: tensor '${name}' has shape [${s}], expected [${shape}]; the file does not match its metadata`);
    }
    return data;
  };
  const weight = (name: string, shape: number[]): string => g.initializer(name, 'float32', shape, get(name, shape));
  // Row-major [out, in] matrices stacked along `out` (fused projections).
  const concatRows = (parts: Float32Array[]): Float32Array => {
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };

  const tokens = g.input(n.tokens, 'int32', ['T']);
  const cos = g.input(n.cos, 'float32', ['T', rd / 2]);
  const sin = g.input(n.sin, 'float32', ['T', rd / 2]);
  const logitRows = g.input(n.logitRows, 'int32', ['R']);
  const statW = g.input(n.statWeights, 'float32', ['S', 'T']);

  // Shared per-call values: T, the causal mask tiled over a group's query heads, RoPE tables shaped for broadcast.
  const tShape = g.op('Shape', [tokens]); // [1] = T
  const negInf = { tensor: { dims: [1], dataType: 1, rawData: new Uint8Array(Float32Array.of(-Infinity).buffer) } };
  const full = g.op('ConstantOfShape', [g.op('Concat', [tShape, tShape], { axis: 0 })], { value: negInf });
  const mask = g.op('Trilu', [full, g.int(1)], { upper: 1 }); // [T, T]: −inf above the diagonal, 0 elsewhere
  const maskG = G === 1 ? mask : g.op('Tile', [mask, g.ints([G, 1])]); // [G·T, T]
  const groupShape = g.op('Concat', [g.ints([G]), tShape, g.ints([-1])], { axis: 0 }); // [G, T, -1]
  const ropeShape = c.ropeStyle === 'normal' ? g.ints([0, 1, rd / 2, 1]) : g.ints([0, 1, rd / 2]);
  const cosB = g.op('Reshape', [cos, ropeShape]);
  const sinB = g.op('Reshape', [sin, ropeShape]);

  /** RoPE on x [T, N, D] (N heads), first rd dims, in the config's pair layout. */
  const rope = (x: string, heads: number): string => {
    let rot = x;
    let pass: string | undefined;
    if (rd < D) [rot, pass] = g.node('Split', [x, g.ints([rd, D - rd])], { attrs: { axis: 2 }, count: 2 }) as [string, string];
    let a: string, b: string;
    if (c.ropeStyle === 'normal') {
      const pairs = g.op('Reshape', [rot, g.ints([0, heads, rd / 2, 2])]);
      [a, b] = g.node('Split', [pairs], { attrs: { axis: 3 }, count: 2 }) as [string, string];
    } else {
      [a, b] = g.node('Split', [rot], { attrs: { axis: 2 }, count: 2 }) as [string, string];
    }
    const ra = g.op('Sub', [g.op('Mul', [a, cosB]), g.op('Mul', [b, sinB])]);
    const rb = g.op('Add', [g.op('Mul', [a, sinB]), g.op('Mul', [b, cosB])]);
    let out: string;
    if (c.ropeStyle === 'normal') {
      out = g.op('Reshape', [g.op('Concat', [ra, rb], { axis: 3 }), g.ints([0, heads, rd])]);
    } else {
      out = g.op('Concat', [ra, rb], { axis: 2 });
    }
    return pass ? g.op('Concat', [out, pass], { axis: 2 }) : out;
  };

  const rmsNorm = (x: string, w: string): string =>
    g.op('SimplifiedLayerNormalization', [x, w], { axis: -1, epsilon: { float: c.rmsNormEps }, stash_type: 1 });

  const embd = weight('token_embd.weight', [c.vocabSize, E]);
  let x = g.op('Gather', [embd, tokens], { axis: 0 }); // [T, E]
  const scale = { float: 1 / Math.sqrt(D) };
  const qkvOut = (H + 2 * KV) * D;

  for (let l = 0; l < c.blockCount; l++) {
    const b = (part: string) => blockTensor(l, part);
    const attnNorm = weight(b('attn_norm.weight'), [E]);
    const h = rmsNorm(x, attnNorm);
    const wqkv = g.initializer(
      `blk.${l}.attn_qkv.weight`,
      'float32',
      [qkvOut, E],
      concatRows([get(b('attn_q.weight'), [H * D, E]), get(b('attn_k.weight'), [KV * D, E]), get(b('attn_v.weight'), [KV * D, E])]),
    );
    const gemmIn = [h, wqkv];
    if (c.attentionBias) {
      const bias = concatRows([get(b('attn_q.bias'), [H * D]), get(b('attn_k.bias'), [KV * D]), get(b('attn_v.bias'), [KV * D])]);
      gemmIn.push(g.initializer(`blk.${l}.attn_qkv.bias`, 'float32', [qkvOut], bias));
    }
    const qkv = g.op('Gemm', gemmIn, { transB: 1 }); // [T, (H + 2KV)·D]
    const [q0, k0, v0] = g.node('Split', [qkv, g.ints([H * D, KV * D, KV * D])], { attrs: { axis: 1 }, count: 3 }) as [string, string, string];
    const q = rope(g.op('Reshape', [q0, g.ints([-1, H, D])]), H); // [T, H, D]
    const k = rope(g.op('Reshape', [k0, g.ints([-1, KV, D])]), KV); // [T, KV, D]
    const v = g.op('Reshape', [v0, g.ints([-1, KV, D])]);
    const kNew = g.op('Transpose', [k], { perm: [1, 0, 2] }); // [KV, T, D]
    const vNew = g.op('Transpose', [v], { perm: [1, 0, 2] });
    g.output(kNew, n.newKeys(l), 'float32', [KV, 'T', D]);
    g.output(vNew, n.newValues(l), 'float32', [KV, 'T', D]);

    // Query heads grouped by KV head: [KV, G·T, D] (query head qh reads KV head floor(qh / G)).
    const qGroups = g.op('Reshape', [g.op('Transpose', [q], { perm: [1, 0, 2] }), g.ints([KV, -1, D])]);
    const qSplit = KV === 1 ? [qGroups] : g.node('Split', [qGroups], { attrs: { axis: 0 }, count: KV });
    const kSplit = KV === 1 ? [kNew] : g.node('Split', [kNew], { attrs: { axis: 0 }, count: KV });
    const vSplit = KV === 1 ? [vNew] : g.node('Split', [vNew], { attrs: { axis: 0 }, count: KV });
    const heads: string[] = [];
    for (let kh = 0; kh < KV; kh++) {
      const kc = g.input(n.keyCache(l, kh), 'float32', [`slots_${l}_${kh}`, D]);
      const vc = g.input(n.valueCache(l, kh), 'float32', [`slots_${l}_${kh}`, D]);
      const qh = g.op('Reshape', [qSplit[kh]!, g.ints([-1, D])]); // [G·T, D]
      const kn = g.op('Reshape', [kSplit[kh]!, g.ints([-1, D])]); // [T, D]
      const vn = g.op('Reshape', [vSplit[kh]!, g.ints([-1, D])]);
      const sc = g.op('Gemm', [qh, kc], { transB: 1, alpha: scale }); // [G·T, L]
      const sn = g.op('Add', [g.op('Gemm', [qh, kn], { transB: 1, alpha: scale }), maskG]); // [G·T, T]
      const p = g.op('Softmax', [g.op('Concat', [sc, sn], { axis: 1 })], { axis: 1 }); // [G·T, L + T]
      const len = g.op('Shape', [kc], { start: 0, end: 1 }); // [1] = L
      const pc = g.op('Slice', [p, g.ints([0]), len, g.ints([1])]);
      const pn = g.op('Slice', [p, len, g.ints([2 ** 31 - 1]), g.ints([1])]);
      const o = g.op('Add', [g.op('MatMul', [pc, vc]), g.op('MatMul', [pn, vn])]); // [G·T, D]
      heads.push(g.op('Reshape', [o, g.ints([G, -1, D])]));
      const st = g.op('MatMul', [statW, g.op('Reshape', [p, groupShape])]); // [G, S, L + T]
      g.output(st, n.stats(l, kh), 'float32', [G, 'S', `slots_${l}_${kh}_plus_T`]);
    }
    const attn = KV === 1 ? heads[0]! : g.op('Concat', heads, { axis: 0 }); // [H, T, D]
    const attnFlat = g.op('Reshape', [g.op('Transpose', [attn], { perm: [1, 0, 2] }), g.ints([-1, H * D])]);
    const wo = weight(b('attn_output.weight'), [E, H * D]);
    x = g.op('Add', [x, g.op('Gemm', [attnFlat, wo], { transB: 1 })]);

    const ffnNorm = weight(b('ffn_norm.weight'), [E]);
    const h2 = rmsNorm(x, ffnNorm);
    const wgu = g.initializer(
      `blk.${l}.ffn_gate_up.weight`,
      'float32',
      [2 * F, E],
      concatRows([get(b('ffn_gate.weight'), [F, E]), get(b('ffn_up.weight'), [F, E])]),
    );
    const [gate, up] = g.node('Split', [g.op('Gemm', [h2, wgu], { transB: 1 })], { attrs: { axis: 1 }, count: 2 }) as [string, string];
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]); // SwiGLU
    const wd = weight(b('ffn_down.weight'), [E, F]);
    x = g.op('Add', [x, g.op('Gemm', [act, wd], { transB: 1 })]);
  }

  const rows = g.op('Gather', [x, logitRows], { axis: 0 }); // [R, E]
  const outNorm = weight('output_norm.weight', [E]);
  // Tied output reuses the embedding initializer (one copy in memory).
  const out = weights.has('output.weight') ? weight('output.weight', [c.vocabSize, E]) : embd;
  const logits = g.op('Gemm', [rmsNorm(rows, outNorm), out], { transB: 1 });
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
