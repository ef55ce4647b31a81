/**
 * The grid runner: tasks × samples × methods × budgets, one result row per cell appended to `DIR/results.jsonl` as
 * soon as the cell is done. `planGrid` checks everything (tasks, methods, options, budgets, lengths against the
 * model's context) and builds every sample before any model work starts, so bad input fails at once; `runGrid` then
 * runs the cells that `results.jsonl` does not hold yet (a re-run of the same command resumes), one shared prefill per
 * sample (see run-sample.ts).
 *
 * Every method is held to the same number of kept slots per budget (KVMerger's default `budgetMode=exact` hits the
 * budget exactly); `full` runs once per sample with budget 1. For `ppl-stream` (`meta.decodeCompression`) methods
 * run with `when=decode`; methods without a decode-time policy are left out with a note.
 */
import { getMethod } from '../../compress/registry.js';
import { parseMethodOptions, type ResolvedOptions } from '../../compress/method-options.js';
import { KvError } from '../../util/errors.js';
import { version } from '../../version.js';
import { CHAT_TEMPLATE_MODES, modelChatFormat, type ChatTemplateMode } from '../tasks/chat-format.js';
import { cellKey, type GridCell } from './grid-cell.js';
import type { GridProgress } from './progress.js';
import type { ResultRow } from './result-row.js';
import { ResultsLog } from './results-log.js';
import { prepareCell, runSampleCells, sampleContextNeed, type CellOutcome } from './run-sample.js';
import type { SessionModel } from '../../generate/session-model.js';
import type { Sample, Task, TaskOptionValue } from '../tasks/task.js';

/** One task of the grid with its own sample settings (the eval command gives every task the same ones). */
export interface GridTaskPlan {
  task: Task;
  /** Samples per length (× depth); file-backed tasks: the first `count` rows. Default 1. */
  count?: number;
  lengths?: number[];
  depths?: number[];
  options?: Record<string, TaskOptionValue>;
}

export interface GridSpec {
  /** The model's name in every row (the file's base name). */
  model: string;
  backend: string;
  tasks: GridTaskPlan[];
  methods: string[];
  /** Budgets for every method but `full`, each in (0, 1]. */
  budgets: number[];
  seed: number;
  /** `method.key=value` (or `key=value` when only one method has that option). */
  methodOptions?: string[];
  dataRoot?: string;
  chunkSize?: number;
  /**
   * `auto` (default): tasks that wrap prompts for chat models (LongBench's chat datasets) use the model's
   * `tokenizer.chat_template` when it has one; `none`: never.
   */
  chatTemplate?: ChatTemplateMode;
}

export interface PlannedSample {
  task: Task;
  sample: Sample;
  cells: GridCell[];
}

export interface GridPlan {
  spec: GridSpec;
  samples: PlannedSample[];
  totalCells: number;
  /** Cells left out, with the reason (ppl-stream with a method that cannot compress while decoding). */
  notes: string[];
}

function checkBudgets(budgets: number[]): number[] {
  for (const b of budgets) {
    if (!Number.isFinite(b) || b <= 0 || b > 1) throw new KvError(`--budgets: ${b} is outside (0, 1]; give shares of the prompt such as 0.5,0.35`);
  }
  return [...new Set(budgets)].sort((a, b) => b - a);
}

/** `method.key=value` items → option strings per method, checked against each method's options. */
function methodOptionsBy(methods: string[], items: readonly string[]): Map<string, ResolvedOptions> {
  const given = new Map<string, string[]>(methods.map((m) => [m, []]));
  for (const item of items) {
    const eq = item.indexOf('=');
    const dot = item.indexOf('.');
    if (eq <= 0) throw new KvError(`--method-option '${item}' must be method.name=value (e.g. kvmerger.budgetMode=faithful)`);
    if (dot > 0 && dot < eq) {
      const m = item.slice(0, dot);
      if (!given.has(m)) throw new KvError(`--method-option '${item}': method '${m}' is not in --methods (${methods.join(',')}); add it or drop the option`);
      given.get(m)!.push(item.slice(dot + 1));
    } else {
      const name = item.slice(0, eq).trim();
      const owners = methods.filter((m) => getMethod(m).options.some((o) => o.name === name));
      if (owners.length !== 1) {
        throw new KvError(
          `--method-option '${item}': ${owners.length === 0 ? 'no method in --methods has' : `several methods (${owners.join(', ')}) have`} an option '${name}'; write it as method.${name}=value`,
        );
      }
      given.get(owners[0]!)!.push(item);
    }
  }
  const out = new Map<string, ResolvedOptions>();
  for (const [m, list] of given) out.set(m, parseMethodOptions(m, getMethod(m).options, list));
  return out;
}

function supportsDecodeCompression(method: string): boolean {
  return getMethod(method).options.some((o) => o.name === 'when' && (o.values ?? []).includes('decode'));
}

/**
 * Checks the grid and builds every sample and cell (nothing runs yet). Throws KvError on an unknown task, method
 * or option, a budget outside (0, 1], or a sample that does not fit in the model's context.
 */
export function planGrid(model: SessionModel, spec: GridSpec): GridPlan {
  if (spec.tasks.length === 0) throw new KvError('--tasks is empty; name at least one task (kvmerger eval --help lists them)');
  const methods = [...new Set(spec.methods)];
  if (methods.length === 0) throw new KvError('--methods is empty; name at least one method (kvmerger methods lists them)');
  for (const m of methods) getMethod(m);
  const budgets = checkBudgets(spec.budgets);
  if (budgets.length === 0 && methods.some((m) => m !== 'full')) throw new KvError('--budgets is empty; give at least one share such as 0.5');
  const optionsOf = methodOptionsBy(methods, spec.methodOptions ?? []);
  const chatMode = spec.chatTemplate ?? 'auto';
  if (!CHAT_TEMPLATE_MODES.includes(chatMode)) throw new KvError(`--chat-template must be 'auto' (apply the model's chat template when it has one) or 'none'; got '${String(chatMode)}'`);
  const chat = chatMode === 'auto' && model.chatTemplate ? modelChatFormat(model.chatTemplate, model.tokenizer) : undefined;
  const ctx = model.config.contextLength;
  const bosSlots = model.tokenizer.addBos && model.tokenizer.bos !== undefined ? 1 : 0;

  const planned: PlannedSample[] = [];
  const notes: string[] = [];
  let totalCells = 0;
  for (const tp of spec.tasks) {
    for (const L of tp.lengths ?? []) {
      if (!Number.isInteger(L) || L < 1) throw new KvError(`--lengths: ${L} is not a positive integer token count`);
      if (L > ctx - bosSlots) {
        throw new KvError(`--lengths ${L} (task ${tp.task.name}) is above the model's context of ${ctx} tokens${bosSlots ? ' (less 1 for BOS)' : ''}; use lengths ≤ ${ctx - bosSlots}`);
      }
    }
    const samples = tp.task.samples({
      seed: spec.seed,
      tokenizer: model.tokenizer,
      ...(tp.count !== undefined ? { count: tp.count } : {}),
      ...(tp.lengths ? { lengths: tp.lengths } : {}),
      ...(tp.depths ? { depths: tp.depths } : {}),
      ...(spec.dataRoot !== undefined ? { dataRoot: spec.dataRoot } : {}),
      ...(tp.options ? { options: tp.options } : {}),
      ...(chat ? { chat } : {}),
    });
    const skippedMethods = new Set<string>();
    for (const sample of samples) {
      const need = sampleContextNeed(model.tokenizer, sample);
      if (need.prompt + need.extra > ctx) {
        const what = sample.mode === 'teacher-force' ? `${need.extra} forced` : `up to ${need.extra} new`;
        throw new KvError(
          `task ${tp.task.name} sample ${sample.id}: ${need.prompt} prompt tokens${bosSlots ? ' (BOS included)' : ''} + ${what} tokens exceed the model's context of ${ctx}; use smaller --lengths`,
        );
      }
      const stream = sample.meta['decodeCompression'] === true;
      const wrapped = sample.meta['chatTemplate'];
      const chatTemplate = wrapped === 'applied' || wrapped === 'none' ? wrapped : undefined;
      const cells: GridCell[] = [];
      for (const method of methods) {
        const configOptions = optionsOf.get(method)!;
        let options = configOptions;
        if (stream && method !== 'full') {
          if (!supportsDecodeCompression(method)) {
            skippedMethods.add(method);
            continue;
          }
          options = { ...options, when: 'decode' };
        }
        for (const budget of method === 'full' ? [1] : budgets) {
          const taskOptions = tp.options ?? {};
          const cell: GridCell = {
            task: tp.task,
            sample,
            taskOptions,
            method,
            options,
            configOptions,
            budget,
            decodeCompression: stream,
            ...(chatTemplate ? { chatTemplate } : {}),
            cellKey: cellKey({
              model: spec.model,
              backend: spec.backend,
              task: tp.task.name,
              taskOptions,
              seed: spec.seed,
              sample: sample.id,
              method,
              options,
              budget,
              ...(chatTemplate === 'applied' ? { chatTemplate } : {}),
            }),
          };
          // Validates the budget against this prompt (e.g. a share that keeps no slot of a short prompt).
          prepareCell(cell, need.prompt, spec.seed, need.extra);
          cells.push(cell);
        }
      }
      totalCells += cells.length;
      planned.push({ task: tp.task, sample, cells });
    }
    if (skippedMethods.size > 0) {
      notes.push(
        `${tp.task.name}: ${[...skippedMethods].join(', ')} left out: no decode-time compression (the budget must hold at every step; methods with when=decode: ${methods.filter(supportsDecodeCompression).join(', ') || 'none in --methods'})`,
      );
    }
  }
  return { spec: { ...spec, methods, budgets }, samples: planned, totalCells, notes };
}

export interface GridSummary {
  totalCells: number;
  /** Cells run by this call. */
  ran: number;
  /** Cells found finished in results.jsonl. */
  skipped: number;
  /** Prefills run (one per sample with pending cells, per window group). */
  prefills: number;
  /** True when the signal stopped the run before every cell was done. */
  interrupted: boolean;
  notes: string[];
  resultsPath: string;
  /** Bytes of a torn last line cut off on opening (a previous run killed mid-write). */
  tornBytes: number;
  elapsedMs: number;
}

export interface RunGridOptions {
  out: string;
  progress?: GridProgress;
  signal?: AbortSignal;
  /** Called with each row after it is written. */
  onRow?: (row: ResultRow) => void;
  /** Characters of generated text kept in a row (default 300). */
  outputChars?: number;
}

/** Rounds a millisecond time to 0.1 ms, so rows stay readable. */
const ms = (x: number) => Math.round(x * 10) / 10;

/** The row of one finished cell, as results.jsonl holds it. */
export function resultRow(spec: GridSpec, o: CellOutcome, outputChars = 300): ResultRow {
  const { cell } = o;
  const s = cell.sample;
  return {
    model: spec.model,
    task: cell.task.name,
    sample: s.id,
    method: cell.method,
    // The chat-template state joins the method's configuration, so that a report tells runs with and without apart.
    options: cell.chatTemplate ? { ...cell.configOptions, chatTemplate: cell.chatTemplate } : cell.configOptions,
    resolvedOptions: o.options,
    budgetRequested: o.budgetRequested,
    budgetAchieved: o.budgetAchieved,
    score: o.score.score,
    metrics: o.score.metrics,
    kvBytes: o.kvBytes,
    kvBytesFull: o.kvBytesFull,
    slotsPerLayer: o.slotsPerLayer,
    promptTokens: o.promptTokens,
    contextLength: s.contextLength,
    depth: s.depth ?? null,
    prefillMs: ms(o.prefillMs),
    compressMs: ms(o.compressMs),
    decodeMs: ms(o.decodeMs),
    newTokens: o.newTokens,
    ...(o.stopReason ? { stopReason: o.stopReason } : {}),
    output: o.output.length > outputChars ? `${o.output.slice(0, outputChars)}…` : o.output,
    expected: s.answers.slice(0, 4).map((a) => (a.length > 120 ? `${a.slice(0, 120)}…` : a)),
    decodeCompression: cell.decodeCompression,
    taskOptions: cell.taskOptions,
    seed: spec.seed,
    backend: spec.backend,
    version,
    cellKey: cell.cellKey,
  };
}

/** Runs the cells of `plan` that `out/results.jsonl` does not hold yet. */
export async function runGrid(model: SessionModel, plan: GridPlan, options: RunGridOptions): Promise<GridSummary> {
  const t0 = performance.now();
  const log = ResultsLog.open(options.out);
  const done = log.opened.done;
  const progress = options.progress;
  let skipped = 0;
  for (const p of plan.samples) for (const c of p.cells) if (done.has(c.cellKey)) skipped++;
  progress?.start(plan.totalCells, skipped);
  if (log.opened.tornBytes > 0) progress?.note(`results.jsonl: cut off an unfinished last line (${log.opened.tornBytes} bytes); that cell runs again`);
  for (const n of plan.notes) progress?.note(`note: ${n}`);
  let ran = 0;
  let prefills = 0;
  try {
    for (const p of plan.samples) {
      if (options.signal?.aborted) break;
      const pending = p.cells.filter((c) => !done.has(c.cellKey));
      if (pending.length === 0) continue;
      const r = await runSampleCells(model, p.sample, pending, { seed: plan.spec.seed, ...(plan.spec.chunkSize ? { chunkSize: plan.spec.chunkSize } : {}), ...(options.signal ? { signal: options.signal } : {}) }, (o) => {
        const row = resultRow(plan.spec, o, options.outputChars);
        log.append(row);
        done.add(o.cell.cellKey);
        ran++;
        options.onRow?.(row);
        const b = o.cell.method === 'full' ? 'full' : `b=${o.cell.budget}`;
        progress?.cell(`${p.task.name} ${p.sample.id} ${o.cell.method} ${b}`, `score ${o.score.score.toFixed(3)}, kept ${(o.budgetAchieved * 100).toFixed(1)}%`);
      });
      prefills += r.prefills;
    }
  } finally {
    log.close();
    progress?.finish();
  }
  return {
    totalCells: plan.totalCells,
    ran,
    skipped,
    prefills,
    interrupted: skipped + ran < plan.totalCells,
    notes: plan.notes,
    resultsPath: log.path,
    tornBytes: log.opened.tornBytes,
    elapsedMs: performance.now() - t0,
  };
}
