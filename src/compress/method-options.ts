import { KvError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';

/**
 * Method options, declared once per method. A declaration (`defineOptions({ name: option.enum(...), ... })`) gives
 * at the same time
 * - the listing `kvmerger methods [--json]` prints (`OptionSchema.specs`: name, type, values or bounds, default,
 *   description),
 * - the parser of `--method-option name=value` strings and of library objects, with the errors a user reads
 *   (an unknown name lists the known ones, a value out of range names the range),
 * - the TypeScript type of the parsed options (`OptionsOf<typeof DECLARATION>`), which the method's code reads
 *   without casts and the library user sees (`MethodOptions` in registry.ts).
 * No schema library: the declaration must also drive the listing and the exact error lines, which zod or valibot
 * would need their own introspection and message mapping for; the whole mechanism is this file (docs/methods.md).
 */

/** A resolved option value. */
export type OptionValue = string | number;

/** Options after parsing and defaulting, untyped (the form reports and grids carry): every option has a value. */
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

/** An option declared without its name (the name is its key in the declaration); `T` is its value's type. */
export interface OptionDecl<T extends OptionValue> {
  readonly spec: Omit<OptionSpec, 'name'>;
  /** Type marker only (never set). */
  readonly valueType?: T;
}

interface Bounds {
  min?: number;
  max?: number;
  minExclusive?: boolean;
}

/** The option kinds. `description` is the one line `kvmerger methods` prints. */
export const option = {
  enum<const V extends readonly string[]>(values: V, o: { default: V[number]; description: string }): OptionDecl<V[number]> {
    return { spec: { type: 'enum', values, default: o.default, description: o.description } };
  },
  number(o: Bounds & { default: number; description: string }): OptionDecl<number> {
    return { spec: { type: 'number', ...bounds(o), default: o.default, description: o.description } };
  },
  integer(o: Bounds & { default: number; description: string }): OptionDecl<number> {
    return { spec: { type: 'integer', ...bounds(o), default: o.default, description: o.description } };
  },
  /** One of `values` or a number within the bounds. */
  enumOrNumber<const V extends readonly string[]>(values: V, o: Bounds & { default: V[number] | number; description: string }): OptionDecl<V[number] | number> {
    return { spec: { type: 'enumOrNumber', values, ...bounds(o), default: o.default, description: o.description } };
  },
};

function bounds(o: Bounds): Bounds {
  return { ...(o.min !== undefined ? { min: o.min } : {}), ...(o.max !== undefined ? { max: o.max } : {}), ...(o.minExclusive ? { minExclusive: true } : {}) };
}

export type OptionDecls = Readonly<Record<string, OptionDecl<OptionValue>>>;

/** The parsed options a declaration describes: `{ name: value type }`. */
export type OptionsOf<D extends OptionDecls> = { -readonly [K in keyof D]: D[K] extends OptionDecl<infer T> ? T : never };

/** What a method may be given: any subset of its options, or `--method-option` strings. */
export type OptionsInput<O> = readonly string[] | Readonly<Partial<O>>;

/** A method's options, declared once: their listing and their typed parser. */
export interface OptionSchema<O extends ResolvedOptions> {
  /** In declaration order, for `kvmerger methods` and the docs. */
  readonly specs: readonly OptionSpec[];
  /** Parse `--method-option` strings or a library object; missing options get their defaults. KvError on bad input. */
  parse(method: string, input?: readonly string[] | Readonly<Record<string, OptionValue>>): O;
}

/** Declare a method's options (key order is the listing order). */
export function defineOptions<const D extends OptionDecls>(decls: D): OptionSchema<OptionsOf<D>> {
  const specs: OptionSpec[] = Object.entries(decls).map(([name, d]) => ({ name, ...d.spec }));
  return {
    specs,
    // The one place the untyped parse meets the declared type: parseMethodOptions checked every value against
    // the very specs this type is derived from.
    parse: (method, input) => parseMethodOptions(method, specs, input) as OptionsOf<D>,
  };
}

/** A method without options. */
export const NO_OPTIONS = defineOptions({});

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
 * (`OptionSchema.parse` is the typed form; this one serves callers that hold only a listing.)
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
      throw new KvError(`unknown option '${name}' for method ${method}${didYouMean(name, names)}; options: ${names.length ? names.join(', ') : '(none)'}`);
    }
    if (given.has(name)) throw new KvError(`option ${name} given twice for method ${method}; give it once`);
    given.add(name);
    out[name] = parseOptionValue(spec, raw);
  }
  for (const spec of specs) if (!(spec.name in out)) out[spec.name] = spec.default;
  return out;
}

/** How the attention of the query heads that share a KV head is combined (every method that reads attention). */
export const GQA_REDUCE = {
  gqaReduce: option.enum(['mean', 'max', 'sum'], { default: 'mean', description: 'how the attention of the query heads that share a KV head is combined' }),
} as const;

/** The statistic of score-based methods (kvmerger, h2o, cam): all prompt queries, or the last `window`. */
export const SCORE_SOURCE = {
  scores: option.enum(['all', 'window'], { default: 'all', description: 'attention statistic: column sums over all prompt queries, or over the last `window` queries' }),
  window: option.integer({ min: 1, default: 32, description: 'observation window: number of last prompt queries behind the `window` statistic' }),
} as const;
