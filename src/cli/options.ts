/**
 * The command line's one vocabulary: the option table every command parses with, the options several commands
 * share (one name per concept, llama.cpp's short spellings, old spellings as hidden aliases), and the parser.
 *
 * A command declares its options as a table and parses with `parseOptions`:
 *
 *   const OPTIONS = { ...MODEL_OPTIONS, ...OUTPUT_OPTIONS, out: OUT, foo: { type: 'string' } } satisfies OptionTable;
 *   const { values, positionals } = parseOptions('mycommand', argv, OPTIONS, { positionals: 1 });
 *   values.model      // string | undefined (also set by -m FILE)
 *
 * What the parser does, unlike node's util.parseArgs:
 * - A string option always takes the next argument as its value, also one that starts with '-' (`--temperature -1`
 *   reaches the option's own range check), unless that argument is itself an option of the command, which is an
 *   error naming `--name=VALUE` as the way to pass such a value.
 * - Aliases (`aliases`, `short`) set the canonical name; `values` only has canonical names.
 * - An unknown option is a KvError with the closest names ("did you mean --temperature?").
 * - `--` ends the options; everything after it is positional.
 * Every error is a KvError of one line, so `kvmerger` prints it without a stack trace.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { KvError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';

export { closest, didYouMean, editDistance } from '../util/suggest.js';

export interface OptionSpec {
  /** 'string': takes a value (`--name VALUE` or `--name=VALUE`); 'boolean': a switch. */
  readonly type: 'string' | 'boolean';
  /** One letter: `-m FILE`. */
  readonly short?: string;
  /** Other long spellings accepted and not shown in --help (old names, llama.cpp's names). */
  readonly aliases?: readonly string[];
  /** Repeatable; the values come as an array in the order given. */
  readonly multiple?: boolean;
  /** Internal (e.g. bench's --worker): not in --help, not suggested. */
  readonly hidden?: boolean;
}

export type OptionTable = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean' ? boolean : S['multiple'] extends true ? string[] : string;

/** The parsed options: canonical names only; absent options are undefined. */
export type OptionValues<T extends OptionTable> = { -readonly [K in keyof T]?: ValueOf<T[K]> };

// ---- the shared options ----

/** --model FILE (-m), --tokenizer FILE, --backend ort|reference, --threads N (-t): every command that runs a model. */
export const MODEL_OPTIONS = {
  model: { type: 'string', short: 'm' },
  tokenizer: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string', short: 't', aliases: ['n-threads'] },
  precision: { type: 'string' },
  'kv-type': { type: 'string' },
} as const satisfies OptionTable;

/**
 * --quantize q8_0|q4_0|q4_k_m: a Hugging Face folder's matrices quantised as they load (the commands that load a model
 * through src/cli/model-args.ts: generate, chat, serve, demo, analyze, eval, reproduce; and info).
 */
export const QUANTIZE_OPTION = { quantize: { type: 'string' } } as const satisfies OptionTable;

/** The --help lines of the model options of the commands that run one model session (generate, chat, serve). */
export const SESSION_MODEL_HELP = `  -m, --model FILE          GGUF file or llama2.c checkpoint (.bin); default: the built-in model
  --tokenizer FILE          instead of the model's own: tokenizer.bin, tokenizer.json or GGUF
  --backend ort|reference   ort: onnxruntime (default); reference: plain TypeScript, exact and slow
  -t, --threads N           onnxruntime threads (default: onnxruntime's own choice)
  --precision int8|fp32     products with quantised weights: int8 (default, as llama.cpp) or fp32
  --kv-type f16|f32         how the KV cache stores keys and values (default f16, as llama.cpp)
  --quantize q8_0|q4_0|q4_k_m  a Hugging Face folder's weights quantised as they load
  -c, --ctx-size N          use at most N tokens of context (default: the model's context length)
  The first load of a model file compiles it into ~/.cache/kvmerger/onnx, which later loads map (less memory, no
  repacking); KVMERGER_ONNX_CACHE=DIR moves that folder, KVMERGER_ONNX_CACHE=off turns it off.`;

/** --json (one JSON document on stdout) and --quiet (nothing on stderr but errors): every command. */
export const OUTPUT_OPTIONS = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const satisfies OptionTable;

/** --prompt TEXT (-p; tokenize's old --text) and --prompt-file FILE (-f; '-' is stdin; old --text-file). */
export const PROMPT_OPTIONS = {
  prompt: { type: 'string', short: 'p', aliases: ['text'] },
  'prompt-file': { type: 'string', short: 'f', aliases: ['file', 'text-file'] },
} as const satisfies OptionTable;

/** --seed S (-s). */
export const SEED_OPTION = { seed: { type: 'string', short: 's' } } as const satisfies OptionTable;
/** --data DIR: the offline data folder. */
export const DATA_OPTION = { data: { type: 'string' } } as const satisfies OptionTable;
/** --out DIR (-o). */
export const OUT_OPTION = { out: { type: 'string', short: 'o' } } as const satisfies OptionTable;
/** --chunk-size N: prompt tokens per forward pass (llama.cpp's -b / --batch-size; bench's old --chunk). */
export const CHUNK_OPTION = { 'chunk-size': { type: 'string', short: 'b', aliases: ['chunk', 'batch-size'] } } as const satisfies OptionTable;
/** --length N: one prompt length in tokens (--lengths with one value, and analyze's old --tokens, also work). */
export const LENGTH_OPTION = { length: { type: 'string', aliases: ['lengths', 'tokens'] } } as const satisfies OptionTable;
/** --lengths LIST: prompt lengths of a grid (--length also works). */
export const LENGTHS_OPTION = { lengths: { type: 'string', aliases: ['length'] } } as const satisfies OptionTable;

/**
 * The grid commands' (eval, reproduce, demo) methods and budgets: --methods LIST, --budgets LIST (--method and
 * --budget with one value also work), --method-option [M.]K=V (repeatable).
 */
export const GRID_OPTIONS = {
  methods: { type: 'string', aliases: ['method'] },
  budgets: { type: 'string', aliases: ['budget'] },
  'method-option': { type: 'string', multiple: true },
} as const satisfies OptionTable;

// ---- parsing ----

interface Lookup {
  name: string;
  spec: OptionSpec;
}

function lookupTable(table: OptionTable): Map<string, Lookup> {
  const byFlag = new Map<string, Lookup>();
  const add = (flag: string, name: string, spec: OptionSpec) => {
    if (byFlag.has(flag)) throw new Error(`option table: ${flag} is declared twice`);
    byFlag.set(flag, { name, spec });
  };
  for (const [name, spec] of Object.entries(table)) {
    add(`--${name}`, name, spec);
    for (const a of spec.aliases ?? []) add(`--${a}`, name, spec);
    if (spec.short !== undefined) add(`-${spec.short}`, name, spec);
  }
  return byFlag;
}

/** An option the command does not take; `flag` as typed (`--data`), `hint` the did-you-mean part ('' when none). */
export class UnknownOptionError extends KvError {
  constructor(
    readonly command: string,
    readonly flag: string,
    readonly hint: string,
  ) {
    super(`unknown option '${flag}'${hint}; run 'kvmerger ${command} --help' for its options`);
  }
}

export interface ParseSettings {
  /** How many positional arguments the command takes: a number (at most that many) or 'any'. Default 0. */
  positionals?: number | 'any';
  /** What the positionals are, for the error message (e.g. 'one folder'). */
  positionalsName?: string;
}

/** Parses `argv` against `table`. KvError (one line, naming the command's --help) on anything it cannot use. */
export function parseOptions<T extends OptionTable>(command: string, argv: readonly string[], table: T, settings: ParseSettings = {}): { values: OptionValues<T>; positionals: string[] } {
  const byFlag = lookupTable(table);
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const helpHint = `run 'kvmerger ${command} --help' for its options`;
  const isOption = (arg: string) => byFlag.has(arg.includes('=') && arg.startsWith('--') ? arg.slice(0, arg.indexOf('=')) : arg);
  const visible = Object.entries(table)
    .filter(([, spec]) => !spec.hidden)
    .map(([n]) => `--${n}`);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const found = byFlag.get(flag);
    if (!found) {
      const all = [...byFlag.entries()].filter(([f, l]) => f.startsWith('--') && !l.spec.hidden).map(([f]) => f);
      // suggest the shown names first; an alias only when it is the only close one
      const hint = didYouMean(flag, visible) || didYouMean(flag, all);
      throw new UnknownOptionError(command, flag, hint);
    }
    const { name, spec } = found;
    let value: string | boolean;
    if (spec.type === 'boolean') {
      if (eq > 0) throw new KvError(`${flag} takes no value (got '${arg}'); ${helpHint}`);
      value = true;
    } else if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new KvError(`${flag} needs a value; ${helpHint}`);
      if (isOption(next) || next === '--help' || next === '-h') {
        throw new KvError(`${flag} needs a value, but '${next}' follows it (an option); to pass a value that starts with '-', write --${name}=${next}`);
      }
      value = next;
      i++;
    }
    if (spec.multiple) values[name] = [...((values[name] as string[] | undefined) ?? []), value as string];
    else values[name] = value;
  }
  const allowed = settings.positionals ?? 0;
  if (allowed !== 'any' && positionals.length > allowed) {
    const extra = positionals[allowed]!;
    const what = allowed === 0 ? 'takes no arguments' : `takes ${settings.positionalsName ?? `at most ${allowed} argument(s)`}`;
    const asCommand = /^[a-z][a-z-]*$/.test(extra) && byFlag.has(`--${extra}`) ? `; did you mean --${extra}?` : '';
    throw new KvError(`${command}: unexpected argument '${extra}' (${command} ${what}; options start with --)${asCommand}; ${helpHint}`);
  }
  return { values: values as OptionValues<T>, positionals };
}

// ---- values ----

/**
 * A numeric option: undefined when absent; a KvError naming the option when it is not a number, not an integer
 * (`integer`), or outside [min, max].
 */
export function numberOption(flag: string, value: string | undefined, o: { integer?: boolean; min?: number; max?: number; minExclusive?: boolean } = {}): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  const kind = o.integer ? 'an integer' : 'a number';
  const range =
    o.min !== undefined && o.max !== undefined
      ? ` in ${o.minExclusive ? '(' : '['}${o.min}, ${o.max}]`
      : o.min !== undefined
        ? ` ${o.minExclusive ? '>' : '≥'} ${o.min}`
        : o.max !== undefined
          ? ` ≤ ${o.max}`
          : '';
  if (value.trim() === '' || !Number.isFinite(v) || (o.integer && !Number.isInteger(v))) throw new KvError(`--${flag} must be ${kind}${range} (got '${value}')`);
  if (o.min !== undefined && (o.minExclusive ? v <= o.min : v < o.min)) throw new KvError(`--${flag} must be ${kind}${range} (got ${value})`);
  if (o.max !== undefined && v > o.max) throw new KvError(`--${flag} must be ${kind}${range} (got ${value})`);
  return v;
}

/** One of `choices`, or a KvError listing them (with a did-you-mean). */
export function choiceOption<C extends string>(flag: string, value: string | undefined, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as C;
  const q = choices.map((c) => `'${c}'`);
  const list = q.length <= 2 ? q.join(' or ') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
  throw new KvError(`--${flag} must be ${list} (got '${value}')${didYouMean(value, choices)}`);
}

/** The text of a file option; '-' reads stdin. KvError naming the option when it cannot be read. */
export function readTextOption(flag: string, path: string): string {
  let fd: number | undefined;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
    // Read in pieces up to a cap: /dev/zero or an endless pipe is one line, not a hang or an out-of-memory abort.
    const pieces: Buffer[] = [];
    let total = 0;
    const piece = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, piece, 0, piece.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); // non-blocking stdin: wait for data
        continue;
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_TEXT_BYTES) {
        throw new KvError(`--${flag} ${path}: more than ${MAX_TEXT_BYTES >> 20} MiB of text, far more than any context holds; pass a shorter text`);
      }
      pieces.push(Buffer.from(piece.subarray(0, n)));
    }
    return Buffer.concat(pieces, total).toString('utf8');
  } catch (err) {
    if (err instanceof KvError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; check the path' : (code ?? (err as Error).message);
    throw new KvError(`--${flag} ${path}: cannot read it (${why})`);
  } finally {
    if (fd !== undefined && fd !== 0) closeSync(fd);
  }
}

/** The most text a --prompt-file (or stdin) may hold: 64 MiB, some 16 million tokens. */
const MAX_TEXT_BYTES = 64 << 20;

/**
 * --prompt TEXT or --prompt-file FILE ('-': stdin); undefined when neither is given; a KvError when both are.
 */
export function promptText(values: { prompt?: string; 'prompt-file'?: string }): string | undefined {
  if (values.prompt !== undefined && values['prompt-file'] !== undefined) throw new KvError('give either --prompt or --prompt-file, not both');
  if (values['prompt-file'] !== undefined) return readTextOption('prompt-file', values['prompt-file']);
  return values.prompt;
}

// ---- help text ----

/** Help text and messages fit this many columns. */
export const HELP_WIDTH = 100;

/** `  --model FILE    description`: the column where the description starts, or undefined. */
function descriptionColumn(line: string, width: number): number | undefined {
  const m = /^(\s*\S.*?\s{2,})\S/.exec(line);
  return m && m[1]!.length <= width / 2 ? m[1]!.length : undefined;
}

const indentOf = (line: string) => /^\s*/.exec(line)![0].length;

/** Words of `text` in lines of at most `width`: the first line starts with `first`, the others with `hang` spaces. */
function fill(first: string, text: string, hang: number, width: number): string[] {
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > width) {
      out.push(line);
      line = ' '.repeat(hang) + word;
    } else {
      line += (empty ? '' : ' ') + word;
    }
    empty = false;
  }
  out.push(line);
  return out;
}

/**
 * Fits text to `width` columns. A block that has a line longer than that is refilled at spaces: an option entry
 * (`  --model FILE    description`, with its continuation lines under the description) keeps its description
 * column, a paragraph (lines of one indent) its indent. Other blocks, and lines ending in a backslash (shell
 * examples), are left as they are.
 */
export function wrapText(text: string, width = HELP_WIDTH): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    const line = lines[i]!;
    const col = line.trim() === '' ? undefined : descriptionColumn(line, width);
    const hang = col ?? indentOf(line);
    let j = i + 1;
    if (line.trim() !== '' && !line.endsWith('\\')) {
      // continuation lines: same indent as the description (entry) or the paragraph, not a new entry
      while (j < lines.length && lines[j]!.trim() !== '' && indentOf(lines[j]!) === hang && !lines[j]!.endsWith('\\')) {
        if (col === undefined && descriptionColumn(lines[j]!, width) !== undefined) break;
        j++;
      }
    }
    const block = lines.slice(i, j);
    if (block.every((l) => l.length <= width) || block.some((l) => l.endsWith('\\'))) out.push(...block);
    else {
      const head = col !== undefined ? line.slice(0, col) : ' '.repeat(hang);
      const body = [col !== undefined ? line.slice(col) : line, ...block.slice(1)].join(' ');
      out.push(...fill(head, body, hang, width));
    }
    i = j;
  }
  return out.join('\n');
}
