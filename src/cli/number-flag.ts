import { KvError } from '../util/errors.js';

/**
 * A numeric option's value (`name` without the dashes): undefined when it is absent, a KvError naming the option
 * when it is not a finite number (or, with `integer`, not an integer).
 */
export function parseNumberFlag(name: string, value: string | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new KvError(`--${name} must be ${integer ? 'an integer' : 'a number'} (got '${value}')`);
  }
  return v;
}
