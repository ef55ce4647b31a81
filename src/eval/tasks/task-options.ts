/**
 * Task options, declared once per task with the shared option declarations (src/util/option-declarations.ts, which
 * the compression methods use too): `defineTaskOptions({ k: option.integer(...), ... })` gives the listing
 * (`Task.options`: `kvmerger eval --help`, docs/eval-tasks.md's table), the parser of the values `--task-option`
 * passes (strings) or the library passes (typed values), with errors that name the task, and the parsed options'
 * TypeScript type (`OptionsOf<typeof DECLARATION>`), which the task's code reads without casts.
 */
import {
  declareOptions,
  type OptionDecls,
  type OptionOwner,
  type OptionsOf,
  type OptionSpec,
  type OptionValue,
} from '../../util/option-declarations.js';

/** A task's options, declared once: their listing and their typed parser. */
export interface TaskOptionSchema<O> {
  /** In declaration order: the task's `options`. */
  readonly specs: readonly OptionSpec[];
  /**
   * The options `given` for task `task` (`SampleOptions.options`), defaults filled in, strings from the command line
   * converted; an unknown name or an ill-typed value is a KvError naming the task and the option.
   */
  parse(task: string, given?: Readonly<Record<string, OptionValue>>): O;
}

/** The message for a `--task-option` item without its `=`. */
export function malformedTaskOption(item: string): string {
  return `--task-option '${item}' must be task.name=value or name=value (e.g. fidelity.k=128)`;
}

function taskOwner(task: string): OptionOwner {
  return {
    label: `task '${task}'`,
    malformed: malformedTaskOption,
    // One `--task-option key=value` reaches every task in the grid that has the option.
    nameInValueErrors: true,
  };
}

/** Declare a task's options (key order is the listing order). */
export function defineTaskOptions<const D extends OptionDecls>(decls: D): TaskOptionSchema<OptionsOf<D>> {
  const declared = declareOptions(decls);
  return { specs: declared.specs, parse: (task, given) => declared.parse(taskOwner(task), given ?? {}) };
}

/** A task without options. */
export const NO_TASK_OPTIONS = defineTaskOptions({});
