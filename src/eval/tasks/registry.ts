/**
 * The task registry: every task the laboratory can run, by name. Names follow their sources: `ruler-<RULER task>`,
 * `longbench-<LongBench dataset>`.
 */
import { KvError } from '../../util/errors.js';
import { didYouMean } from '../../util/suggest.js';
import { createFidelityTask } from './fidelity-task.js';
import { DATASET_METRIC } from '../metrics/longbench-metrics.js';
import { createLongBenchTask } from './longbench-task.js';
import { createNeedleTask } from './needle-task.js';
import { rulerJsonlTask } from './ruler-jsonl-task.js';
import { createRulerTask, RULER_CONFIGS } from './ruler-tasks.js';
import type { Task } from './task.js';
import type { FidelityOptions, PplStreamOptions } from './fidelity-task.js';
import type { LongBenchOptions } from './longbench-task.js';
import type { NeedleOptions } from './needle-task.js';
import type { RulerJsonlOptions } from './ruler-jsonl-task.js';
import type { RulerCweOptions, RulerEssayOptions, RulerFweOptions, RulerVtOptions } from './ruler-tasks.js';

/** A task without options. */
type NoOptions = Record<string, never>;

/**
 * The options every task reads, by task name, as their declarations type them: what a library user may put in
 * `SampleOptions.options` or `GridTaskPlan.options` (any subset: the rest take their defaults), e.g.
 * `const o: Partial<TaskOptions['fidelity']> = { k: 128 }`. The command line gives the same names as strings.
 */
export interface TaskOptions {
  fidelity: FidelityOptions;
  'ppl-stream': PplStreamOptions;
  niah: NeedleOptions;
  passkey: NeedleOptions;
  'niah-paraphrase': NeedleOptions;
  'ruler-niah_single_1': NoOptions;
  'ruler-niah_single_2': RulerEssayOptions;
  'ruler-niah_single_3': RulerEssayOptions;
  'ruler-niah_multikey_1': RulerEssayOptions;
  'ruler-niah_multikey_2': NoOptions;
  'ruler-niah_multikey_3': NoOptions;
  'ruler-niah_multivalue': RulerEssayOptions;
  'ruler-niah_multiquery': RulerEssayOptions;
  'ruler-vt': RulerVtOptions;
  'ruler-cwe': RulerCweOptions;
  'ruler-fwe': RulerFweOptions;
  'ruler-jsonl': RulerJsonlOptions;
  [longbench: `longbench-${string}`]: LongBenchOptions;
}

function build(): Map<string, Task> {
  const list: Task[] = [
    createFidelityTask('fidelity'),
    createFidelityTask('ppl-stream'),
    createNeedleTask('niah'),
    createNeedleTask('passkey'),
    createNeedleTask('niah-paraphrase'),
    ...Object.keys(RULER_CONFIGS).map(createRulerTask),
    rulerJsonlTask,
    ...Object.keys(DATASET_METRIC).map(createLongBenchTask),
  ];
  return new Map(list.map((t) => [t.name, t]));
}

let registry: Map<string, Task> | undefined;

/** Every registered task, in registry order (fidelity, needles, RULER, LongBench). */
export function listTasks(): Task[] {
  registry ??= build();
  return [...registry.values()];
}

/** The task called `name`; an unknown name is a KvError that lists the tasks. */
export function getTask(name: string): Task {
  registry ??= build();
  const t = registry.get(name);
  if (!t) throw new KvError(`unknown task '${name}'${didYouMean(name, [...registry.keys()])}; tasks: ${[...registry.keys()].join(', ')}`);
  return t;
}

/** Parses a comma-separated task list (`--tasks passkey,ruler-vt`), checking every name. */
export function parseTaskList(spec: string): Task[] {
  const names = spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) throw new KvError(`--tasks is empty; name at least one task (kvmerger eval --help lists them)`);
  return names.map(getTask);
}

/** One line per task: name, description, options with defaults (for --help and reports). */
export function describeTasks(): string {
  return listTasks()
    .map((t) => {
      const opts = t.options.map((o) => `${o.name}${o.default !== undefined ? `=${String(o.default)}` : ''}`).join(', ');
      return `  ${t.name.padEnd(30)} ${t.description}${opts ? ` [options: ${opts}]` : ''}`;
    })
    .join('\n');
}
