/** Parsing helpers shared by the grid commands (eval, reproduce, demo). */
import { basename } from 'node:path';
import { KvError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';
import type { Task, TaskOptionValue } from '../eval/tasks/task.js';
import { malformedTaskOption } from '../eval/tasks/task-options.js';

/** `0.5,0.35` → [0.5, 0.35]; `integers` also rejects non-integers. */
export function parseNumberList(flag: string, spec: string | undefined, integers = false): number[] | undefined {
  if (spec === undefined) return undefined;
  const parts = spec.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new KvError(`${flag} is empty; give a comma-separated list such as ${integers ? '1000,2000' : '0.5,0.35'}`);
  return parts.map((p) => {
    const x = Number(p);
    if (!Number.isFinite(x) || (integers && !Number.isInteger(x))) {
      throw new KvError(`${flag}: '${p}' is not ${integers ? 'an integer' : 'a number'}; give a comma-separated list such as ${integers ? '1000,2000' : '0.5,0.35'}`);
    }
    return x;
  });
}

/** `full, h2o,cam` → ['full', 'h2o', 'cam']; blanks are dropped. */
export function parseNameList(spec: string): string[] {
  return spec.split(',').map((s) => s.trim()).filter(Boolean);
}

export function parseIntFlag(flag: string, spec: string | undefined, fallback: number, min = 0): number {
  if (spec === undefined) return fallback;
  const x = Number(spec);
  if (spec.trim() === '' || !Number.isInteger(x) || x < min) throw new KvError(`${flag} must be an integer ≥ ${min}; got '${spec}'`);
  return x;
}

/**
 * `--task-option task.key=value` (one task) or `key=value` (every task in the grid that has the option) → options
 * per task name. Unknown tasks or options no task has are errors.
 */
export function taskOptionsBy(tasks: Task[], items: readonly string[]): Map<string, Record<string, TaskOptionValue>> {
  const out = new Map<string, Record<string, TaskOptionValue>>();
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new KvError(malformedTaskOption(item));
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    const dot = key.lastIndexOf('.');
    let targets: Task[];
    let name: string;
    if (dot > 0) {
      const t = key.slice(0, dot);
      name = key.slice(dot + 1);
      targets = tasks.filter((x) => x.name === t);
      if (targets.length === 0) throw new KvError(`--task-option '${item}': task '${t}' is not in --tasks; add it or drop the option`);
    } else {
      name = key;
      targets = tasks.filter((x) => x.options.some((o) => o.name === name));
      if (targets.length === 0) {
        const known = [...new Set(tasks.flatMap((x) => x.options.map((o) => o.name)))];
        throw new KvError(`--task-option '${item}': no task in --tasks has an option '${name}'${didYouMean(name, known)}; kvmerger eval --help lists each task's options`);
      }
    }
    for (const t of targets) out.set(t.name, { ...(out.get(t.name) ?? {}), [name]: value });
  }
  return out;
}

/** The model's name in result rows: the file's base name; a folder quantised at load (--quantize) `NAME@TYPE`. */
export function modelName(path: string, quantize?: string): string {
  return quantize === undefined ? basename(path) : `${basename(path)}@${quantize}`;
}

/**
 * Exit at once on Ctrl-C, saying how to resume. Rows are written with one synchronous write each, and a signal
 * handler only runs between JavaScript tasks, so no row is ever half-written by this: only the cell in progress is
 * lost. Returns a function that removes the handler.
 */
export function exitOnInterrupt(out: string, command: string): () => void {
  const handler = () => {
    process.stderr.write(`\n${command}: interrupted; finished cells are in ${out}/results.jsonl; run the same command again to resume\n`);
    process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
