/**
 * The three analyses end to end on a loaded model: pick the prompts, prefill each into a fresh cache, compute, and
 * return the JSON and charts (analysis-output.ts writes them). Prompt lengths are bounded by the model's context
 * (one slot stays free, as the session requires) and, for the T × T maps, by MAX_SIMILARITY_TOKENS.
 */
import type { SessionModel } from '../generate/session-model.js';
import { KvError } from '../util/errors.js';
import { faithfulShares } from '../compress/methods/kvmerger/index.js';
import { defaultRatioTasks, filePrompt, gutenbergPassage, taskPrompts, type AnalysisPrompt } from './analysis-prompts.js';
import type { AnalysisResult } from './analysis-output.js';
import { analyzeLayerRatios, type LayerRatioJson, type LayerRatioSettings, type RatioSampleResult } from './layer-ratio-analysis.js';
import { layerMergeRatios } from './merge-ratios.js';
import { analyzeNeighbours, type NeighbourJson } from './neighbour-analysis.js';
import { prefillCache, withBos } from './prefill-cache.js';
import { analyzeSimilarity, MAX_SIMILARITY_TOKENS, type SimilarityJson } from './similarity-analysis.js';

export interface TextSourceOptions {
  /** Tokens in the cache (BOS included); default 512, bounded by the context. */
  tokens?: number;
  /** A text file instead of Gutenberg prose. */
  promptFile?: string;
  seed?: number;
  dataRoot?: string;
}

export interface RunContext {
  modelName: string;
  /** Called with one line per notice (a clamped length, a skipped task). */
  notice?: (line: string) => void;
  /** Called after each prefilled prompt (progress). */
  progress?: (done: number, total: number, what: string) => void;
}

/** The token count actually used: at most contextLength − 1 (and `cap` when given); notices say when it was cut. */
export function boundTokens(model: SessionModel, requested: number, ctx: RunContext, cap?: number): number {
  if (!Number.isInteger(requested) || requested < 2) throw new KvError(`--length must be an integer ≥ 2 (got ${requested})`);
  let n = requested;
  const limit = model.config.contextLength - 1;
  if (n > limit) {
    ctx.notice?.(`--length ${requested} exceeds what the model's context of ${model.config.contextLength} can hold; using ${limit}`);
    n = limit;
  }
  if (cap !== undefined && n > cap) {
    ctx.notice?.(`--length ${n}: the token × token maps are capped at ${cap} tokens; using ${cap}`);
    n = cap;
  }
  return n;
}

/** Prompts of `n` cache tokens (BOS included when the vocabulary adds one). */
function textPrompts(model: SessionModel, n: number, count: number, o: TextSourceOptions): { prompts: number[][]; label: string } {
  const bos = model.tokenizer.addBos && model.tokenizer.bos !== undefined ? 1 : 0;
  const content = n - bos;
  if (o.promptFile !== undefined) {
    const p = filePrompt(model.tokenizer, o.promptFile, content);
    return { prompts: [withBos(model, p.ids)], label: 'the prompt file' };
  }
  const prompts: AnalysisPrompt[] = [];
  for (let i = 0; i < count; i++) prompts.push(gutenbergPassage(model.tokenizer, content, o.seed ?? 0, i, o.dataRoot));
  return { prompts: prompts.map((p) => withBos(model, p.ids)), label: 'held-out Gutenberg prose' };
}

export interface SimilarityRunOptions extends TextSourceOptions {
  layers: number[];
  heads: number[];
  threshold?: number;
}

export async function runSimilarity(model: SessionModel, o: SimilarityRunOptions, ctx: RunContext): Promise<AnalysisResult<SimilarityJson>> {
  const n = boundTokens(model, o.tokens ?? 512, ctx, MAX_SIMILARITY_TOKENS);
  const { prompts, label } = textPrompts(model, n, 1, o);
  const { cache } = await prefillCache(model, prompts[0]!);
  ctx.progress?.(1, 1, 'prefilled');
  return analyzeSimilarity(cache, { layers: o.layers, heads: o.heads, modelName: ctx.modelName, textLabel: label, ...(o.threshold !== undefined ? { threshold: o.threshold } : {}) });
}

export interface NeighbourRunOptions extends TextSourceOptions {
  k: number;
  /** Gutenberg passages averaged over (a prompt file gives one). */
  samples?: number;
  threshold?: number;
}

export async function runNeighbours(model: SessionModel, o: NeighbourRunOptions, ctx: RunContext): Promise<AnalysisResult<NeighbourJson>> {
  const n = boundTokens(model, o.tokens ?? 512, ctx);
  if (!Number.isInteger(o.k) || o.k < 1 || o.k >= n) throw new KvError(`--k must be an integer in [1, ${n - 1}] (got ${o.k})`);
  const { prompts, label } = textPrompts(model, n, o.samples ?? 4, o);
  const caches = [];
  for (const [i, p] of prompts.entries()) {
    caches.push((await prefillCache(model, p)).cache);
    ctx.progress?.(i + 1, prompts.length, 'prefilled');
  }
  return analyzeNeighbours(caches, { k: o.k, modelName: ctx.modelName, textLabel: label, ...(o.threshold !== undefined ? { threshold: o.threshold } : {}) });
}

export interface LayerRatioRunOptions {
  /** Task names (default: defaultRatioTasks). */
  tasks?: string[];
  /** Samples per task (default 20). */
  samples?: number;
  /** Prompt length in content tokens as the tasks count them (default min(1024, context − 8)). */
  length?: number;
  epsilon?: number;
  /** Use KVMerger's faithful reserved shares of this budget. */
  budget?: number;
  recentRatio?: number;
  attnRatio?: number;
  sinkTokens?: number;
  seed?: number;
  dataRoot?: string;
}

/** The threshold and reserved shares: explicit shares win, then a budget's faithful shares, then none. */
export function ratioSettings(o: LayerRatioRunOptions): LayerRatioSettings {
  const epsilon = o.epsilon ?? 0.75;
  if (!(epsilon >= -1 && epsilon <= 1)) throw new KvError(`--epsilon must be in [-1, 1] (got ${epsilon})`);
  let recentRatio = 0;
  let attnRatio = 0;
  if (o.budget !== undefined) {
    if (!(o.budget > 0 && o.budget <= 1)) throw new KvError(`--budget must be in (0, 1] (got ${o.budget})`);
    const s = faithfulShares(o.budget);
    recentRatio = Math.round(s.recentRatio * 1e6) / 1e6;
    attnRatio = Math.round(s.attnRatio * 1e6) / 1e6;
  }
  if (o.recentRatio !== undefined) recentRatio = o.recentRatio;
  if (o.attnRatio !== undefined) attnRatio = o.attnRatio;
  for (const [flag, v] of [['--recent-ratio', recentRatio], ['--attn-ratio', attnRatio]] as const) {
    if (!(v >= 0 && v <= 1)) throw new KvError(`${flag} must be in [0, 1] (got ${v})`);
  }
  const sinkTokens = o.sinkTokens ?? 0;
  if (!Number.isInteger(sinkTokens) || sinkTokens < 0) throw new KvError(`--sink-tokens must be an integer ≥ 0 (got ${sinkTokens})`);
  return { epsilon, recentRatio, attnRatio, sinkTokens, ...(o.budget !== undefined ? { budget: o.budget } : {}) };
}

export async function runLayerRatios(model: SessionModel, o: LayerRatioRunOptions, ctx: RunContext): Promise<AnalysisResult<LayerRatioJson>> {
  const settings = ratioSettings(o);
  const count = o.samples ?? 20;
  if (!Number.isInteger(count) || count < 1) throw new KvError(`--samples must be an integer ≥ 1 (got ${count})`);
  const ctxLen = model.config.contextLength;
  const length = o.length ?? Math.min(1024, ctxLen - 8);
  if (!Number.isInteger(length) || length < 8) throw new KvError(`--length must be an integer ≥ 8 (got ${length})`);
  if (length > ctxLen - 2) throw new KvError(`--length ${length} does not fit the model's context of ${ctxLen}; use at most ${ctxLen - 2}`);
  const tasks = o.tasks ?? defaultRatioTasks(o.dataRoot);
  const prompts: AnalysisPrompt[] = [];
  for (const t of tasks) {
    try {
      prompts.push(...taskPrompts(t, model.tokenizer, count, length, o.seed ?? 0, o.dataRoot));
    } catch (err) {
      // A default task that cannot be built here (too short a context, missing data) is skipped; a named one is an error.
      if (o.tasks !== undefined || !(err instanceof KvError)) throw err;
      ctx.notice?.(`skipping task ${t}: ${err.message}`);
    }
  }
  if (prompts.length === 0) throw new KvError('no task could make prompts for the layer ratios; pass --tasks (and --length) that fit the model');
  const wantAttention = settings.attnRatio > 0;
  const results: RatioSampleResult[] = [];
  let cut = 0;
  for (const [i, p] of prompts.entries()) {
    let ids = withBos(model, p.ids);
    if (ids.length > ctxLen - 1) {
      ids = ids.slice(0, ctxLen - 1);
      cut++;
    }
    const pre = await prefillCache(model, ids, { attention: wantAttention });
    const ratioOpts = { ...settings, ...(pre.attention ? { attention: pre.attention } : {}) };
    results.push({
      task: p.source,
      id: p.id,
      tokens: ids.length,
      keys: layerMergeRatios(pre.cache, 'keys', ratioOpts).keptRatio,
      values: layerMergeRatios(pre.cache, 'values', ratioOpts).keptRatio,
    });
    ctx.progress?.(i + 1, prompts.length, p.source);
  }
  if (cut > 0) ctx.notice?.(`${cut} prompt(s) were longer than the context allows and were cut to ${ctxLen - 1} tokens`);
  return analyzeLayerRatios(results, { modelName: ctx.modelName, settings });
}
