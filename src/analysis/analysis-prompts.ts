/**
 * The prompts the analyses prefill: a held-out Gutenberg passage (the default text of the similarity figures), a
 * user's file, or samples of the laboratory's tasks (Gutenberg prose, needles, RULER-style, LongBench) for the
 * per-layer ratios across tasks. Token ids are content ids; the caller adds BOS (prefill-cache.ts's withBos).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveDataRoot } from '../eval/tasks/data-root.js';
import { haystackTokens, openHaystack, randomParagraphStart } from '../eval/tasks/haystack.js';
import { sampleRng } from '../eval/tasks/seeded-random.js';
import { encodeContent, type EvalTokenizer, type SampleOptions } from '../eval/tasks/task.js';
import { getTask } from '../eval/tasks/registry.js';
import { KvError } from '../util/errors.js';

export interface AnalysisPrompt {
  /** Where it came from: `gutenberg`, a file path, or a task name. */
  source: string;
  /** A stable id within the source (the task's sample id, or `start=<char offset>`). */
  id: string;
  /** Content token ids (no BOS). */
  ids: number[];
}

/**
 * `n` content tokens of held-out Gutenberg prose (the validation books, which no model of the project trains on),
 * starting at a seeded paragraph; `index` picks further passages for the same seed.
 */
export function gutenbergPassage(tokenizer: EvalTokenizer, n: number, seed: number, index = 0, dataRoot?: string): AnalysisPrompt {
  const corpus = openHaystack('gutenberg', dataRoot, 'the default analysis text (a Gutenberg passage; or pass --prompt-file)', 'validation');
  const start = randomParagraphStart(corpus, sampleRng(seed, 'analysis', n, index));
  return { source: 'gutenberg', id: `start=${start}`, ids: haystackTokens(corpus, start, n, tokenizer) };
}

/** The first `n` content tokens of a text file (all of it when shorter). */
export function filePrompt(tokenizer: EvalTokenizer, path: string, n: number): AnalysisPrompt {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8'); // '-': stdin
  } catch (err) {
    throw new KvError(`--prompt-file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path`);
  }
  const ids = encodeContent(tokenizer, text).slice(0, n);
  if (ids.length < 2) throw new KvError(`--prompt-file ${path}: the text has ${ids.length} token(s); the analysis needs at least 2`);
  return { source: path, id: 'file', ids };
}

/** The default task list of `analyze layer-ratios`: prose, needles, RULER-style, and LongBench when its folder exists. */
export function defaultRatioTasks(dataRoot?: string): string[] {
  const tasks = ['fidelity', 'passkey', 'ruler-niah_single_2', 'ruler-fwe', 'ruler-vt'];
  try {
    const root = resolveDataRoot(dataRoot);
    if (existsSync(join(root, 'longbench', 'multi_news.jsonl'))) tasks.push('longbench-multi_news');
  } catch {
    // no data folder: the tasks that need it will say so
  }
  return tasks;
}

/** Evenly spaced integer depths in [0, 100]. */
function depthGrid(k: number): number[] {
  if (k <= 1) return [50];
  return Array.from({ length: k }, (_, i) => Math.round((100 * i) / (k - 1)));
}

/**
 * `count` prompts of a task at length `length` (content tokens, as the task counts them). Needle tasks vary the
 * depth across the samples; the others vary their seeded content (LongBench: its first rows).
 */
export function taskPrompts(taskName: string, tokenizer: EvalTokenizer, count: number, length: number, seed: number, dataRoot?: string): AnalysisPrompt[] {
  const task = getTask(taskName);
  const opts: SampleOptions = { seed, tokenizer, lengths: [length], count, ...(dataRoot !== undefined ? { dataRoot } : {}) };
  if (['niah', 'passkey', 'niah-paraphrase'].includes(task.name)) {
    const depths = depthGrid(Math.min(count, 11));
    opts.depths = depths;
    opts.count = Math.ceil(count / depths.length);
  }
  const samples = task.samples(opts).slice(0, count);
  return samples.map((s) => ({ source: task.name, id: s.id, ids: s.promptIds ?? encodeContent(tokenizer, s.prompt) }));
}
