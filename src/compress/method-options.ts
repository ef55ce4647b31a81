import { KvError } from '../util/errors.js';

/** A resolved option value. */
export type OptionValue = string | number;

/** Options after parsing and defaulting: every option of the method has a value. */
export type ResolvedOptions = Record<string, OptionValue>;

/**
 * One option of a method, as `kvmerger methods` lists it and `--method-option name=value` parses it.
 * - `enum`: one of `values`;
 * - `number` / `integer`: a number within [min, max] (`minExclusive` makes the lower bound strict);
 * - `enumOrNumber`: one of `values`, or a number within the bounds (KVMerger's `sigma`).
 * `default: 'auto'` means the method derives the value (e.g. from the budget) when the user gives none.
 */
export interface OptionSpec {
  name: string;
  type: 'enum' | 'number' | 'integer' | 'enumOrNumber';
  values?: readonly string[];
  min?: number;
  max?: number;
  minExclusive?: boolean;
  default: OptionValue;
  description: string;
}

/** The one-line type of an option, for errors and listings: "meanDistance, rmsDistance or a positive number". */
export function describeOptionType(spec: OptionSpec): string {
  const words = (spec.values ?? []).slice();
  const num = numberWords(spec);
  if (spec.type === 'enum') return orList(words);
  if (spec.type === 'enumOrNumber') return orList([...words, num]);
  return num;
}

function numberWords(spec: OptionSpec): string {
  const kind = spec.type === 'integer' ? 'an integer' : 'a number';
  if (spec.min === 0 && spec.minExclusive && spec.max === undefined) return spec.type === 'integer' ? 'a positive integer' : 'a positive number';
  const lo = spec.min === undefined ? undefined : `${spec.minExclusive ? '>' : '≥'} ${spec.min}`;
  const hi = spec.max === undefined ? undefined : `≤ ${spec.max}`;
  if (lo && hi) return `${kind} ${spec.minExclusive ? '>' : '≥'} ${spec.min} and ${hi}`;
  if (lo) return `${kind} ${lo}`;
  if (hi) return `${kind} ${hi}`;
  return kind;
}

function orList(words: string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** Parse and check one value against its spec; throws KvError naming the option and the allowed values. */
export function parseOptionValue(spec: OptionSpec, raw: OptionValue): OptionValue {
  const fail = (): never => {
    throw new KvError(`option ${spec.name} expects ${describeOptionType(spec)}; got '${String(raw)}'`);
  };
  if ((spec.type === 'enum' || spec.type === 'enumOrNumber') && typeof raw === 'string' && spec.values?.includes(raw)) return raw;
  if (spec.type === 'enum') return fail();
  const text = String(raw).trim();
  if (text === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return fail();
  const x = Number(text);
  if (!Number.isFinite(x)) return fail();
  if (spec.type === 'integer' && !Number.isInteger(x)) return fail();
  if (spec.min !== undefined && (spec.minExclusive ? x <= spec.min : x < spec.min)) return fail();
  if (spec.max !== undefined && x > spec.max) return fail();
  return x;
}

/**
 * Parse a method's options: `key=value` strings from the command line (`--method-option`, repeatable) or an object
 * from the library. Unknown names, malformed pairs, repeated names and ill-typed values throw KvError. Every option
 * missing from the input gets its default (`'auto'` stays `'auto'` until the method resolves it).
 */
export function parseMethodOptions(
  method: string,
  specs: readonly OptionSpec[],
  input: readonly string[] | Readonly<Record<string, OptionValue>> = [],
): ResolvedOptions {
  const pairs: [string, OptionValue][] = [];
  if (Array.isArray(input)) {
    for (const item of input as readonly string[]) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new KvError(`--method-option '${item}' must be name=value (e.g. epsilon=0.8); see 'kvmerger methods'`);
      pairs.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()]);
    }
  } else {
    for (const [k, v] of Object.entries(input as Record<string, OptionValue>)) pairs.push([k, v]);
  }
  const out: ResolvedOptions = {};
  const given = new Set<string>();
  for (const [name, raw] of pairs) {
    const spec = specs.find((s) => s.name === name);
    if (!spec) {
      const names = specs.map((s) => s.name);
      throw new KvError(`unknown option '${name}' for method ${method}; options: ${names.length ? names.join(', ') : '(none)'}`);
    }
    if (given.has(name)) throw new KvError(`option ${name} given twice for method ${method}; give it once`);
    given.add(name);
    out[name] = parseOptionValue(spec, raw);
  }
  for (const spec of specs) if (!(spec.name in out)) out[spec.name] = spec.default;
  return out;
}

/** Shared option specs of score-based methods. */
export const GQA_REDUCE_OPTION: OptionSpec = {
  name: 'gqaReduce',
  type: 'enum',
  values: ['mean', 'max', 'sum'],
  default: 'mean',
  description: 'how the attention of the query heads that share a KV head is combined',
};

export const SCORES_OPTION: OptionSpec = {
  name: 'scores',
  type: 'enum',
  values: ['all', 'window'],
  default: 'all',
  description: 'attention statistic: column sums over all prompt queries, or over the last `window` queries',
};

export const WINDOW_OPTION: OptionSpec = {
  name: 'window',
  type: 'integer',
  min: 1,
  default: 32,
  description: 'observation window: number of last prompt queries behind the `window` statistic',
};
