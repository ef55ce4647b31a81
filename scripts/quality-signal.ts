// First quality signal (docs/methods.md, "First quality signal"): on a tiny model, how far each compression method
// moves the next-token distributions away from the full cache's.
//
// 1. The model writes its own text: from BOS, sampled (temperature 1, no top-k/top-p, seeded) for
//    prompt + forced tokens; end-of-text tokens do not stop it (the model was trained on BOS-separated stories).
// 2. The first `--prompt-tokens` (BOS included) are prefilled with the statistics the method asks for, the cache is
//    compressed once, then the next `--forced` tokens are teacher-forced through it (logits 'all'). Row i of the
//    forced pass predicts token T+i+1, so every forced row is measured (the text has T + forced + 1 tokens).
//    The same rows through the uncompressed cache are the reference: mean KL(p_full ‖ p_compressed) per token in
//    float64, top-1 agreement, perplexities (src/eval/metrics/logit-metrics.ts), achieved budget and bytes kept.
//
// Usage: npx tsx scripts/quality-signal.ts [--model FILE] [--tokenizer FILE] [--seeds 0,1,2,3,4] [--budgets 0.5,0.35]
//        [--prompt-tokens 400] [--forced 100] [--temperature 1] [--backend ort|reference] [--threads N]
//        [--one-story] [--diagnostics] [--no-reference-check] [--during-prefill-chunk N] [--json]
// --during-prefill-chunk N: every variant that can also runs compressing during a prefill in chunks of N
// (generate --compress-during-prefill), as a row labelled '<label> during-prefill/N', on the same text.
// --one-story masks BOS/EOS while sampling, so the whole text is one story (by default the model starts a new,
// unrelated story after ~300 tokens and most of the prompt is then a finished story). --diagnostics adds KVMerger
// with H2O's recent window (recentRatio = budget/2).
// Defaults: ../shared/data/models/stories260K.bin and tok512.bin (or $KVMERGER_SHARED_DATA/models/...).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseNumberList } from '../src/cli/grid-args.js';
import { parseBackend } from '../src/cli/model-args.js';
import { KVCache } from '../src/cache/kv-cache.js';
import { prepareCompression, type CompressionReport } from '../src/compress/compress-cache.js';
import { prefillUnsupported } from '../src/compress/prefill-compressor.js';
import type { OptionValue, ResolvedOptions } from '../src/compress/method-options.js';
import { forcedLogits } from '../src/eval/grid/forced-logits.js';
import { FidelityAccumulator, summarizeFidelity } from '../src/eval/metrics/logit-metrics.js';
import { chunkedPrefill } from '../src/generate/chunked-prefill.js';
import { Sampler } from '../src/generate/sampler.js';
import { generate } from '../src/generate/session.js';
import type { SessionModel } from '../src/generate/session-model.js';
import type { ForwardBackend } from '../src/model/backend.js';
import { loadModel } from '../src/model/load-model.js';
import type { ModelConfig } from '../src/core/model-config.js';
import { KvError } from '../src/util/errors.js';

/** One configuration to measure: a registered method and its options. */
export interface QualityVariant {
  label: string;
  method: string;
  /** Fixed options, or options that depend on the requested budget. */
  options?: Readonly<Record<string, OptionValue>> | ((budget: number) => Readonly<Record<string, OptionValue>>);
}

/** What one (variant, budget) measured on one text. */
export interface QualityRow {
  label: string;
  method: string;
  /** Every option as the method resolved it. */
  options: ResolvedOptions;
  budgetRequested: number;
  budgetAchieved: number;
  bytesKept: number;
  bytesFull: number;
  slotsPerLayer: number[];
  /** Mean KL(p_full ‖ p_compressed) per forced token, nats. */
  meanKL: number;
  top1Agreement: number;
  pplFull: number;
  pplCompressed: number;
  tokens: number;
  compressMs: number;
}

/** Every registered method except `full`, with default options, plus the KVMerger variants of the spec's open points. */
export const DEFAULT_VARIANTS: QualityVariant[] = [
  { label: 'full', method: 'full' },
  { label: 'kvmerger', method: 'kvmerger' },
  { label: 'kvmerger budgetMode=faithful', method: 'kvmerger', options: { budgetMode: 'faithful' } },
  { label: 'kvmerger valueScale=none', method: 'kvmerger', options: { valueScale: 'none' } },
  { label: 'kvmerger weighting=mean', method: 'kvmerger', options: { weighting: 'mean' } },
  { label: 'kvmerger granularity=headShared', method: 'kvmerger', options: { granularity: 'headShared' } },
  { label: 'kvmerger thresholdScope=global', method: 'kvmerger', options: { thresholdScope: 'global' } },
  { label: 'h2o', method: 'h2o' },
  { label: 'cam', method: 'cam' },
  { label: 'streaming', method: 'streaming' },
  { label: 'snapkv', method: 'snapkv' },
  { label: 'pyramidkv', method: 'pyramidkv' },
  { label: 'tova', method: 'tova' },
  { label: 'knorm', method: 'knorm' },
  { label: 'random', method: 'random' },
];

/**
 * `--diagnostics`: KVMerger with H2O's recent window (recentRatio = budget / 2 instead of the paper's 0.17 / 0.08),
 * to see whether the gap to H2O comes from the reserved recent share.
 */
export const DIAGNOSTIC_VARIANTS: QualityVariant[] = [
  { label: 'kvmerger recentRatio=b/2', method: 'kvmerger', options: (b) => ({ recentRatio: b / 2 }) },
  { label: 'kvmerger recentRatio=b/2 valueScale=none', method: 'kvmerger', options: (b) => ({ recentRatio: b / 2, valueScale: 'none' }) },
];

/** What the measurement needs from a model (loadModel's result satisfies it). */
export interface ForwardModel {
  readonly config: ModelConfig;
  readonly backend: ForwardBackend;
}

export interface MeasureOptions {
  /** Tokens prefilled and compressed (T). */
  promptLength: number;
  /** Tokens teacher-forced after the prompt; `tokens` must hold T + forced + 1 ids (the last one is only a target). */
  forced: number;
  budgets: readonly number[];
  /** Seed of CaM's gate and of `random`. */
  seed?: number;
  /** Tokens per forward call (default 512). */
  chunkSize?: number;
  /** Also measure each variant that can compressing during a prefill in chunks of this many tokens. */
  duringPrefillChunk?: number;
  onRow?: (row: QualityRow) => void;
}

/**
 * Measures every variant at every budget on one text (`full` once, at budget 1). Each run prefills anew with the
 * statistics its method requests (prepareCompression), compresses, and teacher-forces the same tokens.
 */
export async function measureQuality(
  model: ForwardModel,
  tokens: readonly number[],
  variants: readonly QualityVariant[],
  options: MeasureOptions,
): Promise<QualityRow[]> {
  const T = options.promptLength;
  const k = options.forced;
  const chunkSize = options.chunkSize ?? 512;
  if (!(Number.isInteger(T) && T > 0 && Number.isInteger(k) && k > 0)) throw new KvError(`--prompt-tokens ${T} and --forced ${k} must be positive integers`);
  if (tokens.length < T + k + 1) throw new KvError(`the text has ${tokens.length} tokens; --prompt-tokens ${T} + --forced ${k} need ${T + k + 1}`);
  if (T + k > model.config.contextLength) {
    throw new KvError(`--prompt-tokens ${T} + --forced ${k} exceed the model's context of ${model.config.contextLength}; lower them`);
  }
  const prompt = Int32Array.from(tokens.slice(0, T));
  const fed = Int32Array.from(tokens.slice(T, T + k));
  const targets = tokens.slice(T + 1, T + k + 1);

  // Reference: the uncompressed cache.
  const ref = await chunkedPrefill(model, prompt, undefined, k, chunkSize);
  const refRows = await forcedLogits(model.backend, ref.cache, fed, chunkSize);

  const rows: QualityRow[] = [];
  for (const v of variants) {
    const budgets = v.method === 'full' ? [1] : options.budgets;
    for (const b of budgets) {
      const plan = {
        method: v.method,
        options: typeof v.options === 'function' ? v.options(b) : (v.options ?? {}),
        ...(b < 1 ? { budget: { ratio: b } } : {}),
        promptLength: T,
        seed: options.seed ?? 0,
        reserveSlots: k,
      };
      const prep = prepareCompression(plan);
      const { cache, stats } = await chunkedPrefill(model, prompt, prep.statsRequest, 0, chunkSize);
      await measureRow(v.label, b, cache, prep.compress(cache, stats));
      const dpChunk = options.duringPrefillChunk;
      if (dpChunk && v.method !== 'full' && prefillUnsupported(v.method, prep.options, prep.method.statsRequest(prep.options)) === undefined) {
        const prep2 = prepareCompression(plan);
        const comp = prep2.prefillCompressor();
        const pre = await chunkedPrefill(model, prompt, comp.stats, 0, dpChunk, (c, st, next) => comp.afterChunk(c, st, next));
        await measureRow(`${v.label} during-prefill/${dpChunk}`, b, pre.cache, prep2.reportAfterPrefill(pre.cache, comp));
      }
    }
  }
  return rows;

  async function measureRow(label: string, b: number, cache: KVCache, report: CompressionReport): Promise<void> {
    const got = await forcedLogits(model.backend, cache, fed, chunkSize);
    const acc = new FidelityAccumulator();
    for (let i = 0; i < k; i++) acc.add(refRows[i]!, got[i]!, targets[i]!);
    const s = summarizeFidelity(acc.result());
    const row: QualityRow = {
      label,
      method: report.method,
      options: report.options,
      budgetRequested: b,
      budgetAchieved: report.budgetAchieved,
      bytesKept: report.bytesKept,
      bytesFull: report.bytesFull,
      slotsPerLayer: report.slotsPerLayer,
      meanKL: s.meanKL,
      top1Agreement: s.top1Agreement,
      pplFull: s.pplFull,
      pplCompressed: s.pplCompressed,
      tokens: s.tokens,
      compressMs: report.compressMs,
    };
    rows.push(row);
    options.onRow?.(row);
  }
}

/**
 * The model's own text: BOS, then `length` sampled tokens (end-of-text tokens do not stop it). `oneStory`: BOS and
 * EOS are masked out of the distribution, so the text is one story with no break back to an unrelated one.
 */
export async function ownText(model: SessionModel, length: number, seed: number, temperature: number, oneStory = false): Promise<number[]> {
  const bos = model.tokenizer.bos;
  if (bos === undefined) throw new KvError('the vocabulary has no BOS token to start the text from; use a model whose vocabulary has one');
  const sampling = { temperature, topK: 0, topP: 1, seed };
  if (!oneStory) {
    const r = await generate(model, { promptTokens: [bos], maxTokens: length, stopAtEos: false, sampling });
    return [bos, ...r.tokens];
  }
  const banned = [bos, model.tokenizer.eos, ...model.tokenizer.stopIds].filter((id): id is number => id !== undefined);
  const { config, backend } = model;
  const cache = new KVCache(config.blockCount, config.headCountKv, config.headDim, length + 1);
  const sampler = new Sampler(sampling);
  const text = [bos];
  let logits = (await backend.forward(Int32Array.of(bos), cache, { logits: 'last' })).logits;
  while (text.length < length + 1) {
    const masked = Float32Array.from(logits);
    for (const id of banned) masked[id] = -Infinity;
    const next = sampler.sample(masked, text);
    text.push(next);
    if (text.length < length + 1) logits = (await backend.forward(Int32Array.of(next), cache, { logits: 'last' })).logits;
  }
  return text;
}

/** Mean and sample standard deviation (0 for one value). */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std };
}

interface Aggregate {
  label: string;
  budget: number;
  meanKL: { mean: number; std: number };
  top1: { mean: number; std: number };
  pplRatio: { mean: number; std: number };
  budgetAchieved: { mean: number; std: number };
  bytesKept: { mean: number; std: number };
  bytesFull: number;
  seeds: number;
}

function aggregate(perSeed: QualityRow[][]): Aggregate[] {
  const out: Aggregate[] = [];
  for (let i = 0; i < perSeed[0]!.length; i++) {
    const rs = perSeed.map((rows) => rows[i]!);
    out.push({
      label: rs[0]!.label,
      budget: rs[0]!.budgetRequested,
      meanKL: meanStd(rs.map((r) => r.meanKL)),
      top1: meanStd(rs.map((r) => r.top1Agreement)),
      pplRatio: meanStd(rs.map((r) => r.pplCompressed / r.pplFull)),
      budgetAchieved: meanStd(rs.map((r) => r.budgetAchieved)),
      bytesKept: meanStd(rs.map((r) => r.bytesKept)),
      bytesFull: rs[0]!.bytesFull,
      seeds: rs.length,
    });
  }
  return out;
}

function markdownTable(aggs: Aggregate[]): string {
  const f = (x: { mean: number; std: number }, d: number) => `${x.mean.toFixed(d)} ± ${x.std.toFixed(d)}`;
  const lines = [
    '| method | budget | mean KL (nats) | top-1 agreement | ppl ratio | achieved budget | bytes kept / full |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const a of aggs) {
    const bytes = a.bytesKept.std > 0 ? `${Math.round(a.bytesKept.mean)} (± ${Math.round(a.bytesKept.std)})` : `${a.bytesKept.mean}`;
    const ach = a.budgetAchieved.std > 0 ? f(a.budgetAchieved, 4) : a.budgetAchieved.mean.toFixed(4);
    lines.push(`| ${a.label} | ${a.budget} | ${f(a.meanKL, 5)} | ${f(a.top1, 3)} | ${f(a.pplRatio, 3)} | ${ach} | ${bytes} / ${a.bytesFull} |`);
  }
  return lines.join('\n');
}

/** KVMerger (default options) against another variant on the same texts: per-text KL differences. */
export interface PairedComparison {
  budget: number;
  other: string;
  /** Mean over texts of KL(kvmerger) − KL(other), with its standard error. */
  meanDiff: number;
  stdErr: number;
  /** Texts on which KVMerger's KL is the lower. */
  kvmergerLower: number;
  texts: number;
}

export const PAIRED_WITH = ['h2o', 'cam', 'kvmerger valueScale=none', 'kvmerger thresholdScope=global', 'streaming', 'snapkv', 'tova', ...DIAGNOSTIC_VARIANTS.map((v) => v.label)];

function paired(perSeed: QualityRow[][], budgets: readonly number[]): PairedComparison[] {
  const out: PairedComparison[] = [];
  const kl = (rows: QualityRow[], label: string, b: number) => rows.find((r) => r.label === label && r.budgetRequested === b)?.meanKL;
  for (const b of budgets) {
    for (const other of PAIRED_WITH) {
      const diffs: number[] = [];
      for (const rows of perSeed) {
        const a = kl(rows, 'kvmerger', b);
        const o = kl(rows, other, b);
        if (a !== undefined && o !== undefined) diffs.push(a - o);
      }
      if (diffs.length === 0) continue;
      const { mean, std } = meanStd(diffs);
      out.push({ budget: b, other, meanDiff: mean, stdErr: std / Math.sqrt(diffs.length), kvmergerLower: diffs.filter((d) => d < 0).length, texts: diffs.length });
    }
  }
  return out;
}

function pairedTable(ps: PairedComparison[]): string {
  const lines = ['| budget | kvmerger vs | mean KL difference (± s.e.) | kvmerger lower on |', '|---|---|---|---|'];
  for (const p of ps) lines.push(`| ${p.budget} | ${p.other} | ${p.meanDiff >= 0 ? '+' : ''}${p.meanDiff.toFixed(5)} ± ${p.stdErr.toFixed(5)} | ${p.kvmergerLower}/${p.texts} |`);
  return lines.join('\n');
}

function sharedModels(rel: string): string {
  const root = process.env.KVMERGER_SHARED_DATA
    ? resolve(process.env.KVMERGER_SHARED_DATA)
    : resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data');
  return join(root, 'models', rel);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      seeds: { type: 'string', default: '0,1,2,3,4' },
      budgets: { type: 'string', default: '0.5,0.35' },
      'prompt-tokens': { type: 'string', default: '400' },
      forced: { type: 'string', default: '100' },
      temperature: { type: 'string', default: '1' },
      backend: { type: 'string', default: 'ort' },
      threads: { type: 'string' },
      'one-story': { type: 'boolean', default: false },
      diagnostics: { type: 'boolean', default: false },
      'no-reference-check': { type: 'boolean', default: false },
      'during-prefill-chunk': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const modelPath = values.model ?? sharedModels('stories260K.bin');
  const tokenizerPath = values.tokenizer ?? (values.model ? undefined : sharedModels('tok512.bin'));
  if (!existsSync(modelPath)) throw new KvError(`--model ${modelPath}: no such file; pass --model FILE or set KVMERGER_SHARED_DATA`);
  const seeds = parseNumberList('--seeds', values.seeds)!;
  const budgets = parseNumberList('--budgets', values.budgets)!;
  for (const b of budgets) if (!(b > 0 && b <= 1)) throw new KvError(`--budgets: ${b} is outside (0, 1]; use shares such as 0.5,0.35`);
  const T = Number(values['prompt-tokens']);
  const k = Number(values.forced);
  const temperature = Number(values.temperature);
  const backend = parseBackend(values.backend);
  const threads = values.threads !== undefined ? Number(values.threads) : undefined;
  const log = (s: string) => process.stderr.write(s + '\n');

  const model = await loadModel(modelPath, { ...(tokenizerPath ? { tokenizerPath } : {}), backend, ...(threads ? { threads } : {}) });
  const perSeed: QualityRow[][] = [];
  const texts: number[][] = [];
  const textInfo: { seed: number; storyStarts: number; currentStoryTokens: number; breaksInForced: number }[] = [];
  const t0 = performance.now();
  try {
    for (const seed of seeds) {
      const text = await ownText(model, T + k, seed, temperature, values['one-story']);
      texts.push(text);
      // The model was trained on BOS-separated stories: how far back the story being continued started matters.
      const bos = model.tokenizer.bos!;
      const lastBos = text.slice(0, T).lastIndexOf(bos);
      const storyStarts = text.slice(0, T).filter((id) => id === bos).length;
      const breaksInForced = text.slice(T, T + k + 1).filter((id) => id === bos).length;
      textInfo.push({ seed, storyStarts, currentStoryTokens: T - lastBos, breaksInForced });
      log(`seed ${seed}: ${text.length} tokens, ${storyStarts} story starts (BOS) in the prompt, the last ${T - lastBos} tokens ago, ${breaksInForced} in the forced part`);
      perSeed.push(
        await measureQuality(model, text, values.diagnostics ? [...DEFAULT_VARIANTS, ...DIAGNOSTIC_VARIANTS] : DEFAULT_VARIANTS, {
          promptLength: T,
          forced: k,
          budgets,
          seed,
          ...(values['during-prefill-chunk'] ? { duringPrefillChunk: Number(values['during-prefill-chunk']) } : {}),
          onRow: (r) => log(`  ${r.label} @ ${r.budgetRequested}: KL ${r.meanKL.toFixed(5)} top-1 ${r.top1Agreement.toFixed(3)} achieved ${r.budgetAchieved.toFixed(4)}`),
        }),
      );
    }
  } finally {
    await model.close();
  }
  const seconds = (performance.now() - t0) / 1000;

  // Sanity check: one method on the reference backend gives the same KL (first seed's text).
  let referenceCheck: Record<string, unknown> | undefined;
  if (!values['no-reference-check'] && backend === 'ort') {
    const ref = await loadModel(modelPath, { ...(tokenizerPath ? { tokenizerPath } : {}), backend: 'reference' });
    try {
      const variant = DEFAULT_VARIANTS.find((v) => v.label === 'kvmerger')!;
      const [r] = await measureQuality(ref, texts[0]!, [variant], { promptLength: T, forced: k, budgets: [budgets[0]!], seed: seeds[0]! });
      const o = perSeed[0]!.find((x) => x.label === variant.label && x.budgetRequested === budgets[0])!;
      referenceCheck = {
        method: variant.label,
        budget: budgets[0],
        seed: seeds[0],
        klOrt: o.meanKL,
        klReference: r!.meanKL,
        absDiff: Math.abs(o.meanKL - r!.meanKL),
        top1Ort: o.top1Agreement,
        top1Reference: r!.top1Agreement,
        achievedOrt: o.budgetAchieved,
        achievedReference: r!.budgetAchieved,
      };
      log(`reference check: ${JSON.stringify(referenceCheck)}`);
    } finally {
      await ref.close();
    }
  }

  const aggs = aggregate(perSeed);
  const pairs = paired(perSeed, budgets);
  const setup = { model: modelPath, tokenizer: tokenizerPath, backend, seeds, budgets, promptTokens: T, forced: k, temperature, sampling: 'topK 0, topP 1, from BOS, EOS not stopping', oneStory: values['one-story'], diagnostics: values.diagnostics };
  if (values.json) {
    process.stdout.write(JSON.stringify({ setup, seconds, texts: textInfo, aggregate: aggs, paired: pairs, perSeed, referenceCheck }, null, 1) + '\n');
  } else {
    process.stdout.write(`${JSON.stringify(setup)}\n\nMean ± std over ${seeds.length} texts (seeds ${seeds.join(', ')}), ${seconds.toFixed(1)} s:\n\n`);
    process.stdout.write(markdownTable(aggs) + '\n');
    process.stdout.write(`\nPaired over the same texts (negative: KVMerger closer to the full cache):\n\n${pairedTable(pairs)}\n`);
    process.stdout.write(`\ntexts: ${JSON.stringify(textInfo)}\n`);
    if (referenceCheck) process.stdout.write(`\nreference backend check: ${JSON.stringify(referenceCheck)}\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof KvError) {
        process.stderr.write(`quality-signal: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    },
  );
}
