/**
 * One cell of an evaluation grid (a task's sample × a method with its options × a budget) and its stable key.
 * The key names everything that changes the cell's numbers — model, backend, task, the task's options, the seed,
 * the sample, the method with every option (defaults included), the budget — so a re-run of the same command finds
 * the cells it already finished, and a changed option makes a new cell instead of reusing an old row.
 */
import { createHash } from 'node:crypto';
import { stableJson } from '../../util/stable-json.js';
import type { Sample, Task, TaskOptionValue } from '../tasks/task.js';
import type { ResolvedOptions } from '../../compress/method-options.js';

export interface GridCell {
  task: Task;
  sample: Sample;
  /** Task options as given (the task fills its own defaults), part of the key. */
  taskOptions: Record<string, TaskOptionValue>;
  method: string;
  /** Method options the method runs with: parsed, defaults included ('auto' resolved only when compressing). */
  options: ResolvedOptions;
  /**
   * The method's configuration as the user chose it (the row's `options`): `options` without what the task imposes
   * (ppl-stream's when=decode), and with 'auto' left as 'auto', so one configuration is one row of the report's
   * tables at every budget and task. The row's `resolvedOptions` has the values actually used.
   */
  configOptions: ResolvedOptions;
  /** Share of the prompt's slots to keep; 1 for `full`. */
  budget: number;
  /** Budget enforced at every decode step (ppl-stream); the method runs with when=decode. */
  decodeCompression: boolean;
  /**
   * Whether the sample's prompt is wrapped in the model's chat template (`sample.meta.chatTemplate`; LongBench's chat
   * datasets), absent for tasks that never wrap. Recorded in the row's `options`; 'applied' is part of the key.
   */
  chatTemplate?: 'applied' | 'none';
  cellKey: string;
}

export interface CellKeyParts {
  model: string;
  backend: string;
  task: string;
  taskOptions: Record<string, TaskOptionValue>;
  seed: number;
  sample: string;
  method: string;
  options: ResolvedOptions;
  budget: number;
  /**
   * 'applied' when the prompt is wrapped in the model's chat template; left out otherwise, so that cells without a
   * template keep the keys they had before templates were applied (earlier runs resume).
   */
  chatTemplate?: 'applied';
}

/** A short stable hash (16 hex digits of SHA-256) of the cell's identity. */
export function cellKey(parts: CellKeyParts): string {
  return createHash('sha256').update(stableJson(parts)).digest('hex').slice(0, 16);
}
