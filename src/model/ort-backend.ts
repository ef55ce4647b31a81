import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import type { KVCache } from '../cache/kv-cache.js';
import { KV_TYPES, type KvType } from '../cache/head-cache.js';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';
import { KvError } from '../util/errors.js';
import type { ForwardBackend, ForwardOptions, ForwardResult } from './backend.js';
import { isSlidingLayer, type ModelConfig } from '../core/model-config.js';
import type { WeightSource } from '../core/weight-source.js';
import { modelRopes, ropeFactorsTensor, type LayerRope } from './rope.js';
import { ropeTables } from './ort/rope-tables.js';
import { buildTransformerGraph, graphNames } from './ort/transformer-graph.js';
import { COMPUTE_PRECISIONS, type ComputePrecision } from './ort/linear-layers.js';
import { dequantize } from '../formats/dequantize.js';
import { ggmlByteSize, ggmlTypeByName } from '../formats/ggml-types.js';
import { createModelSession, type SessionCache, type SessionOrigin } from './ort/cached-session.js';
import { onnxCacheRoot } from './ort/onnx-cache.js';
import { checkLoadMemory } from './ort/load-memory.js';

export interface OrtBackendOptions {
  /** onnxruntime intra-op threads (default: the machine's cores). */
  threads?: number;
  /** Most tokens per graph run; longer calls are split (default 512). Bounds the [G·T, slots + T] score blocks. */
  chunk?: number;
  /**
   * Let onnxruntime's worker threads spin between operators (onnxruntime's default, true). Turn off on a machine
   * shared with other work, where spinning threads take cores from everything else.
   */
  spinning?: boolean;
  /**
   * onnxruntime's CPU memory arena (default true). Measured at a 4096-token prefill (SmolLM2 shape, F32, 1 thread):
   * without it prefill takes 2.7× the CPU time and peaks higher (+2.0 GiB over the load vs +0.2 GiB).
   */
  arena?: boolean;
  /**
   * onnxruntime's memory patterns (default false): shapes change every call (each head's slots), so a pattern is
   * planned per call and never reused; off, the same 4096-token prefill peaks ≈ 50 MiB lower at the same speed.
   */
  memoryPattern?: boolean;
  /**
   * Arithmetic of the products with quantised weights (default 'int8', onnxruntime's accuracy_level 4, the kind
   * of dot product llama.cpp uses; 'fp32' computes in float32). See docs/generate.md for the measured effect.
   */
  precision?: ComputePrecision;
  /**
   * How the caches fed to this backend store keys and values (default 'f32'; `loadModel` defaults to 'f16'). The
   * graph takes the heads' f16 storage as it is and widens it to float32 inside; new keys and values come out
   * already rounded to f16.
   */
  kvType?: KvType;
  /**
   * Build the graph with its per-head log-mass inputs (proportional attention; default true). Off only to measure
   * their cost (docs/methods.md): such a backend refuses a cache whose slots carry proportional masses.
   */
  logMass?: boolean;
  /**
   * What the weights are (`modelFileIdentity(path)`), so that the compiled model is kept in the model cache
   * (`onnxCacheRoot()`; docs/model-files.md) and later loads map it instead of building it again. Without it the
   * model is built in memory.
   */
  cacheIdentity?: string;
  /** Where a one-line note goes when the cache cannot be used (default: stderr). */
  note?: (line: string) => void;
}

/** A quantised embedding table kept as stored: rows are dequantised as they are looked up. */
interface EmbeddingTable {
  type: string;
  bytes: Uint8Array;
  rowBytes: number;
  width: number;
}

/**
 * The fast forward pass: the whole model as one ONNX graph (see `buildTransformerGraph`), run by onnxruntime-node in
 * one session that is created once and reused for every call. Per call, JavaScript feeds zero-copy views of each
 * head's cache buffers (`keysInUse()` / `valuesInUse()`), RoPE tables for the chunk's positions and the statistics'
 * query weights; it copies back only the chunk's new keys and values (appended to the HeadCaches) and the logits
 * and statistics rows asked for.
 */
export async function createOrtBackend(weights: WeightSource, options: OrtBackendOptions = {}): Promise<ForwardBackend> {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new KvError(`ort backend: threads must be a positive integer, got ${threads}`);
  const chunk = options.chunk ?? 512;
  if (!Number.isInteger(chunk) || chunk < 1) throw new KvError(`ort backend: chunk must be a positive integer, got ${chunk}`);
  const config = weights.config;
  const factors = ropeFactorsTensor(config, (name) => weights.has(name));
  const ropes = modelRopes(config, factors ? weights.get(factors) : undefined);
  const precision = options.precision ?? 'int8';
  const kvType = options.kvType ?? 'f32';
  if (!KV_TYPES.includes(kvType)) throw new KvError(`ort backend: KV type '${String(kvType)}' is unknown; use ${KV_TYPES.join(' or ')}`);
  if (!COMPUTE_PRECISIONS.includes(precision)) throw new KvError(`ort backend: precision '${String(precision)}' is unknown; use ${COMPUTE_PRECISIONS.join(' or ')}`);
  const logMass = options.logMass ?? true;
  // Nothing is read yet: the weights are read tensor by tensor when the graph is written to the cache (or built in
  // memory, when there is no cache to write to), see cached-session.ts.
  const graph = buildTransformerGraph(weights, { precision, kvType, logMass });
  let table: EmbeddingTable | undefined;
  if (graph.embedding === 'fed') {
    const type = weights.typeOf('token_embd.weight');
    const info = ggmlTypeByName(type)!;
    table = { type, bytes: weights.readBytes!('token_embd.weight'), rowBytes: ggmlByteSize(info, config.embeddingLength), width: config.embeddingLength };
  }
  const weightBytes = graph.graph.weightByteCount();
  const cache: SessionCache = {
    root: options.cacheIdentity === undefined ? undefined : onnxCacheRoot(),
    identity: options.cacheIdentity,
    options: `precision ${precision}, kv ${kvType}, log-mass ${logMass}`,
  };
  let created: Awaited<ReturnType<typeof createModelSession>>;
  try {
    created = await createModelSession(
      graph.graph,
      {
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        enableCpuMemArena: options.arena ?? true,
        enableMemPattern: options.memoryPattern ?? false,
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        logSeverityLevel: 3,
        extra: { session: { intra_op: { allow_spinning: options.spinning === false ? '0' : '1' }, inter_op: { allow_spinning: '0' } } },
      },
      cache,
      {
        // checked again here when a cache was meant to be used: in memory the load peaks far higher
        inMemory: () => {
          if (cache.root !== undefined && cache.identity !== undefined) checkLoadMemory('the model', weightBytes, 'memory');
        },
        note: options.note ?? ((line) => process.stderr.write(`kvmerger: note: ${line}\n`)),
      },
    );
  } catch (e) {
    if (e instanceof KvError) throw e;
    throw new Error(`ort backend: onnxruntime could not load the model graph (${(weightBytes / 2 ** 20).toFixed(0)} MiB of weights): ${(e as Error).message}`, { cause: e });
  }
  const session = created.session;
  const holdings = graph.holdings;
  return new OrtBackend(config, session, ropes, chunk, table, holdings, kvType, logMass, created.origin);
}

class OrtBackend implements ForwardBackend {
  readonly name = 'ort' as const;

  private readonly fetchBase: string[];
  private readonly fetchAll: string[];
  private readonly ropeRowsByLength = new Map<number, ort.Tensor>();

  constructor(
    private readonly config: ModelConfig,
    private session: ort.InferenceSession | undefined,
    /** The global layers' RoPE, and the sliding-window layers' own when the model has one. */
    private readonly ropes: { global: LayerRope; local?: LayerRope },
    private readonly chunk: number,
    private readonly table: EmbeddingTable | undefined,
    /** How each weight matrix is held (packed in its quantisation or expanded to F32). */
    readonly holdings: { tensor: string; type: string; holding: 'packed' | 'expanded' }[],
    readonly kvType: KvType,
    /** Whether the graph takes log-mass inputs (proportional attention). */
    private readonly logMass: boolean,
    /** Where the session's weights came from: the model cache, a cache entry built by this load, or memory. */
    readonly origin: SessionOrigin,
  ) {
    const n = graphNames;
    const layers = Array.from({ length: config.blockCount }, (_, l) => l);
    this.fetchBase = [n.logits, ...layers.map((l) => n.newKeysValues(l))];
    const heads = Array.from({ length: config.headCountKv }, (_, h) => h);
    this.fetchAll = [...this.fetchBase, ...layers.flatMap((l) => heads.map((h) => n.stats(l, h)))];
  }

  async forward(tokens: Int32Array, cache: KVCache, options: ForwardOptions): Promise<ForwardResult> {
    const c = this.config;
    if (tokens.length === 0) throw new RangeError('forward: no tokens');
    if (cache.layers.length !== c.blockCount) throw new RangeError(`forward: cache has ${cache.layers.length} layers, model ${c.blockCount}`);
    if (cache.kvType !== this.kvType) {
      throw new KvError(`forward: the cache stores ${cache.kvType} keys and values but this backend was built for ${this.kvType}; create the cache with the backend's kvType`);
    }
    for (const layer of cache.layers) {
      if (layer.kvHeads !== c.headCountKv || layer.headDim !== c.headDim) {
        throw new RangeError(`forward: cache layers have ${layer.kvHeads} heads of ${layer.headDim}, model ${c.headCountKv} of ${c.headDim}`);
      }
    }
    for (const id of tokens) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new KvError(`token id ${id} is outside the model's vocabulary (0..${c.vocabSize - 1})`);
    }
    if (tokens.length <= this.chunk) return this.run(tokens, cache, options);

    // Longer calls go through in chunks; statistics add up (later chunks only append slots at the end).
    const parts: ForwardResult[] = [];
    for (let s = 0; s < tokens.length; s += this.chunk) {
      const last = s + this.chunk >= tokens.length;
      const logits = options.logits === 'all' || last ? options.logits : 'last';
      parts.push(await this.run(tokens.subarray(s, s + this.chunk), cache, { ...options, logits }));
      if (!last && options.logits === 'last') parts[parts.length - 1]!.logits = new Float32Array(0);
    }
    return mergeChunks(parts, options);
  }

  /** The `rope_rows` input for a chunk of T tokens (one per chunk length: decode reuses one tensor). */
  private ropeRows(T: number): ort.Tensor {
    let rows = this.ropeRowsByLength.get(T);
    if (!rows) {
      const c = this.config;
      const qk = c.headCount + c.headCountKv;
      const data = new BigInt64Array((qk + c.headCountKv) * T);
      for (let r = 0; r < qk + c.headCountKv; r++) for (let t = 0; t < T; t++) data[r * T + t] = BigInt(r < qk ? t : T);
      rows = new ort.Tensor('int64', data, [qk + c.headCountKv, T]);
      if (this.ropeRowsByLength.size >= 4) this.ropeRowsByLength.clear(); // a few lengths: decode, the chunk, a tail
      this.ropeRowsByLength.set(T, rows);
    }
    return rows;
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.release();
  }

  /** The tokens' rows of the quantised embedding table, dequantised: [T, E]. */
  private embed(tokens: Int32Array): Float32Array {
    const t = this.table!;
    const out = new Float32Array(tokens.length * t.width);
    tokens.forEach((id, i) => {
      dequantize(t.bytes.subarray(id * t.rowBytes, (id + 1) * t.rowBytes), t.type, t.width, 'token_embd.weight', out.subarray(i * t.width, (i + 1) * t.width));
    });
    return out;
  }

  /** One graph run over at most `chunk` tokens. */
  private async run(tokens: Int32Array, cache: KVCache, options: ForwardOptions): Promise<ForwardResult> {
    const session = this.session;
    if (!session) throw new Error('ort backend: used after dispose()');
    const c = this.config;
    const n = graphNames;
    const T = tokens.length;
    const D = c.headDim;
    const KV = c.headCountKv;
    const G = c.headCount / KV;
    const start = cache.nextPosition;
    const rope = this.ropes.global;
    const half = rope.invFreq.length;
    const { cos, sin } = ropeTables(start, T, rope.invFreq, rope.mscale, 1);

    const rows = options.logits === 'all' ? Int32Array.from({ length: T }, (_, i) => i) : Int32Array.of(T - 1);
    const req: StatsRequest | undefined = options.stats;
    const kinds = statKinds(req);
    const statW = new Float32Array(kinds.length * T); // [S, T]
    kinds.forEach((kind, r) => {
      const row = statW.subarray(r * T, (r + 1) * T);
      if (kind === 'column') row.fill(1);
      else if (kind === 'last') row[T - 1] = 1;
      else {
        const from = options.windowStart ?? 0;
        for (let t = 0; t < T; t++) if (start + t >= from) row[t] = 1;
      }
    });

    const feeds: Record<string, ort.Tensor> = {
      ...(this.table ? { [n.embeddings]: new ort.Tensor('float32', this.embed(tokens), [T, c.embeddingLength]) } : { [n.tokens]: new ort.Tensor('int32', tokens, [T]) }),
      [n.cos]: new ort.Tensor('float32', cos, [T + 1, half]),
      [n.sin]: new ort.Tensor('float32', sin, [T + 1, half]),
      [n.ropeRows]: this.ropeRows(T),
      [n.logitRows]: new ort.Tensor('int32', rows, [rows.length]),
      [n.statWeights]: new ort.Tensor('float32', statW, [kinds.length, T]),
    };
    const local = this.ropes.local;
    if (local) {
      const tl = ropeTables(start, T, local.invFreq, local.mscale, 1);
      feeds[n.cosLocal] = new ort.Tensor('float32', tl.cos, [T + 1, half]);
      feeds[n.sinLocal] = new ort.Tensor('float32', tl.sin, [T + 1, half]);
    }
    if (c.slidingWindow) feeds[n.queryPositions] = new ort.Tensor('float32', Float32Array.from({ length: T }, (_, t) => start + t), [T]);
    for (let l = 0; l < c.blockCount; l++) {
      const heads = cache.layers[l]!.heads;
      for (let h = 0; h < KV; h++) {
        const hc = heads[h]!;
        // Views of the head's own buffers: onnxruntime-node reads them in place (no copy, no padding).
        const ks = hc.keysStored();
        const vs = hc.valuesStored();
        feeds[n.keyCache(l, h)] = ks instanceof Float32Array ? new ort.Tensor('float32', ks, [hc.length, D]) : new ort.Tensor('float16', ks, [hc.length, D]);
        feeds[n.valueCache(l, h)] = vs instanceof Float32Array ? new ort.Tensor('float32', vs, [hc.length, D]) : new ort.Tensor('float16', vs, [hc.length, D]);
        // sliding-window layers mask their slots by position (a view of the head's positions, no copy)
        if (isSlidingLayer(c, l)) feeds[n.slotPositions(l, h)] = new ort.Tensor('int32', hc.positions.subarray(0, hc.length), [hc.length]);
        // proportional attention: log(mass) per cached slot, or one 0 (broadcast) when no slot's mass differs from 1
        const biased = hc.massBiased();
        if (biased && !this.logMass) throw new Error('ort backend: built without log-mass inputs (logMass: false), but the cache uses proportional attention');
        if (this.logMass) feeds[n.logMass(l, h)] = biased ? new ort.Tensor('float32', hc.logMass(), [hc.length]) : NO_LOG_MASS;
      }
    }
    // Fetch only what is used: the stats outputs are empty without a request, but each output costs a conversion.
    const out = await session.run(feeds, kinds.length > 0 ? this.fetchAll : this.fetchBase);

    const stats: AttentionStats | undefined = req ? {} : undefined;
    if (stats && req!.columnSums) stats.columnSums = [];
    if (stats && req!.window > 0) {
      stats.windowSums = [];
      stats.window = req!.window;
    }
    if (stats && req!.lastRow) stats.lastRow = [];
    for (let l = 0; l < c.blockCount; l++) {
      const heads = cache.layers[l]!.heads;
      const kv = out[n.newKeysValues(l)]!.data as Float32Array | Uint16Array; // [2KV, T, D] (f16 bits under f16)
      const kNew = kv.subarray(0, KV * T * D);
      const vNew = kv.subarray(KV * T * D);
      const perKind: Float32Array[][] = kinds.map(() => []);
      for (let h = 0; h < KV; h++) {
        const hc = heads[h]!;
        if (stats) {
          const slots = hc.length + T;
          const st = out[n.stats(l, h)]!.data as Float32Array; // [G, S, slots]
          for (let gq = 0; gq < G; gq++) {
            for (let r = 0; r < kinds.length; r++) {
              const at = (gq * kinds.length + r) * slots;
              perKind[r]!.push(st.slice(at, at + slots));
            }
          }
        }
        hc.appendRows(kNew, vNew, h * T * D, T, start);
      }
      kinds.forEach((kind, r) => {
        if (kind === 'column') stats!.columnSums!.push(perKind[r]!);
        else if (kind === 'window') stats!.windowSums!.push(perKind[r]!);
        else stats!.lastRow!.push(perKind[r]!);
      });
    }
    cache.nextPosition = start + T;
    const logits = out[n.logits]!.data as Float32Array;
    return stats ? { logits, stats } : { logits };
  }
}


/** The log-mass input of a head whose slots all stand for one token: one 0, broadcast over the slots. */
const NO_LOG_MASS = new ort.Tensor('float32', new Float32Array(1), [1]);

type StatKind = 'column' | 'window' | 'last';

function statKinds(req: StatsRequest | undefined): StatKind[] {
  const kinds: StatKind[] = [];
  if (req?.columnSums) kinds.push('column');
  if (req && req.window > 0) kinds.push('window');
  if (req?.lastRow) kinds.push('last');
  return kinds;
}

/** Join the results of consecutive chunks of one call: logits concatenated, statistics summed slot by slot. */
function mergeChunks(parts: ForwardResult[], options: ForwardOptions): ForwardResult {
  const last = parts[parts.length - 1]!;
  let logits = last.logits;
  if (options.logits === 'all') {
    logits = new Float32Array(parts.reduce((a, p) => a + p.logits.length, 0));
    let at = 0;
    for (const p of parts) {
      logits.set(p.logits, at);
      at += p.logits.length;
    }
  }
  if (!last.stats) return { logits };
  const sum = (pick: (s: AttentionStats) => Float32Array[][] | undefined): Float32Array[][] | undefined => {
    const total = pick(last.stats!);
    if (!total) return undefined;
    for (const p of parts.slice(0, -1)) {
      const part = pick(p.stats!)!;
      part.forEach((layer, l) =>
        layer.forEach((row, q) => {
          const into = total[l]![q]!;
          for (let j = 0; j < row.length; j++) into[j]! += row[j]!;
        }),
      );
    }
    return total;
  };
  const stats: AttentionStats = {};
  const col = sum((s) => s.columnSums);
  if (col) stats.columnSums = col;
  const win = sum((s) => s.windowSums);
  if (win) {
    stats.windowSums = win;
    stats.window = last.stats.window;
  }
  if (last.stats.lastRow) stats.lastRow = last.stats.lastRow;
  return { logits, stats };
}
