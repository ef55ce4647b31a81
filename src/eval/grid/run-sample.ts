/**
 * Runs every pending cell of one sample with one shared prefill: the prompt is prefilled once (computing the union
 * of the attention statistics the cells' methods ask for), then each cell clones the cache, compresses its clone,
 * and decodes (generation tasks: greedily, through the session's decode loop) or teacher-forces the continuation
 * (fidelity tasks). Methods whose observation windows differ cannot share the window statistic, so cells are grouped
 * by window and each group prefills once (usually there is one group).
 *
 * Teacher-forced tasks compare every forced step with the full cache's logits, computed once per sample:
 * - `fidelity`: the continuation c[0..k) is forced in chunks (logits 'all') through the compressed cache; row i
 *   predicts c[i+1], so k − 1 tokens are measured (the prediction of c[0] comes from the prefill, before any
 *   compression, and is the same for every method).
 * - `ppl-stream` (`meta.decodeCompression`): the prompt is compressed to ⌊b·T⌋ slots per head, then the stream is
 *   forced one token at a time through the session's decode loop, and the method's decode policy keeps every head
 *   at ⌊b·t⌋ slots after t tokens: the budget b holds at every step.
 */
import type { StatsRequest } from '../../cache/attention-stats.js';
import { prepareCompression, type CompressionReport, type PreparedCompression } from '../../compress/compress-cache.js';
import type { DecodePolicy } from '../../compress/compression-method.js';
import { floorSlots } from '../../compress/budget.js';
import { chunkedPrefill } from '../../generate/chunked-prefill.js';
import { decodeLoop } from '../../generate/decode-loop.js';
import type { SessionModel } from '../../generate/session-model.js';
import type { StopReason } from '../../generate/stop-reason.js';
import type { Tokenizer } from '../../tokenizer/tokenizer.js';
import { Rng } from '../../util/rng.js';
import { forcedLogits } from './forced-logits.js';
import type { GridCell } from './grid-cell.js';
import { FidelityAccumulator } from '../metrics/logit-metrics.js';
import { encodeContent, type Sample, type TaskScore } from '../tasks/task.js';

/** What one cell measured. */
export interface CellOutcome {
  cell: GridCell;
  score: TaskScore;
  /** Options with 'auto' values resolved. */
  options: Record<string, string | number>;
  budgetRequested: number;
  /** Kept slots / (T · layers · kvHeads), T the slots after prefill (ppl-stream: after the whole stream). */
  budgetAchieved: number;
  kvBytes: number;
  kvBytesFull: number;
  /** Kept slots per layer, summed over KV heads. */
  slotsPerLayer: number[];
  /** Tokens prefilled (the model's BOS included): the T of budgetAchieved. */
  promptTokens: number;
  prefillMs: number;
  compressMs: number;
  decodeMs: number;
  /** Generated text (generation tasks); '' for teacher-forced tasks. */
  output: string;
  newTokens: number;
  stopReason?: StopReason;
}

export interface RunSampleOptions {
  seed: number;
  /** Prompt tokens per forward call (default 512). */
  chunkSize?: number;
  /** Checked between cells: stop early (the cells not yet run are left for the next run). */
  signal?: AbortSignal;
}

/** The token ids the model is fed for a sample: the model's BOS (when its vocabulary adds one) + the content tokens. */
export function samplePromptIds(tokenizer: Tokenizer, sample: Sample): number[] {
  const content = sample.promptIds ?? encodeContent(tokenizer, sample.prompt);
  return tokenizer.addBos && tokenizer.bos !== undefined ? [tokenizer.bos, ...content] : content.slice();
}

/** Tokens the sample occupies in the context: prompt (with BOS) + forced continuation or generated tokens. */
export function sampleContextNeed(tokenizer: Tokenizer, sample: Sample): { prompt: number; extra: number } {
  const prompt = samplePromptIds(tokenizer, sample).length;
  const extra = sample.mode === 'teacher-force' ? (sample.continuationIds?.length ?? 0) : sample.maxNewTokens;
  return { prompt, extra };
}

function unionStats(reqs: StatsRequest[]): StatsRequest {
  return {
    columnSums: reqs.some((r) => r.columnSums),
    window: Math.max(0, ...reqs.map((r) => r.window)),
    lastRow: reqs.some((r) => r.lastRow),
  };
}

/** Cells grouped so that each group's methods agree on the observation window (window 0 joins any group). */
function groupByWindow<T extends { stats: StatsRequest }>(items: T[]): T[][] {
  const windows = [...new Set(items.map((i) => i.stats.window).filter((w) => w > 0))];
  if (windows.length <= 1) return items.length ? [items] : [];
  const groups = windows.map((w) => items.filter((i) => i.stats.window === w));
  groups[0]!.push(...items.filter((i) => i.stats.window === 0));
  return groups;
}

const budgetSpec = (b: number) => (b < 1 ? { ratio: b } : undefined);

/** Validates a cell's method, options and budget for a prompt of T tokens (KvError on bad input). */
export function prepareCell(cell: GridCell, T: number, seed: number, reserve: number): PreparedCompression {
  const budget = budgetSpec(cell.budget);
  return prepareCompression({
    method: cell.method,
    options: cell.options,
    ...(budget ? { budget } : {}),
    promptLength: T,
    seed,
    reserveSlots: reserve,
  });
}

/** A cell checked and prepared for a prompt, with the statistics its method needs from the prefill. */
export interface PreparedCellItem {
  cell: GridCell;
  prep: PreparedCompression;
  stats: StatsRequest;
}

/**
 * The cells of one sample, prepared and grouped so that each group's methods agree on the observation window: one
 * prefill per group (usually one group). `runSampleCells` runs them; a queue worker (src/eval/grid/queue/) prefills a
 * group once and runs its cells one job at a time.
 */
export function sampleCellGroups(model: SessionModel, sample: Sample, cells: GridCell[], seed: number): PreparedCellItem[][] {
  const { prompt: T, extra } = sampleContextNeed(model.tokenizer, sample);
  return groupByWindow(cells.map((cell) => {
    const prep = prepareCell(cell, T, seed, extra);
    return { cell, prep, stats: prep.statsRequest };
  }));
}

/** The full cache's forced logits of a teacher-forced sample (computed once per sample). */
export interface ForcedReference {
  rows: Float32Array[];
  ms: number;
  bytes: number;
}

/** One prefill of a sample's prompt with the union of a group's statistics, shared by the group's cells. */
export interface SamplePrefill {
  sample: Sample;
  /** Prompt tokens with BOS. */
  T: number;
  pre: Awaited<ReturnType<typeof chunkedPrefill>>;
  /** Teacher-forced samples: the full cache's logits over the continuation. */
  reference?: ForcedReference;
}

/**
 * Prefills `sample` once with the union of `group`'s statistics; teacher-forced samples also get the full cache's
 * forced logits (`reference`, computed here unless given: they are the same for every group of a sample).
 */
export async function prefillSampleGroup(
  model: SessionModel,
  sample: Sample,
  group: readonly PreparedCellItem[],
  chunkSize = 512,
  reference?: ForcedReference,
): Promise<SamplePrefill> {
  const ids = samplePromptIds(model.tokenizer, sample);
  const pre = await chunkedPrefill(model, ids, unionStats(group.map((g) => g.stats)), 0, chunkSize);
  let ref = reference;
  if (sample.mode === 'teacher-force' && !ref) {
    const cont = sample.continuationIds ?? [];
    const full = pre.cache.clone(cont.length);
    const t0 = performance.now();
    const rows = await forcedLogits(model.backend, full, cont, chunkSize);
    ref = { rows, ms: performance.now() - t0, bytes: full.bytes() };
  }
  return { sample, T: ids.length, pre, ...(ref ? { reference: ref } : {}) };
}

/** Runs one cell on a prefilled sample (the prefill is not changed: the cell works on a clone of its cache). */
export async function runPrefilledCell(model: SessionModel, pf: SamplePrefill, item: PreparedCellItem, options: { seed: number; chunkSize?: number }): Promise<CellOutcome> {
  const { cell, prep } = item;
  const { sample, T, pre } = pf;
  const chunkSize = options.chunkSize ?? 512;
  const forced = sample.mode === 'teacher-force';
  const stream = forced && sample.meta['decodeCompression'] === true;
  const cont = sample.continuationIds ?? [];
  const extra = forced ? cont.length : sample.maxNewTokens;
  const cache = pre.cache.clone(extra);
  const report = prep.compress(cache, pre.stats);
  const base = {
    cell,
    options: report.options,
    budgetRequested: report.budgetRequested,
    promptTokens: T,
    prefillMs: pre.ms,
    compressMs: report.compressMs,
  };
  if (!forced) {
    const policy = prep.decodePolicy();
    // Greedy, with the model's end tokens and the sample's stop strings.
    const d = await decodeLoop(model, cache, pre.lastLogits ?? new Float32Array(0), { maxTokens: sample.maxNewTokens, stop: sample.stop, policy });
    return {
      ...base,
      score: cellTask(cell).scoreText(sample, d.text),
      budgetAchieved: report.budgetAchieved,
      kvBytes: report.bytesKept,
      kvBytesFull: report.bytesFull,
      slotsPerLayer: report.slotsPerLayer,
      decodeMs: d.ms,
      output: d.text,
      newTokens: d.tokens.length,
      stopReason: d.stopReason,
    };
  }
  const ref = pf.reference!;
  const acc = new FidelityAccumulator();
  let decodeMs: number;
  let kept = { bytes: report.bytesKept, full: report.bytesFull, slots: report.slotsPerLayer, achieved: report.budgetAchieved };
  if (cell.method === 'full' || report.budgetRequested >= 1) {
    // The full cache's forced logits are the reference itself.
    for (let i = 0; i + 1 < cont.length; i++) acc.add(ref.rows[i]!, ref.rows[i]!, cont[i + 1]!);
    decodeMs = ref.ms;
    if (stream) kept = { bytes: ref.bytes, full: ref.bytes, slots: cache.layers.map((l) => l.kvHeads * (T + cont.length)), achieved: 1 };
  } else if (!stream) {
    const t0 = performance.now();
    const rows = await forcedLogits(model.backend, cache, cont, chunkSize);
    decodeMs = performance.now() - t0;
    for (let i = 0; i + 1 < cont.length; i++) acc.add(ref.rows[i]!, rows[i]!, cont[i + 1]!);
  } else {
    const t0 = performance.now();
    await decodeLoop(model, cache, pre.lastLogits ?? new Float32Array(0), {
      maxTokens: cont.length,
      forced: cont,
      policy: budgetAtEveryStep(prep, report, cell.budget, options.seed),
      onLogits: (i, logits) => {
        if (i + 1 < cont.length) acc.add(ref.rows[i]!, logits, cont[i + 1]!);
      },
    });
    decodeMs = performance.now() - t0;
    const layers = cache.layers.length;
    const kvHeads = cache.layers[0]?.kvHeads ?? 0;
    kept = { bytes: cache.bytes(), full: ref.bytes, slots: cache.slotsPerLayer(), achieved: cache.slots() / ((T + cont.length) * layers * kvHeads) };
  }
  return {
    ...base,
    score: cellTask(cell).scoreForced(sample, acc),
    budgetAchieved: kept.achieved,
    kvBytes: kept.bytes,
    kvBytesFull: kept.full,
    slotsPerLayer: kept.slots,
    decodeMs,
    output: '',
    newTokens: cont.length,
  };
}

/**
 * Runs `cells` (all of one sample) and calls `onCell` after each. Returns the number of prefills run.
 */
export async function runSampleCells(
  model: SessionModel,
  sample: Sample,
  cells: GridCell[],
  options: RunSampleOptions,
  onCell: (outcome: CellOutcome) => void | Promise<void>,
): Promise<{ prefills: number }> {
  if (cells.length === 0) return { prefills: 0 };
  let prefills = 0;
  let reference: ForcedReference | undefined;
  for (const group of sampleCellGroups(model, sample, cells, options.seed)) {
    if (options.signal?.aborted) break;
    const pf = await prefillSampleGroup(model, sample, group, options.chunkSize ?? 512, reference);
    reference = pf.reference;
    prefills++;
    for (const item of group) {
      if (options.signal?.aborted) break;
      await onCell(await runPrefilledCell(model, pf, item, options));
    }
  }
  return { prefills };
}

function cellTask(cell: GridCell) {
  return {
    scoreText(sample: Sample, text: string): TaskScore {
      if (cell.task.kind !== 'generate') throw new Error(`task ${cell.task.name} is not a generation task`);
      return cell.task.score(sample, text);
    },
    scoreForced(sample: Sample, acc: FidelityAccumulator): TaskScore {
      if (cell.task.kind !== 'fidelity') throw new Error(`task ${cell.task.name} is not a teacher-forced task`);
      return cell.task.score(sample, acc.result());
    },
  };
}

/**
 * The method's decode policy with the budget of a stream (ppl-stream): after each token, every head is brought down
 * to ⌊b · t⌋ slots (t = tokens seen, the prompt's included).
 */
function budgetAtEveryStep(prep: PreparedCompression, report: CompressionReport, budget: number, seed: number): DecodePolicy {
  const layerBudgets: number[] = [];
  const policy = prep.method.decodePolicy?.({ options: report.options, layerBudgets, rng: new Rng(seed + 0x9e3779b9) });
  if (!policy) throw new Error(`method ${prep.method.name} has no decode-time policy for these options`);
  return {
    stats: policy.stats,
    afterDecodeStep(cache, stats) {
      const perHead = Math.max(1, floorSlots(budget * cache.nextPosition));
      layerBudgets.length = 0;
      for (let l = 0; l < cache.layers.length; l++) layerBudgets.push(perHead);
      policy.afterDecodeStep(cache, stats);
    },
    get evicted() {
      return policy.evicted;
    },
  };
}
