import { KvError } from './errors.js';
import { didYouMean } from './suggest.js';

/**
 * Options declared once, for compression methods (src/compress/method-options.ts) and evaluation tasks
 * (src/eval/tasks/task-options.ts) alike. A declaration (`{ name: option.enum(...), ... }`) gives at the same time
 * - the listing (`specs`: name, type, values or bounds, default, description) that `kvmerger methods`,
 *   `kvmerger eval --help` and the docs' tables print,
 * - the parser of `name=value` strings and of library objects, with the errors a user reads (an unknown name lists
 *   the known ones, a value out of range names the range),
 * - the TypeScript type of the parsed options (`OptionsOf<typeof DECLARATION>`), which the owner's code reads
 *   without casts and the library user sees.
 * It lives in util/ because both compress/ and eval/ use it and tasks must not depend on the compression code.
 * No schema library: the declaration must also drive the listing and the exact error lines, which zod or valibot
 * would need their own introspection and message mapping for; the whole mechanism is this file (docs/methods.md).
 */

/** A parsed option value. */
export type OptionValue = string | number | boolean;

/**
 * One declared option, as listings print it and the parser checks it.
 * - `enum`: one of `values`;
 * - `number` / `integer`: a number within [min, max] (`minExclusive` makes the lower bound strict);
 * - `enumOrNumber`: one of `values`, or a number within the bounds (KVMerger's `sigma`);
 * - `string`: any text (a file or folder, say);
 * - `boolean`: true or false.
 * `default: 'auto'` means the owner derives the value (e.g. from the budget) when the user gives none; no default at
 * all (string options only) means the option is absent unless given, and the owner has its own fallback.
 */
export interface OptionSpec {
  name: string;
  type: 'enum' | 'number' | 'integer' | 'enumOrNumber' | 'string' | 'boolean';
  values?: readonly string[];
  min?: number;
  max?: number;
  minExclusive?: boolean;
  default?: OptionValue;
  description: string;
}

/** An option declared without its name (the name is its key in the declaration); `T` is its value's type. */
export interface OptionDecl<T extends OptionValue | undefined> {
  readonly spec: Omit<OptionSpec, 'name'>;
  /** Type marker only (never set). */
  readonly valueType?: T;
}

interface Bounds {
  min?: number;
  max?: number;
  minExclusive?: boolean;
}

function bounds(o: Bounds): Bounds {
  return { ...(o.min !== undefined ? { min: o.min } : {}), ...(o.max !== undefined ? { max: o.max } : {}), ...(o.minExclusive ? { minExclusive: true } : {}) };
}

function text(o: { default: string; description: string }): OptionDecl<string>;
function text(o: { description: string }): OptionDecl<string | undefined>;
function text(o: { default?: string; description: string }): OptionDecl<string | undefined> {
  return { spec: { type: 'string', ...(o.default !== undefined ? { default: o.default } : {}), description: o.description } };
}

/** The option kinds. `description` is the one line the listings print. */
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
  /** Free text; without a default the option is absent (undefined) unless given. */
  string: text,
  boolean(o: { default: boolean; description: string }): OptionDecl<boolean> {
    return { spec: { type: 'boolean', default: o.default, description: o.description } };
  },
};

export type OptionDecls = Readonly<Record<string, OptionDecl<OptionValue | undefined>>>;

/** The parsed options a declaration describes: `{ name: value type }`. */
export type OptionsOf<D extends OptionDecls> = { -readonly [K in keyof D]: D[K] extends OptionDecl<infer T> ? T : never };

/** What an owner may be given: `name=value` strings (the command line) or an object (the library). */
export type OptionsInput = readonly string[] | Readonly<Record<string, OptionValue>>;

/** Who owns a set of options, for the error messages. */
export interface OptionOwner {
  /** How messages name the owner: `method h2o`, `task 'niah'`. */
  readonly label: string;
  /** The message for a `name=value` string without its `=`: each owner has its own flag and example. */
  malformed(item: string): string;
  /** Whether a bad value's message names the owner too (a task's `key=value` may reach several tasks). */
  readonly nameInValueErrors: boolean;
}

/** A declaration's listing and its typed parser (methods and tasks wrap it to name their owner by a string). */
export interface DeclaredOptions<O> {
  /** In declaration order, for the listings and the docs. */
  readonly specs: readonly OptionSpec[];
  /** Parse `name=value` strings or a library object; missing options get their defaults. KvError on bad input. */
  parse(owner: OptionOwner, input?: OptionsInput): O;
}

/** Declare a set of options (key order is the listing order). */
export function declareOptions<const D extends OptionDecls>(decls: D): DeclaredOptions<OptionsOf<D>> {
  const specs: OptionSpec[] = Object.entries(decls).map(([name, d]) => ({ name, ...d.spec }));
  return {
    specs,
    // The one place the untyped parse meets the declared type: parseDeclaredOptions checked every value against
    // the very specs this type is derived from.
    parse: (owner, input) => parseDeclaredOptions(owner, specs, input) as OptionsOf<D>,
  };
}

/** The one-line type of an option, for errors and listings: "meanDistance, rmsDistance or a positive number". */
export function describeOptionType(spec: OptionSpec): string {
  if (spec.type === 'string') return 'text';
  if (spec.type === 'boolean') return 'true or false';
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

/**
 * Parse and check one value against its spec; throws KvError naming the option (and `owner`, when given) and the
 * allowed values.
 */
export function parseOptionValue(spec: OptionSpec, raw: OptionValue, owner?: string): OptionValue {
  const fail = (): never => {
    throw new KvError(`option ${spec.name}${owner ? ` of ${owner}` : ''} expects ${describeOptionType(spec)}; got '${String(raw)}'`);
  };
  if (spec.type === 'string') return typeof raw === 'boolean' ? fail() : String(raw);
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    return fail();
  }
  if ((spec.type === 'enum' || spec.type === 'enumOrNumber') && typeof raw === 'string' && spec.values?.includes(raw)) return raw;
  if (spec.type === 'enum' || typeof raw === 'boolean') return fail();
  const t = String(raw).trim();
  if (t === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return fail();
  const x = Number(t);
  if (!Number.isFinite(x)) return fail();
  if (spec.type === 'integer' && !Number.isInteger(x)) return fail();
  if (spec.min !== undefined && (spec.minExclusive ? x <= spec.min : x < spec.min)) return fail();
  if (spec.max !== undefined && x > spec.max) return fail();
  return x;
}

/**
 * Parse options against their specs: `name=value` strings (the command line) or an object (the library). Unknown
 * names, malformed pairs, repeated names and ill-typed values throw KvError. Every option missing from the input
 * gets its default (`'auto'` stays `'auto'` until the owner resolves it); one without a default stays absent.
 * (`DeclaredOptions.parse` is the typed form; this one serves callers that hold only a listing.)
 */
export function parseDeclaredOptions(owner: OptionOwner, specs: readonly OptionSpec[], input: OptionsInput = []): Record<string, OptionValue> {
  const pairs: [string, OptionValue][] = [];
  if (Array.isArray(input)) {
    for (const item of input as readonly string[]) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new KvError(owner.malformed(item));
      pairs.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()]);
    }
  } else {
    for (const [k, v] of Object.entries(input as Readonly<Record<string, OptionValue>>)) pairs.push([k, v]);
  }
  const out: Record<string, OptionValue> = {};
  const given = new Set<string>();
  for (const [name, raw] of pairs) {
    const spec = specs.find((s) => s.name === name);
    if (!spec) {
      const names = specs.map((s) => s.name);
      throw new KvError(`unknown option '${name}' for ${owner.label}${didYouMean(name, names)}; options: ${names.length ? names.join(', ') : '(none)'}`);
    }
    if (given.has(name)) throw new KvError(`option ${name} given twice for ${owner.label}; give it once`);
    given.add(name);
    out[name] = parseOptionValue(spec, raw, owner.nameInValueErrors ? owner.label : undefined);
  }
  for (const spec of specs) if (!(spec.name in out) && spec.default !== undefined) out[spec.name] = spec.default;
  return out;
}
