/**
 * Pre-generated RULER samples in RULER's JSONL format (one object per line: `index`, `input`, `outputs`, `length`),
 * e.g. `../shared/data/ruler/4096/niah_multikey_3.jsonl` (500 multi-key samples, ≈ 3.2k Llama-3 tokens each). The
 * prompt is used as written (it already ends with the answer prefix); scoring is string_match_all, as RULER scores
 * its needle tasks. `lengths` is ignored: the file fixes the prompts.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { KvError } from '../../util/errors.js';
import { dataPath, resolveDataRoot } from './data-root.js';
import { parseJsonLines } from './json-lines.js';
import { stringMatchAll, stringMatchPart } from '../metrics/ruler-metrics.js';
import { encodeContent, type GenerationTask, type Sample, type SampleOptions, type TaskScore } from './task.js';
import { defineTaskOptions } from './task-options.js';
import { option, type OptionsOf } from '../../util/option-declarations.js';

export interface RulerRow {
  index: number;
  input: string;
  outputs: string[];
  length: number;
}

/** Parses RULER JSONL text; `file` names the source in errors. */
export function parseRulerJsonl(text: string, file: string): RulerRow[] {
  const rows: RulerRow[] = [];
  for (const { value, where } of parseJsonLines(text, file, 'one RULER sample')) {
    const o = value as Partial<RulerRow>;
    if (typeof o.input !== 'string' || !Array.isArray(o.outputs) || !o.outputs.every((x) => typeof x === 'string')) {
      throw new KvError(`${where}: a RULER sample needs 'input' (string) and 'outputs' (list of strings)`);
    }
    rows.push({ index: typeof o.index === 'number' ? o.index : rows.length, input: o.input, outputs: o.outputs, length: typeof o.length === 'number' ? o.length : 0 });
  }
  return rows;
}

const RULER_JSONL_DECL = {
  file: option.string({ default: 'ruler/4096/niah_multikey_3.jsonl', description: 'RULER JSONL file (relative to the data folder, or absolute)' }),
  metric: option.enum(['all', 'part'], { default: 'all', description: "RULER string match: 'all' (needle tasks) or 'part' (QA)" }),
  maxNewTokens: option.integer({ min: 0, minExclusive: true, default: 128, description: 'tokens to generate (RULER: 128 for needle tasks)' }),
} as const;

/** The options of `ruler-jsonl`, as the library passes them. */
export type RulerJsonlOptions = OptionsOf<typeof RULER_JSONL_DECL>;

const OPTIONS = defineTaskOptions(RULER_JSONL_DECL);

export const rulerJsonlTask: GenerationTask = {
  kind: 'generate',
  name: 'ruler-jsonl',
  description: 'pre-generated RULER samples from a JSONL file (default: 4k multi-key needles, Llama-3 lengths); prompts as written',
  options: OPTIONS.specs,
  defaultLengths: [],
  samples(opts: SampleOptions): Sample[] {
    const o = OPTIONS.parse('ruler-jsonl', opts.options);
    const rel = o.file;
    const file = isAbsolute(rel) ? rel : dataPath(resolveDataRoot(opts.dataRoot, "the 'ruler-jsonl' task"), rel, "the 'ruler-jsonl' task");
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new KvError(`${file}: cannot read (${(e as Error).message}); pass file=PATH to a RULER JSONL file`);
    }
    const rows = parseRulerJsonl(text, file);
    const count = opts.count === undefined || opts.count === 0 ? rows.length : Math.min(opts.count, rows.length);
    return rows.slice(0, count).map((r) => {
      const tokens = encodeContent(opts.tokenizer, r.input).length;
      return {
        id: `index=${r.index}`,
        task: 'ruler-jsonl',
        mode: 'generate' as const,
        prompt: r.input,
        answers: r.outputs,
        maxNewTokens: o.maxNewTokens,
        contextLength: tokens + o.maxNewTokens,
        promptTokens: tokens,
        meta: { file: join(rel), metric: o.metric, recordedLength: r.length },
      };
    });
  },
  score(sample: Sample, output: string): TaskScore {
    const f = sample.meta.metric === 'part' ? stringMatchPart : stringMatchAll;
    return { score: f(output, sample.answers), metrics: {} };
  },
};
