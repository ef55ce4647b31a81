/**
 * The paper's evaluation set, sized to a model: which tasks fit its context, at which lengths and depths, with how
 * many samples. `kvmerger reproduce` runs this grid with the paper's methods and budgets. Tasks that cannot be built
 * for the model (a context too short for RULER's templates or LongBench's answer lengths, missing data) are left out
 * with a note, never silently.
 *
 * Per context C (less 1 for BOS):
 * - fidelity: T = C − k (k = min(256, C/4) forced tokens), and T/2 unless quick;
 * - ppl-stream: a stream of min(C, 1024) tokens (512 quick);
 * - passkey, niah: heatmaps over 4 lengths (2 quick) up to C − answer tokens × depths 0,25,50,75,100 (0,50,100
 *   quick), one sample per cell; niah-paraphrase at the longest length only;
 * - RULER: single needle (noise, essay), multi-key, multi-value, multi-query, variable tracking, common and frequent
 *   words, each at L = min(C, 4096);
 * - LongBench multi_news and the Chinese sets when `<data>/longbench` has them and C leaves room for the answer.
 * Lengths are capped at 4096 tokens to keep the run to hours rather than days on a CPU.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KvError } from '../../util/errors.js';
import { resolveDataRoot } from '../tasks/data-root.js';
import type { GridTaskPlan } from './run-grid.js';
import { sampleContextNeed } from './run-sample.js';
import type { SessionModel } from '../../generate/session-model.js';
import { getTask } from '../tasks/registry.js';
import type { Task } from '../tasks/task.js';

export const REPRODUCE_METHODS = ['full', 'h2o', 'cam', 'kvmerger', 'streaming', 'snapkv', 'pyramidkv', 'tova', 'knorm', 'random'];
export const REPRODUCE_BUDGETS = [0.5, 0.35];

export interface ReproduceGridOptions {
  quick?: boolean;
  /** Samples per length for tasks other than the heatmaps (default 3, quick 1). */
  samples?: number;
  seed?: number;
  dataRoot?: string;
}

const RULER = ['ruler-niah_single_1', 'ruler-niah_single_2', 'ruler-niah_multikey_1', 'ruler-niah_multivalue', 'ruler-niah_multiquery', 'ruler-vt', 'ruler-cwe', 'ruler-fwe'];
const LONGBENCH = ['multi_news', 'multifieldqa_zh', 'passage_retrieval_zh'];
const CAP = 4096;

const evenly = (max: number, n: number, min: number): number[] =>
  [...new Set(Array.from({ length: n }, (_, i) => Math.round((max * (i + 1)) / n)).filter((x) => x >= min))];

export function reproduceTasks(model: SessionModel, o: ReproduceGridOptions = {}): { tasks: GridTaskPlan[]; notes: string[] } {
  const quick = o.quick ?? false;
  const count = o.samples ?? (quick ? 1 : 3);
  const seed = o.seed ?? 0;
  const bos = model.tokenizer.addBos && model.tokenizer.bos !== undefined ? 1 : 0;
  const C = model.config.contextLength - bos;
  const tasks: GridTaskPlan[] = [];
  const notes: string[] = [];

  /** Builds one sample per length × depth and checks it fits; returns why not, or undefined. */
  const misfit = (task: Task, lengths: number[], n: number, depths?: number[], options?: Record<string, string | number | boolean>): string | undefined => {
    try {
      const samples = task.samples({
        seed,
        tokenizer: model.tokenizer,
        count: n,
        lengths,
        ...(depths ? { depths } : {}),
        ...(o.dataRoot !== undefined ? { dataRoot: o.dataRoot } : {}),
        ...(options ? { options } : {}),
      });
      for (const s of samples) {
        const need = sampleContextNeed(model.tokenizer, s);
        if (need.prompt + need.extra > model.config.contextLength) {
          return `sample ${s.id} needs ${need.prompt} + ${need.extra} tokens, more than the context of ${model.config.contextLength}`;
        }
      }
      return undefined;
    } catch (err) {
      if (err instanceof KvError) return err.message;
      throw err;
    }
  };
  const add = (plan: GridTaskPlan) => {
    const why = misfit(plan.task, plan.lengths ?? [], plan.count ?? 1, plan.depths, plan.options);
    if (why) notes.push(`${plan.task.name} left out: ${why}`);
    else tasks.push(plan);
  };

  // Fidelity: the compressed prompt T, then k forced tokens.
  const k = Math.min(256, Math.floor(C / 4));
  const T = Math.min(CAP, C - k);
  add({ task: getTask('fidelity'), count, lengths: quick ? [T] : [...new Set([Math.round(T / 2), T])], options: { k } });
  add({ task: getTask('ppl-stream'), count: quick ? 1 : Math.min(count, 2), lengths: [Math.min(C, quick ? 512 : 1024)] });

  // Needle heatmaps: the longest length leaves room for the answer.
  const depths = quick ? [0, 50, 100] : [0, 25, 50, 75, 100];
  for (const name of ['passkey', 'niah', 'niah-paraphrase']) {
    const task = getTask(name);
    const probe = Math.min(C, 256);
    let answer = 32;
    try {
      answer = task.samples({ seed, tokenizer: model.tokenizer, count: 1, lengths: [probe], depths: [50], ...(o.dataRoot !== undefined ? { dataRoot: o.dataRoot } : {}) })[0]?.maxNewTokens ?? 32;
    } catch {
      // misfit() below says why.
    }
    const Lmax = Math.min(CAP, C - answer);
    const lengths = name === 'niah-paraphrase' ? [Lmax] : evenly(Lmax, quick ? 2 : 4, 64);
    add({ task, count: 1, lengths, depths });
  }

  for (const name of RULER) add({ task: getTask(name), count, lengths: [Math.min(CAP, C)] });

  let root: string | undefined;
  try {
    root = resolveDataRoot(o.dataRoot, 'LongBench');
  } catch {
    root = undefined;
  }
  for (const ds of LONGBENCH) {
    if (!root || !existsSync(join(root, 'longbench', `${ds}.jsonl`))) {
      notes.push(`longbench-${ds} left out: no ${ds}.jsonl in <data>/longbench`);
      continue;
    }
    const task = getTask(`longbench-${ds}`);
    let maxNew = 512;
    try {
      maxNew = task.samples({ seed, tokenizer: model.tokenizer, count: 1, lengths: [Math.min(C, 256)], ...(o.dataRoot !== undefined ? { dataRoot: o.dataRoot } : {}) })[0]?.maxNewTokens ?? 512;
    } catch {
      // misfit() says why.
    }
    // LongBench's middle truncation re-encodes the text, so a prompt can come out a few tokens over L: keep slack.
    const L = Math.min(3500, C - maxNew - 16);
    if (L < 256) {
      notes.push(`longbench-${ds} left out: its answers take up to ${maxNew} tokens, which leaves ${Math.max(0, L)} of the context of ${model.config.contextLength} for the prompt (at least 256 needed)`);
      continue;
    }
    add({ task, count, lengths: [L] });
  }
  return { tasks, notes };
}
