import type { KvType } from '../cache/head-cache.js';
import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats } from '../cache/attention-stats.js';
import { KvError } from '../util/errors.js';
import type { ForwardBackend, ForwardOptions, ForwardResult } from './backend.js';
import { layerWindow, type ModelConfig } from '../core/model-config.js';
import { blockTensor, type WeightSource } from '../core/weight-source.js';
import { splitFusedWeights } from './fused-weights.js';
import { applyRope, layerRopes, ropeFactorsTensor, type LayerRope } from './rope.js';
import { geluTanh, linear, rmsNorm, silu, softcap, softmaxInPlace } from './reference-ops.js';

interface BlockWeights {
  attnNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
  o: Float32Array;
  ffnNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  postAttnNorm?: Float32Array;
  postFfnNorm?: Float32Array;
}

/**
 * The plain-TypeScript forward pass: exact and simple (Float32 storage, float64 sums, one attention row at a time),
 * the oracle every faster path is tested against. Slow by design: use it for tests and small models.
 *
 * One block, as llama.cpp builds it for each architecture (the optional steps from the config):
 * x = embd[token] · embeddingScale; per layer: h = rmsNorm(x); q, k, v = h·W (+ bias; fused attn_qkv split);
 * q, k per-head rmsNorm (qkNorm); RoPE (the layer's own for sliding-window layers); scores q·k · attentionScale,
 * soft-capped (attnLogitSoftcap), plus log(mass) of each cached slot under proportional attention
 * (HeadCache.proportional), masked to the window on sliding layers (a slot at position p0 is visible to the
 * query at p1 when p1 − p0 < window); softmax; o = attn·Wo, rmsNorm'd (postNorms); x += o; then
 * f = down(act(gate·h) ⊙ up·h) of rmsNorm(x), rmsNorm'd (postNorms); x += f. Logits = rmsNorm(x)·Wout,
 * soft-capped (finalLogitSoftcap).
 */
export class ReferenceBackend implements ForwardBackend {
  readonly name = 'reference' as const;
  readonly config: ModelConfig;
  private readonly weights: WeightSource;
  private readonly ropes: LayerRope[];
  private readonly blocks: BlockWeights[] = [];

  /** Any cache works here; this is the type the caches of sessions on this backend get. */
  readonly kvType: KvType;

  constructor(weights: WeightSource, options: { kvType?: KvType } = {}) {
    this.kvType = options.kvType ?? 'f32';
    this.weights = splitFusedWeights(weights);
    this.config = weights.config;
    const factors = ropeFactorsTensor(this.config, (n) => weights.has(n));
    this.ropes = layerRopes(this.config, factors ? weights.get(factors) : undefined);
  }

  async forward(tokens: Int32Array, cache: KVCache, options: ForwardOptions): Promise<ForwardResult> {
    const c = this.config;
    const n = tokens.length;
    if (n === 0) throw new RangeError('forward: no tokens');
    if (cache.layers.length !== c.blockCount) throw new RangeError(`forward: cache has ${cache.layers.length} layers, model ${c.blockCount}`);
    const E = c.embeddingLength;
    const D = c.headDim;
    const H = c.headCount;
    const KV = c.headCountKv;
    const group = H / KV;
    const start = cache.nextPosition;
    const req = options.stats;
    const windowStart = req && req.window > 0 ? (options.windowStart ?? 0) : Infinity;
    const stats: AttentionStats | undefined = req ? {} : undefined;
    if (req?.columnSums) stats!.columnSums = [];
    if (req && req.window > 0) {
      stats!.windowSums = [];
      stats!.window = req.window;
    }
    if (req?.lastRow) stats!.lastRow = [];

    // [n, E] hidden states
    const x = new Float32Array(n * E);
    const embd = this.weights.get('token_embd.weight');
    for (let t = 0; t < n; t++) {
      const id = tokens[t]!;
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new KvError(`token id ${id} is outside the model's vocabulary (0..${c.vocabSize - 1})`);
      x.set(embd.subarray(id * E, (id + 1) * E), t * E);
    }
    if (c.embeddingScale !== undefined) for (let i = 0; i < n * E; i++) x[i]! *= c.embeddingScale;

    const h = new Float32Array(n * E);
    for (let l = 0; l < c.blockCount; l++) {
      const w = this.block(l);
      const layer = cache.layers[l]!;
      for (let t = 0; t < n; t++) rmsNorm(x, t * E, w.attnNorm, c.rmsNormEps, h, t * E);
      const q = linear(h, n, w.q, H * D, E, w.qBias); // [n, H, D]
      const k = linear(h, n, w.k, KV * D, E, w.kBias); // [n, KV, D]
      const v = linear(h, n, w.v, KV * D, E, w.vBias); // [n, KV, D]
      if (w.qNorm && w.kNorm) {
        for (let i = 0; i < n * H; i++) rmsNorm(q, i * D, w.qNorm, c.rmsNormEps, q, i * D);
        for (let i = 0; i < n * KV; i++) rmsNorm(k, i * D, w.kNorm, c.rmsNormEps, k, i * D);
      }
      const rope = this.ropes[l]!;
      for (let t = 0; t < n; t++) {
        for (let hh = 0; hh < H; hh++) applyRope(q, (t * H + hh) * D, start + t, rope.invFreq, c.ropeStyle, rope.mscale);
        for (let hh = 0; hh < KV; hh++) applyRope(k, (t * KV + hh) * D, start + t, rope.invFreq, c.ropeStyle, rope.mscale);
      }
      // Append this call's keys and values; query t then sees every earlier slot plus the call's tokens 0..t.
      const before = layer.heads.map((hc) => hc.length);
      for (let hh = 0; hh < KV; hh++) {
        const hc = layer.heads[hh]!;
        hc.reserve(hc.length + n);
        for (let t = 0; t < n; t++) hc.append(k, v, start + t, (t * KV + hh) * D);
      }

      const attn = new Float32Array(n * H * D); // [n, H, D]
      const colL: Float32Array[] = [];
      const winL: Float32Array[] = [];
      const rowL: Float32Array[] = [];
      const scale = c.attentionScale ?? 1 / Math.sqrt(D);
      const cap = c.attnLogitSoftcap;
      const window = layerWindow(c, l);
      for (let qh = 0; qh < H; qh++) {
        const kvh = Math.floor(qh / group);
        const hc = layer.heads[kvh]!;
        const slots = hc.length;
        const keys = hc.keys;
        const vals = hc.values;
        const positions = hc.positions;
        // Proportional attention: slot j's logit + log(mass_j) (slots of this call have mass 1: log 1 = 0).
        const logMass = hc.massBiased() ? hc.logMass().subarray(0, before[kvh]!) : undefined;
        const col = req?.columnSums ? new Float64Array(slots) : undefined;
        const win = req && req.window > 0 ? new Float64Array(slots) : undefined;
        const row = new Float64Array(slots);
        for (let t = 0; t < n; t++) {
          const limit = before[kvh]! + t + 1;
          const qo = (t * H + qh) * D;
          for (let j = 0; j < limit; j++) {
            let s = 0;
            const ko = j * D;
            for (let d = 0; d < D; d++) s += q[qo + d]! * keys[ko + d]!;
            s *= scale;
            row[j] = cap === undefined ? s : softcap(s, cap);
          }
          if (logMass) for (let j = 0; j < logMass.length; j++) row[j]! += logMass[j]!;
          if (window !== undefined) {
            const p1 = start + t;
            for (let j = 0; j < limit; j++) if (p1 - positions[j]! >= window) row[j] = -Infinity;
          }
          softmaxInPlace(row, limit);
          const out = new Float64Array(D);
          for (let j = 0; j < limit; j++) {
            const p = row[j]!;
            const vo = j * D;
            for (let d = 0; d < D; d++) out[d]! += p * vals[vo + d]!;
          }
          for (let d = 0; d < D; d++) attn[qo + d] = out[d]!;
          if (col) for (let j = 0; j < limit; j++) col[j]! += row[j]!;
          if (win && start + t >= windowStart) for (let j = 0; j < limit; j++) win[j]! += row[j]!;
          if (req?.lastRow && t === n - 1) {
            const last = new Float32Array(slots);
            for (let j = 0; j < limit; j++) last[j] = row[j]!;
            rowL.push(last);
          }
        }
        if (col) colL.push(Float32Array.from(col));
        if (win) winL.push(Float32Array.from(win));
      }
      if (req?.columnSums) stats!.columnSums!.push(colL);
      if (req && req.window > 0) stats!.windowSums!.push(winL);
      if (req?.lastRow) stats!.lastRow!.push(rowL);

      const o = linear(attn, n, w.o, E, H * D);
      if (w.postAttnNorm) for (let t = 0; t < n; t++) rmsNorm(o, t * E, w.postAttnNorm, c.rmsNormEps, o, t * E);
      for (let i = 0; i < n * E; i++) x[i]! += o[i]!;

      for (let t = 0; t < n; t++) rmsNorm(x, t * E, w.ffnNorm, c.rmsNormEps, h, t * E);
      const F = c.feedForwardLength;
      const g = linear(h, n, w.gate, F, E);
      const u = linear(h, n, w.up, F, E);
      const act = c.ffnActivation === 'gelu' ? geluTanh : silu;
      for (let i = 0; i < n * F; i++) g[i] = act(g[i]!) * u[i]!;
      const down = linear(g, n, w.down, E, F);
      if (w.postFfnNorm) for (let t = 0; t < n; t++) rmsNorm(down, t * E, w.postFfnNorm, c.rmsNormEps, down, t * E);
      for (let i = 0; i < n * E; i++) x[i]! += down[i]!;
    }
    cache.nextPosition = start + n;

    const first = options.logits === 'all' ? 0 : n - 1;
    const m = n - first;
    const normed = new Float32Array(m * E);
    const outNorm = this.weights.get('output_norm.weight');
    for (let t = 0; t < m; t++) rmsNorm(x, (first + t) * E, outNorm, c.rmsNormEps, normed, t * E);
    const out = !c.tiedEmbeddings && this.weights.has('output.weight') ? this.weights.get('output.weight') : embd;
    const logits = linear(normed, m, out, c.vocabSize, E);
    const finalCap = c.finalLogitSoftcap;
    if (finalCap !== undefined) for (let i = 0; i < logits.length; i++) logits[i] = softcap(logits[i]!, finalCap);
    return stats ? { logits, stats } : { logits };
  }

  async dispose(): Promise<void> {
    this.blocks.length = 0;
  }

  private block(l: number): BlockWeights {
    let b = this.blocks[l];
    if (b) return b;
    const ws = this.weights;
    const get = (part: string) => ws.get(blockTensor(l, part));
    const opt = (part: string) => (ws.has(blockTensor(l, part)) ? ws.get(blockTensor(l, part)) : undefined);
    b = {
      attnNorm: get('attn_norm.weight'),
      q: get('attn_q.weight'),
      k: get('attn_k.weight'),
      v: get('attn_v.weight'),
      qBias: opt('attn_q.bias'),
      kBias: opt('attn_k.bias'),
      vBias: opt('attn_v.bias'),
      o: get('attn_output.weight'),
      ffnNorm: get('ffn_norm.weight'),
      gate: get('ffn_gate.weight'),
      up: get('ffn_up.weight'),
      down: get('ffn_down.weight'),
    };
    if (this.config.qkNorm) {
      b.qNorm = get('attn_q_norm.weight');
      b.kNorm = get('attn_k_norm.weight');
    }
    if (this.config.postNorms) {
      b.postAttnNorm = get('post_attention_norm.weight');
      b.postFfnNorm = get('post_ffw_norm.weight');
    }
    this.blocks[l] = b;
    return b;
  }
}
