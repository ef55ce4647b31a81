/** Reads a task's options: defaults filled in, strings from the command line coerced, unknown names rejected. */
import { KvError } from '../../util/errors.js';
import type { TaskOptionSpec, TaskOptionValue } from './task.js';

export function readTaskOptions(
  taskName: string,
  specs: readonly TaskOptionSpec[],
  given: Record<string, TaskOptionValue> | undefined,
): Record<string, TaskOptionValue> {
  const out: Record<string, TaskOptionValue> = {};
  for (const s of specs) if (s.default !== undefined) out[s.name] = s.default;
  for (const [name, raw] of Object.entries(given ?? {})) {
    const spec = specs.find((s) => s.name === name);
    if (!spec) {
      const known = specs.length ? specs.map((s) => s.name).join(', ') : 'none';
      throw new KvError(`task '${taskName}' has no option '${name}'; its options: ${known}`);
    }
    let v: TaskOptionValue = raw;
    if (spec.type === 'number') {
      v = typeof raw === 'number' ? raw : Number(raw);
      if (typeof raw === 'boolean' || !Number.isFinite(v)) {
        throw new KvError(`task '${taskName}' option '${name}': '${String(raw)}' is not a number`);
      }
    } else if (spec.type === 'boolean') {
      if (typeof raw === 'string') {
        if (raw !== 'true' && raw !== 'false') throw new KvError(`task '${taskName}' option '${name}': use true or false`);
        v = raw === 'true';
      } else if (typeof raw !== 'boolean') throw new KvError(`task '${taskName}' option '${name}': use true or false`);
    } else {
      v = String(raw);
      if (spec.choices && !spec.choices.includes(v)) {
        throw new KvError(`task '${taskName}' option '${name}': '${v}' is not one of ${spec.choices.join(', ')}`);
      }
    }
    out[name] = v;
  }
  return out;
}
