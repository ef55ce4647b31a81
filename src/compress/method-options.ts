import {
  declareOptions,
  option,
  parseDeclaredOptions,
  type OptionDecl,
  type OptionOwner,
  type OptionsOf,
  type OptionSpec,
  type OptionValue,
} from '../util/option-declarations.js';

/**
 * Method options, declared once per method with the shared option declarations (src/util/option-declarations.ts,
 * which tasks use too). A method's declaration (`defineOptions({ name: option.enum(...), ... })`) gives the listing
 * `kvmerger methods [--json]` prints and docs/methods.md's tables, the parser of `--method-option name=value` strings
 * and of library objects, and the TypeScript type of the parsed options (`OptionsOf<typeof DECLARATION>`), which
 * the method's code reads without casts and the library user sees (`MethodOptions` in registry.ts). This file adds
 * what is the methods' own: options named by their method in errors, the `--method-option` syntax, and the options
 * several methods share.
 */

export { option, describeOptionType, parseOptionValue } from '../util/option-declarations.js';
export type { OptionDecl, OptionSpec, OptionValue, OptionsOf } from '../util/option-declarations.js';

/**
 * Options after parsing and defaulting, untyped (the form reports and grids carry): every option has a value.
 * Methods declare numbers and words only (`defineMethod` requires its options to fit this type).
 */
export type ResolvedOptions = Record<string, string | number>;

/** What a method may be given: any subset of its options, or `--method-option` strings. */
export type OptionsInput<O> = readonly string[] | Readonly<Partial<O>>;

/** A method's options, declared once: their listing and their typed parser. */
export interface OptionSchema<O> {
  /** In declaration order, for `kvmerger methods` and the docs. */
  readonly specs: readonly OptionSpec[];
  /** Parse `--method-option` strings or a library object; missing options get their defaults. KvError on bad input. */
  parse(method: string, input?: readonly string[] | Readonly<Record<string, OptionValue>>): O;
}

/** How errors name a method's options, and the `--method-option` syntax. */
function methodOwner(method: string): OptionOwner {
  return {
    label: `method ${method}`,
    malformed: (item) => `--method-option '${item}' must be name=value (e.g. epsilon=0.8); see 'kvmerger methods'`,
    nameInValueErrors: false,
  };
}

/** What a method may declare: numbers and words (no free text, no booleans: see ResolvedOptions). */
export type MethodOptionDecls = Readonly<Record<string, OptionDecl<string | number>>>;

/** Declare a method's options (key order is the listing order). */
export function defineOptions<const D extends MethodOptionDecls>(decls: D): OptionSchema<OptionsOf<D>> {
  const declared = declareOptions(decls);
  return { specs: declared.specs, parse: (method, input) => declared.parse(methodOwner(method), input) };
}

/** A method without options. */
export const NO_OPTIONS = defineOptions({});

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
  // A method's specs come from its declaration, whose options are numbers and words (see ResolvedOptions).
  return parseDeclaredOptions(methodOwner(method), specs, input) as ResolvedOptions;
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
