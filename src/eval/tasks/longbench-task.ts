/**
 * LongBench (THUDM/LongBench) from its original JSONL files in a folder the user names (`dir` option; default
 * `<data>/longbench`), with LongBench's own configuration (`<dir>/config/dataset2prompt.json`,
 * `dataset2maxlen.json`; or `config=DIR`). As LongBench's pred.py does:
 *
 * - the prompt is `dataset2prompt[dataset]` formatted with the row's fields ({context}, {input});
 * - a prompt longer than L tokens keeps its first ⌊L/2⌋ and last ⌊L/2⌋ tokens, each half decoded separately and the
 *   two texts concatenated (L plays the role of model2maxlen, e.g. 3500 for a 4k model);
 * - up to `dataset2maxlen[dataset]` new tokens, greedy; samsum also stops at a newline;
 * - `meta.chat` says whether LongBench would wrap the prompt in the model's chat template (all datasets but trec,
 *   triviaqa, samsum, lsht, lcc, repobench-p). For those, when the grid passes the model's chat format
 *   (`SampleOptions.chat`: `--chat-template auto` on a model with a template), the truncated prompt is wrapped as
 *   one user message with the assistant's turn opened, as pred.py does for chat models, and `meta.chatTemplate` is
 *   'applied' (else 'none'). Unlike pred.py, the truncation leaves room for the template's own tokens, so the
 *   wrapped prompt is at most L tokens too.
 *
 * Scores with the dataset's metric (longbench-metrics.ts), best over the row's answers, in [0, 1] per sample
 * (LongBench reports the mean × 100).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvError } from '../../util/errors.js';
import { resolveDataRoot } from './data-root.js';
import { parseJsonLines } from './json-lines.js';
import { DATASET_METRIC, longBenchScore } from '../metrics/longbench-metrics.js';
import { encodeChat } from './chat-format.js';
import { encodeContent, type ChatFormat, type EvalTokenizer, type GenerationTask, type Sample, type SampleOptions, type TaskScore } from './task.js';
import { defineTaskOptions } from './task-options.js';
import { option, type OptionsOf } from '../../util/option-declarations.js';

export interface LongBenchRow {
  input: string;
  context: string;
  answers: string[];
  length: number;
  all_classes: string[] | null;
  dataset: string;
  language: string;
  _id: string;
}

export interface LongBenchConfig {
  dataset2prompt: Record<string, string>;
  dataset2maxlen: Record<string, number>;
}

/** Datasets that pred.py never wraps in a chat template (few-shot and code). */
export const NO_CHAT_DATASETS: readonly string[] = ['trec', 'triviaqa', 'samsum', 'lsht', 'lcc', 'repobench-p'];

export const DEFAULT_LONGBENCH_LENGTHS = [3500];

function readJson(file: string, what: string): unknown {
  if (!existsSync(file)) throw new KvError(`${file} not found: LongBench needs ${what}; pass config=DIR (LongBench's config/ folder)`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new KvError(`${file}: not valid JSON (${(e as Error).message}); restore it from LongBench's config/ folder`);
  }
}

export function loadLongBenchConfig(configDir: string): LongBenchConfig {
  return {
    dataset2prompt: readJson(join(configDir, 'dataset2prompt.json'), 'the prompt templates') as Record<string, string>,
    dataset2maxlen: readJson(join(configDir, 'dataset2maxlen.json'), 'the answer lengths') as Record<string, number>,
  };
}

/** Parses a LongBench JSONL file, checking the fields scoring needs. */
export function parseLongBenchJsonl(text: string, file: string): LongBenchRow[] {
  const rows: LongBenchRow[] = [];
  for (const { value, where } of parseJsonLines(text, file, 'one LongBench row')) {
    const o = value as Partial<LongBenchRow>;
    if (typeof o.context !== 'string' || typeof o.input !== 'string' || !Array.isArray(o.answers)) {
      throw new KvError(`${where}: a LongBench row needs 'context', 'input' (strings) and 'answers' (a list)`);
    }
    rows.push({
      input: o.input,
      context: o.context,
      answers: o.answers.map(String),
      length: typeof o.length === 'number' ? o.length : 0,
      all_classes: Array.isArray(o.all_classes) ? o.all_classes.map(String) : null,
      dataset: typeof o.dataset === 'string' ? o.dataset : '',
      language: typeof o.language === 'string' ? o.language : '',
      _id: typeof o._id === 'string' ? o._id : String(rows.length),
    });
  }
  return rows;
}

/** Python's `template.format(**row)` for LongBench's templates: {name} replaced by the row's field, in one pass. */
export function formatLongBenchPrompt(template: string, row: LongBenchRow, where = 'dataset2prompt'): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = (row as unknown as Record<string, unknown>)[name];
    if (v === undefined) throw new KvError(`${where}: the template uses {${name}}, which LongBench rows do not have`);
    return String(v);
  });
}

/** pred.py's middle truncation: over `maxLength` tokens, keep the first and last ⌊maxLength/2⌋ tokens. */
export function truncateMiddle(prompt: string, tokenizer: EvalTokenizer, maxLength: number): string {
  const ids = encodeContent(tokenizer, prompt);
  if (ids.length <= maxLength) return prompt;
  const half = Math.floor(maxLength / 2);
  return tokenizer.decode(ids.slice(0, half)) + tokenizer.decode(ids.slice(ids.length - half));
}

/** A LongBench prompt as the model gets it: the text, and its ids when a chat template was applied. */
export interface LongBenchPrompt {
  prompt: string;
  /** Present when wrapped in a chat template (its special tokens parsed). */
  promptIds?: number[];
  /** Content tokens (no BOS). */
  tokens: number;
}

/**
 * The prompt of at most `maxLength` tokens: pred.py's middle truncation, then (with `chat`) the chat wrapping. The
 * truncation limit is `maxLength` less the template's tokens around an empty message, lowered further if the
 * wrapped text still tokenises longer (token boundaries at the seams), so the final prompt always fits.
 */
export function buildLongBenchPrompt(raw: string, tokenizer: EvalTokenizer, maxLength: number, chat?: ChatFormat): LongBenchPrompt {
  if (!chat) {
    const prompt = truncateMiddle(raw, tokenizer, maxLength);
    return { prompt, tokens: encodeContent(tokenizer, prompt).length };
  }
  const overhead = encodeChat(tokenizer, chat.render('')).length;
  let limit = maxLength - overhead;
  for (let attempt = 0; attempt < 16; attempt++) {
    if (limit < 2) break;
    const prompt = chat.render(truncateMiddle(raw, tokenizer, limit));
    const ids = encodeChat(tokenizer, prompt);
    if (ids.length <= maxLength) return { prompt, promptIds: ids, tokens: ids.length };
    limit -= ids.length - maxLength;
  }
  throw new KvError(
    `length ${maxLength}: the model's chat template takes ${overhead} tokens around the prompt, leaving too little of the LongBench prompt; use larger --lengths or --chat-template none`,
  );
}

const LONGBENCH_DECL = {
  dir: option.string({ description: "folder with the dataset's JSONL file, e.g. qasper.jsonl (default: <data>/longbench)" }),
  config: option.string({ description: "folder with LongBench's dataset2prompt.json and dataset2maxlen.json (default: <dir>/config)" }),
} as const;

/** The options of every `longbench-<dataset>` task, as the library passes them. */
export type LongBenchOptions = OptionsOf<typeof LONGBENCH_DECL>;

const LONGBENCH_OPTIONS = defineTaskOptions(LONGBENCH_DECL);

export function createLongBenchTask(dataset: string): GenerationTask {
  if (DATASET_METRIC[dataset] === undefined) {
    throw new KvError(`unknown LongBench dataset '${dataset}'; known: ${Object.keys(DATASET_METRIC).join(', ')}`);
  }
  const name = `longbench-${dataset}`;
  const options = LONGBENCH_OPTIONS;
  return {
    kind: 'generate',
    name,
    description: `LongBench ${dataset} (${DATASET_METRIC[dataset]}); prompt middle-truncated to L tokens`,
    options: options.specs,
    defaultLengths: DEFAULT_LONGBENCH_LENGTHS,
    samples(opts: SampleOptions): Sample[] {
      const o = options.parse(name, opts.options);
      const dir = o.dir ?? join(resolveDataRoot(opts.dataRoot, `task '${name}'`), 'longbench');
      const file = join(dir, `${dataset}.jsonl`);
      if (!existsSync(file)) throw new KvError(`${file} not found: task '${name}' needs LongBench's ${dataset}.jsonl; pass dir=FOLDER`);
      const cfg = loadLongBenchConfig(o.config ?? join(dir, 'config'));
      const template = cfg.dataset2prompt[dataset];
      const maxNew = cfg.dataset2maxlen[dataset];
      if (typeof template !== 'string' || typeof maxNew !== 'number') {
        throw new KvError(`LongBench config has no prompt or max length for '${dataset}'; check dataset2prompt.json and dataset2maxlen.json`);
      }
      const rows = parseLongBenchJsonl(readFileSync(file, 'utf8'), file);
      const n = opts.count === undefined || opts.count === 0 ? rows.length : Math.min(opts.count, rows.length);
      const chatDataset = !NO_CHAT_DATASETS.includes(dataset);
      const chatFormat = chatDataset ? opts.chat : undefined;
      const out: Sample[] = [];
      for (const L of opts.lengths ?? DEFAULT_LONGBENCH_LENGTHS) {
        if (!(Number.isInteger(L) && L >= 2)) throw new KvError(`length ${L} is not a usable token limit (an integer ≥ 2)`);
        for (const row of rows.slice(0, n)) {
          const built = buildLongBenchPrompt(formatLongBenchPrompt(template, row), opts.tokenizer, L, chatFormat);
          out.push({
            id: `L=${L}/${row._id}`,
            task: name,
            mode: 'generate',
            prompt: built.prompt,
            ...(built.promptIds ? { promptIds: built.promptIds } : {}),
            answers: row.answers,
            maxNewTokens: maxNew,
            ...(dataset === 'samsum' ? { stop: ['\n'] } : {}),
            contextLength: L,
            promptTokens: built.tokens,
            meta: {
              dataset,
              language: row.language,
              originalLength: row.length,
              chat: chatDataset,
              ...(chatDataset ? { chatTemplate: chatFormat ? 'applied' : 'none' } : {}),
              ...(row.all_classes ? { allClasses: JSON.stringify(row.all_classes) } : {}),
            },
          });
        }
      }
      return out;
    },
    score(sample: Sample, output: string): TaskScore {
      const classes = typeof sample.meta.allClasses === 'string' ? (JSON.parse(sample.meta.allClasses) as string[]) : [];
      return { score: longBenchScore(dataset, output, sample.answers, classes), metrics: {} };
    },
  };
}
