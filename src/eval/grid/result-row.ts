/**
 * One line of a grid run's `results.jsonl`: one finished cell (task sample × method with its options × budget).
 * The one type of a row for everything that touches the file: `resultRow` (run-grid.ts) builds it, the results log
 * and the queue coordinator write it, a queue worker returns it, and the readers — the report (read-report-rows.ts,
 * which also accepts older or hand-made rows), `kvmerger demo` — read it back.
 */
import type { ResolvedOptions } from '../../compress/method-options.js';
import type { TaskOptionValue } from '../tasks/task.js';
import type { StopReason } from '../../generate/stop-reason.js';

export interface ResultRow {
  /** The model file's base name. */
  model: string;
  task: string;
  sample: string;
  method: string;
  /**
   * The method's configuration as the user chose it ('auto' kept; plus `chatTemplate` when the task wraps prompts in
   * the model's chat template): one configuration is one row of the report's tables.
   */
  options: ResolvedOptions;
  /** The options the method actually ran with ('auto' resolved, ppl-stream's when=decode). */
  resolvedOptions: ResolvedOptions;
  /** Share of the prompt's slots asked for; 1 for `full`. */
  budgetRequested: number;
  /** Kept slots / (prompt tokens · layers · KV heads). */
  budgetAchieved: number;
  /** The task's score, in [0, 1], higher is better. */
  score: number;
  /** The task's other numbers (fidelity: meanKL, top1Agreement, pplIncrease, …). */
  metrics: Record<string, number>;
  kvBytes: number;
  kvBytesFull: number;
  /** Kept slots per layer, summed over KV heads. */
  slotsPerLayer: number[];
  /** Tokens prefilled, the model's BOS included. */
  promptTokens: number;
  /** The sample's target length in tokens. */
  contextLength: number;
  /** Needle depth in percent; null for tasks without one. */
  depth: number | null;
  prefillMs: number;
  compressMs: number;
  decodeMs: number;
  newTokens: number;
  stopReason?: StopReason;
  /** Generated text, cut to the run's output length ('' for teacher-forced tasks). */
  output: string;
  /** Up to four accepted answers, each cut to 120 characters. */
  expected: string[];
  /** The budget held at every decode step (ppl-stream). */
  decodeCompression: boolean;
  taskOptions: Record<string, TaskOptionValue>;
  seed: number;
  backend: string;
  /** kvmerger's version. */
  version: string;
  /** The cell's stable key (grid-cell.ts): how a re-run finds the cells already done. */
  cellKey: string;
  /** The queue worker that ran the cell (queued runs only). */
  worker?: string;
}
