import { KvError } from '../../util/errors.js';
import { layerWindow, type ModelConfig } from '../../core/model-config.js';
import { isSupportedArchitecture } from '../../formats/model-description.js';
import { splitFusedWeights } from '../fused-weights.js';
import { cacheWindowMask, chunkWindowMask, geluTanhOp, softcapOp } from './arch-ops.js';
import { blockTensor, type WeightSource } from '../../core/weight-source.js';
import { GraphBuilder } from './graph-builder.js';
import type { KvType } from '../../cache/head-cache.js';
import { LinearLayers, type ComputePrecision, type WeightHolding } from './linear-layers.js';

/** Names of the whole-model graph's inputs and outputs (per layer `l` and KV head `h`). */
export const graphNames = {
  /** int32 [T]: this call's token ids (when the graph holds the embedding table). */
  tokens: 'tokens',
  /** float32 [T, E]: this call's embedded tokens (when the table is quantised: the caller looks rows up). */
  embeddings: 'embeddings',
  /**
   * float32 [T + 1, ropeDim/2]: cos and sin of each token's RoPE angles (row t: position start + t), and a last row
   * of angle 0 (cos 1, sin 0: the identity, exactly), which the value heads read so one RoPE runs over all heads.
   */
  cos: 'rope_cos',
  sin: 'rope_sin',
  /** float32 [T + 1, ropeDim/2]: the same for the sliding-window layers' own RoPE (`config.ropeLocal`), when it has one. */
  cosLocal: 'rope_cos_local',
  sinLocal: 'rope_sin_local',
  /** int64 [H + 2·KV, T]: the RoPE table row of each head's token t: t for query and key heads, T for value heads. */
  ropeRows: 'rope_rows',
  /** float32 [T]: this call's positions (start + t), when some layer has a sliding window. */
  queryPositions: 'q_pos',
  /** int32 [slots_l_h]: the positions of the slots KV head h of sliding-window layer l holds before this call. */
  slotPositions: (l: number, h: number) => `k_pos_${l}_${h}`,
  /** int32 [R]: rows of the chunk whose logits are computed (the last one, or all). */
  logitRows: 'logit_rows',
  /** float32 [S, T]: per-query weights of the attention statistics (rows: all ones, window mask, last one-hot). */
  statWeights: 'stat_weights',
  /** float32 [slots_l_h, headDim]: the slots KV head h of layer l holds before this call (keys after RoPE). */
  keyCache: (l: number, h: number) => `k_cache_${l}_${h}`,
  valueCache: (l: number, h: number) => `v_cache_${l}_${h}`,
  /**
   * float32 [slots_l_h] or [1]: added to the logits of the cached slots (broadcast over the queries): log(mass) of
   * each slot under proportional attention, or one 0 when no slot's mass differs from 1 (or it is off).
   */
  logMass: (l: number, h: number) => `log_mass_${l}_${h}`,
  /** float32 [R, vocab] */
  logits: 'logits',
  /** [2·kvHeads, T, headDim] (the cache's element type): this call's keys (after RoPE), then its values, to append to the cache. */
  newKeysValues: (l: number) => `kv_new_${l}`,
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
 * - New keys and values come out per layer as one [2·kvHeads, T, headDim] block; the caller appends them to its
 *   HeadCaches.
 * - A decoded token is ≈ 1,900 small kernels (SmolLM2: 30 layers × (≈ 25 + 13 per KV head × 3)), each with a fixed
 *   cost of a few µs, so the graph avoids kernels per KV head: one RoPE over all heads of a layer (value heads read
 *   the identity row), per-head operands by one Split per layer, the causal mask and the chunk's part of the output
 *   as Gemm's C. (SkipSimplifiedLayerNormalization, the residual add fused into the next norm, would save 2 kernels
 *   a layer but raised the peak of a 4096-token prefill by 50 MiB: not used.)
 * - Statistics are `stat_weights [S, T] @ P [G, T, L + T]` per KV head: one row of ones gives column sums, a 0/1
 *   window row gives window sums, a one-hot last row gives the last attention row; with S = 0 (none asked for)
 *   they cost 3 empty kernels per head (Reshape, MatMul, the Shape that orders them).
 * - Q, K and V (and gate and up) projections are fused into one Gemm each (transB, so weights stay [out, in]).
 * Weights are initializers held as external data (no 2 GB protobuf limit), read tensor by tensor only when the
 * caller builds the graph in memory or writes it to files (see GraphBuilder).
 */
export interface BuiltTransformer {
  /** The graph, its weights not yet read: `graph.build()` holds them in memory, `graph.writeFiles()` writes them out. */
  graph: GraphBuilder;
  /** 'graph': the graph takes token ids; 'fed': it takes embedded rows (`embeddings`), looked up by the caller. */
  embedding: 'graph' | 'fed';
  /** How each weight matrix is held: packed in its own quantisation, or expanded to F32. */
  holdings: { tensor: string; type: string; holding: WeightHolding }[];
}

export interface TransformerGraphOptions {
  /** Arithmetic of the quantised products (default 'int8'); see ComputePrecision. */
  precision?: ComputePrecision;
  /** Element type of the cache inputs and the new keys/values outputs (default 'f32'). */
  kvType?: KvType;
  /**
   * The `log_mass_l_h` inputs (proportional attention; default true). Off only to measure what they cost: a graph
   * without them cannot run a proportional cache.
   */
  logMass?: boolean;
}

export function buildTransformerGraph(source: WeightSource, options: TransformerGraphOptions = {}): BuiltTransformer {
  const weights = splitFusedWeights(source); // fused attn_qkv / gate-up read as separate tensors
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
  // Every weight is read at build() straight into the graph's external-data buffers, without the source's cache,
  // so the model exists once in JavaScript until onnxruntime has copied it.
  const f16 = (options.kvType ?? 'f32') === 'f16';
  const logMass = options.logMass ?? true;
  const lin = new LinearLayers(g, weights, options.precision ?? 'int8');
  const weight = (name: string, shape: number[]): string => lin.stackedF32(name, [{ name, shape }]);
  const fused = (name: string, parts: [string, number[]][]): string => lin.stackedF32(name, parts.map(([p, shape]) => ({ name: p, shape })));

  // A quantised embedding table stays quantised: the caller dequantises only the rows it looks up.
  const fedEmbedding = lin.layoutOf('token_embd.weight') !== undefined;
  lin.check('token_embd.weight', [c.vocabSize, E]);
  const embd = fedEmbedding ? undefined : weight('token_embd.weight', [c.vocabSize, E]);
  const tokens = fedEmbedding ? g.input(n.embeddings, 'float32', ['T', E]) : g.input(n.tokens, 'int32', ['T']);
  const cos = g.input(n.cos, 'float32', ['T_plus_1', rd / 2]);
  const sin = g.input(n.sin, 'float32', ['T_plus_1', rd / 2]);
  const cosLocal = c.ropeLocal ? g.input(n.cosLocal, 'float32', ['T_plus_1', rd / 2]) : cos;
  const sinLocal = c.ropeLocal ? g.input(n.sinLocal, 'float32', ['T_plus_1', rd / 2]) : sin;
  const ropeRows = g.input(n.ropeRows, 'int64', [H + 2 * KV, 'T']);
  const queryPos = c.slidingWindow ? g.input(n.queryPositions, 'float32', ['T']) : undefined;
  const logitRows = g.input(n.logitRows, 'int32', ['R']);
  const statW = g.input(n.statWeights, 'float32', ['S', 'T']);

  // Shared per-call values: T, the causal mask tiled over a group's query heads, the [G, T, -1] shape of stats.
  const tShape = g.op('Shape', [tokens], { start: 0, end: 1 }); // [1] = T
  const negInf = { tensor: { dims: [1], dataType: 1, rawData: new Uint8Array(Float32Array.of(-Infinity).buffer) } };
  const full = g.op('ConstantOfShape', [g.op('Concat', [tShape, tShape], { axis: 0 })], { value: negInf });
  const mask = g.op('Trilu', [full, g.int(1)], { upper: 1 }); // [T, T]: −inf above the diagonal, 0 elsewhere
  const maskG = G === 1 ? mask : g.op('Tile', [mask, g.ints([G, 1])]); // [G·T, T]
  const groupShape = g.op('Concat', [g.ints([G]), tShape, g.ints([-1])], { axis: 0 }); // [G, T, -1]
  const minusT = g.op('Neg', [tShape]); // [1] = −T: where each head's chunk columns start, counted from the end

  const rmsNorm = (x: string, w: string): string =>
    g.op('SimplifiedLayerNormalization', [x, w], { axis: -1, epsilon: { float: c.rmsNormEps }, stash_type: 1 });

  let x = embd ? g.op('Gather', [embd, tokens], { axis: 0 }) : tokens; // [T, E]
  if (c.embeddingScale !== undefined) x = g.op('Mul', [x, g.floats([c.embeddingScale], [])]);
  const scale = { float: c.attentionScale ?? 1 / Math.sqrt(D) };
  const cap = (v: string): string => (c.attnLogitSoftcap === undefined ? v : softcapOp(g, v, c.attnLogitSoftcap));

  for (let l = 0; l < c.blockCount; l++) {
    const b = (part: string) => blockTensor(l, part);
    const attnNorm = weight(b('attn_norm.weight'), [E]);
    const h = rmsNorm(x, attnNorm);
    let qkv = lin.linear(h, E, [
      { name: b('attn_q.weight'), rows: H * D },
      { name: b('attn_k.weight'), rows: KV * D },
      { name: b('attn_v.weight'), rows: KV * D },
    ], `blk.${l}.attn_qkv.weight`); // [T, (H + 2KV)·D]
    if (c.attentionBias) {
      qkv = g.op('Add', [qkv, fused(`blk.${l}.attn_qkv.bias`, [[b('attn_q.bias'), [H * D]], [b('attn_k.bias'), [KV * D]], [b('attn_v.bias'), [KV * D]]])]);
    }
    // Head-major in one transpose: [H + 2KV, T, D]; then one RoPE over all heads, each read as a batch row of one
    // head ([batch, T, D]): query and key heads take their positions' rows, value heads the identity row.
    let heads3 = g.op('Transpose', [g.op('Reshape', [qkv, g.ints([0, H + 2 * KV, D])])], { perm: [1, 0, 2] });
    if (c.qkNorm) {
      // per-head RMSNorm of queries and keys (qwen3, gemma3), before RoPE
      const [q0, k0, v0] = g.node('Split', [heads3, g.ints([H, KV, KV])], { attrs: { axis: 0 }, count: 3 });
      const qn = rmsNorm(q0!, weight(b('attn_q_norm.weight'), [D]));
      const kn = rmsNorm(k0!, weight(b('attn_k_norm.weight'), [D]));
      heads3 = g.op('Concat', [qn, kn, v0!], { axis: 0 });
    }
    const window = layerWindow(c, l);
    const local = window !== undefined;
    const rot = g.op(
      'RotaryEmbedding',
      [heads3, ropeRows, local ? cosLocal : cos, local ? sinLocal : sin],
      { interleaved: c.ropeStyle === 'normal' ? 1 : 0, rotary_embedding_dim: rd, num_heads: 1 },
      'com.microsoft',
    ); // [H + 2KV, T, D]
    // Under f16 the keys and values are rounded by a Cast into the output; the chunk attends to them as the cache
    // will hold them (rounded), as llama.cpp does.
    const kvOut = f16 ? g.fresh('kv_f32') : g.claim(n.newKeysValues(l));
    const [qHeads] = g.node('Split', [rot, g.ints([H, 2 * KV])], { attrs: { axis: 0 }, outputs: [g.fresh('q'), kvOut] }); // [H, T, D], [2KV, T, D]
    let kvUse = kvOut;
    if (f16) {
      g.node('Cast', [kvOut], { attrs: { to: FLOAT16 }, outputs: [g.claim(n.newKeysValues(l))] });
      kvUse = g.op('Cast', [n.newKeysValues(l)], { to: FLOAT32 });
    }
    g.output(n.newKeysValues(l), n.newKeysValues(l), f16 ? 'float16' : 'float32', [2 * KV, 'T', D]);

    // Per KV head, 2-D without a kernel per head: rows of [H·T, D] split in KV equal parts (query head qh reads KV
    // head floor(qh / G), so KV head h's queries are the rows h·G·T … (h + 1)·G·T − 1), [2KV·T, D] in 2KV.
    const perHead = (v: string, parts: number): string[] => {
      const rows = g.op('Reshape', [v, g.ints([-1, D])]);
      return parts === 1 ? [rows] : g.node('Split', [rows], { attrs: { axis: 0 }, count: parts });
    };
    const qParts = perHead(qHeads!, KV); // [G·T, D] each
    const kvParts = perHead(kvUse, 2 * KV); // [T, D] each: KV keys, then KV values
    const outs: string[] = [];
    const chunkMask = local ? g.op('Add', [maskG, G === 1 ? chunkWindowMask(g, full, window) : g.op('Tile', [chunkWindowMask(g, full, window), g.ints([G, 1])])]) : maskG;
    for (let kh = 0; kh < KV; kh++) {
      const cacheIn = (name: string): string => {
        const x = g.input(name, f16 ? 'float16' : 'float32', [`slots_${l}_${kh}`, D]);
        return f16 ? g.op('Cast', [x], { to: FLOAT32 }) : x;
      };
      const kc = cacheIn(n.keyCache(l, kh));
      const vc = cacheIn(n.valueCache(l, kh));
      const qh = qParts[kh]!;
      const kn = kvParts[kh]!;
      const vn = kvParts[KV + kh]!;
      // [G·T, L]; log(mass) of the cached slots is added after the soft cap (as Gemm's C when there is none)
      const lm = logMass ? g.input(n.logMass(l, kh), 'float32', [`mass_${l}_${kh}`]) : undefined;
      let sc = lm && c.attnLogitSoftcap === undefined ? g.op('Gemm', [qh, kc, lm], { transB: 1, alpha: scale }) : cap(g.op('Gemm', [qh, kc], { transB: 1, alpha: scale }));
      if (lm && c.attnLogitSoftcap !== undefined) sc = g.op('Add', [sc, lm]);
      if (local) sc = g.op('Add', [sc, cacheWindowMask(g, queryPos!, g.input(n.slotPositions(l, kh), 'int32', [`slots_${l}_${kh}`]), window, G)]);
      // [G·T, T]: the causal mask is Gemm's C when there is no soft cap
      const sn = c.attnLogitSoftcap === undefined ? g.op('Gemm', [qh, kn, chunkMask], { transB: 1, alpha: scale }) : g.op('Add', [cap(g.op('Gemm', [qh, kn], { transB: 1, alpha: scale })), chunkMask]);
      const p = g.op('Softmax', [g.op('Concat', [sc, sn], { axis: 1 })], { axis: 1 }); // [G·T, L + T]
      const st = g.node('MatMul', [statW, g.op('Reshape', [p, groupShape])], { outputs: [g.claim(n.stats(l, kh))] })[0]!; // [G, S, L + T]
      g.output(st, n.stats(l, kh), 'float32', [G, 'S', `slots_${l}_${kh}_plus_T`]);
      // The chunk's half ends at the stats' last dimension (L + T, the end of p): so the head's output depends on
      // its stats and onnxruntime runs the stats MatMul here, freeing p at once. Without that dependency the stats
      // nodes (graph outputs only) run last and every layer's [G·T, L + T] block stays alive until then: 3 GB more
      // and 2.4× slower at a 4096-token prefill.
      const pc = g.op('Slice', [p, g.ints([0]), minusT, g.ints([1])]); // [G·T, L]
      const pn = g.op('Slice', [p, minusT, g.op('Shape', [st], { start: 2, end: 3 }), g.ints([1])]); // [G·T, T]
      outs.push(g.op('Gemm', [pn, vn, g.op('MatMul', [pc, vc])])); // [G·T, D]: the chunk's part added by Gemm's C
    }
    const attn = g.op('Reshape', [KV === 1 ? outs[0]! : g.op('Concat', outs, { axis: 0 }), g.ints([H, -1, D])]); // [H, T, D]
    const attnFlat = g.op('Reshape', [g.op('Transpose', [attn], { perm: [1, 0, 2] }), g.ints([-1, H * D])]);
    let o = lin.linear(attnFlat, H * D, [{ name: b('attn_output.weight'), rows: E }], b('attn_output.weight'));
    if (c.postNorms) o = rmsNorm(o, weight(b('post_attention_norm.weight'), [E]));
    x = g.op('Add', [x, o]);

    const ffnNorm = weight(b('ffn_norm.weight'), [E]);
    const h2 = rmsNorm(x, ffnNorm);
    const gateUp = lin.linear(h2, E, [
      { name: b('ffn_gate.weight'), rows: F },
      { name: b('ffn_up.weight'), rows: F },
    ], `blk.${l}.ffn_gate_up.weight`);
    const [gate, up] = g.node('Split', [gateUp], { attrs: { axis: 1 }, count: 2 }) as [string, string];
    const act = c.ffnActivation === 'gelu'
      ? g.op('Mul', [geluTanhOp(g, gate), up]) // GeGLU
      : g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]); // SwiGLU
    let down = lin.linear(act, F, [{ name: b('ffn_down.weight'), rows: E }], b('ffn_down.weight'));
    if (c.postNorms) down = rmsNorm(down, weight(b('post_ffw_norm.weight'), [E]));
    x = g.op('Add', [x, down]);
  }

  const rows = g.op('Gather', [x, logitRows], { axis: 0 }); // [R, E]
  const outNorm = weight('output_norm.weight', [E]);
  const normed = rmsNorm(rows, outNorm);
  // A tied F32 output reuses the embedding initializer (one copy in memory); a quantised one runs packed.
  const head = !c.tiedEmbeddings && weights.has('output.weight') ? 'output.weight' : 'token_embd.weight';
  let logits = head === 'token_embd.weight' && embd ? g.op('Gemm', [normed, embd], { transB: 1 }) : lin.linear(normed, E, [{ name: head, rows: c.vocabSize }], 'output_head');
  if (c.finalLogitSoftcap !== undefined) logits = softcapOp(g, logits, c.finalLogitSoftcap);
  g.output(logits, n.logits, 'float32', ['R', c.vocabSize]);
  return { graph: g, embedding: fedEmbedding ? 'fed' : 'graph', holdings: [...lin.holdings.values()] };
}

/** ONNX element type codes for Cast. */
const FLOAT32 = 1;
const FLOAT16 = 10;

function checkConfig(c: ModelConfig): void {
  if (!isSupportedArchitecture(c.architecture)) {
    throw new KvError(`model: architecture '${c.architecture}' is not supported by the ort backend`);
  }
  if (c.headCount % c.headCountKv !== 0) {
    throw new KvError(`model: ${c.headCount} query heads are not a multiple of ${c.headCountKv} KV heads; the metadata is inconsistent`);
  }
  if (c.ropeDimensionCount % 2 !== 0 || c.ropeDimensionCount > c.headDim || c.ropeDimensionCount <= 0) {
    throw new KvError(`model: rope dimension count ${c.ropeDimensionCount} must be even and at most the head size ${c.headDim}`);
  }
}
