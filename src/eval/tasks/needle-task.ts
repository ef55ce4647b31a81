/**
 * Needle in a haystack: a needle sentence at depth d% of a haystack filled so that the whole prompt has at most L
 * tokens, then the question as a completion for base models. Three variants:
 *
 * - `niah`: the standard needle and question (NIAH_DEFAULTS.json): `<hay>.\nThe best thing ... day.\n<hay>\nWhat is
 *   the best thing to do in San Francisco? The best thing to do in San Francisco is` → `eat a sandwich and sit in
 *   Dolores Park on a sunny day`. The needle goes in as the standard tester inserts it (with its newlines). Sample
 *   0 of each cell reads the haystack from its start, as the standard test does; further samples from seeded
 *   paragraph starts.
 * - `passkey`: a random five-digit key in the built-in model's trained format: `<prose> The pass key is 48213.
 *   Remember it. 48213 is the pass key. <prose>\nWhat is the pass key? The pass key is` → ` 48213`.
 * - `niah-paraphrase`: a needle from PARAPHRASED_NEEDLES with a random value and a question worded differently:
 *   `<prose> <needle> <prose>\nQuestion: <question>\nAnswer:`.
 *
 * The needle is placed at the last sentence boundary at or before d% of the haystack's tokens; for `passkey` and
 * `niah-paraphrase` the haystack also ends at a sentence boundary (the standard test cuts it at a token). Score: 1 if the
 * answer appears in the output (passkey: the digits verbatim; otherwise after SQuAD normalisation of both), plus
 * ROUGE-1 recall of the answer (`rouge1`).
 */
import { KvError } from '../../util/errors.js';
import { fitToTokens } from './fit-to-tokens.js';
import { HAYSTACK_SOURCES, haystackTokens, openHaystack, randomParagraphStart, splitAtDepth, trimToSentence } from './haystack.js';
import { defaultDataRoot } from './data-root.js';
import { normalizeAnswer } from '../metrics/longbench-metrics.js';
import { loadNiahDefaults } from './niah-defaults.js';
import { PARAPHRASED_NEEDLES } from './paraphrased-needles.js';
import { rouge1Recall } from '../metrics/rouge.js';
import { choice, randInt, sampleRng } from './seeded-random.js';
import { encodeContent, type GenerationTask, type Sample, type SampleOptions, type TaskScore } from './task.js';
import { defineTaskOptions } from './task-options.js';
import { option, type OptionsOf } from '../../util/option-declarations.js';

export type NeedleVariant = 'niah' | 'passkey' | 'niah-paraphrase';

export const DEFAULT_NEEDLE_LENGTHS = [1000, 2000, 4000];
export const DEFAULT_NEEDLE_DEPTHS = [0, 25, 50, 75, 100];

const NEEDLE_DECL = {
  haystack: option.enum(HAYSTACK_SOURCES, {
    default: 'gutenberg',
    description: 'haystack text: held-out Gutenberg books (their built-in excerpts where no data folder exists), the built-in excerpts, or the Paul Graham essays of the standard test (when present)',
  }),
} as const;

/** The options of `niah`, `passkey` and `niah-paraphrase`, as the library passes them. */
export type NeedleOptions = OptionsOf<typeof NEEDLE_DECL>;

const OPTIONS = defineTaskOptions(NEEDLE_DECL);

/** What one needle sample needs: the needle text, how it joins the prose, the question part, the answer. */
interface NeedlePlan {
  needle: string;
  /** Standard needle: inserted raw (it carries its own newlines); others: joined with single spaces. */
  raw: boolean;
  tail: string;
  answer: string;
  maxNewTokens: number;
  meta: Record<string, string | number>;
}

function plan(variant: NeedleVariant, rng: ReturnType<typeof sampleRng>, dataRoot: string): NeedlePlan {
  if (variant === 'passkey') {
    const key = String(randInt(rng, 10000, 99999));
    return {
      needle: `The pass key is ${key}. Remember it. ${key} is the pass key.`,
      raw: false,
      tail: '\nWhat is the pass key? The pass key is',
      answer: key,
      maxNewTokens: 8,
      meta: { key },
    };
  }
  if (variant === 'niah-paraphrase') {
    const t = rng.int(PARAPHRASED_NEEDLES.length);
    const p = PARAPHRASED_NEEDLES[t]!;
    const v = choice(rng, p.values);
    return { needle: p.needle.replace('{v}', v), raw: false, tail: `\nQuestion: ${p.question}\nAnswer:`, answer: v, maxNewTokens: 24, meta: { template: t } };
  }
  const d = loadNiahDefaults(dataRoot);
  return { needle: d.needle, raw: true, tail: `\n${d.question} ${d.answerPrefix}`, answer: d.answer, maxNewTokens: 32, meta: {} };
}

function compose(p: NeedlePlan, before: string, after: string): string {
  if (p.raw) return before + p.needle + after + p.tail;
  // The trained passkey format has whole sentences of prose on both sides: drop a cut-off last sentence.
  if (after) after = trimToSentence(after);
  else before = trimToSentence(before);
  return [before, p.needle, after].filter((s) => s.length > 0).join(' ') + p.tail;
}

export function createNeedleTask(variant: NeedleVariant): GenerationTask {
  const description = {
    niah: 'needle in a haystack, the standard needle (San Francisco sandwich); prompt ≤ L tokens; needle at depth d%',
    passkey: "five-digit pass key in the built-in model's trained format; prompt ≤ L tokens; key at depth d%",
    'niah-paraphrase': 'needle whose question is worded differently from it (random value); prompt ≤ L tokens; depth d%',
  }[variant];
  return {
    kind: 'generate',
    name: variant,
    description,
    options: OPTIONS.specs,
    defaultLengths: DEFAULT_NEEDLE_LENGTHS,
    samples(opts: SampleOptions): Sample[] {
      const source = OPTIONS.parse(variant, opts.options).haystack;
      const corpus = openHaystack(source, opts.dataRoot, `the '${variant}' task`);
      const dataRoot = opts.dataRoot ?? defaultDataRoot();
      const lengths = opts.lengths ?? DEFAULT_NEEDLE_LENGTHS;
      const depths = opts.depths ?? DEFAULT_NEEDLE_DEPTHS;
      const count = opts.count ?? 1;
      const out: Sample[] = [];
      for (const L of lengths) {
        if (!(Number.isInteger(L) && L > 0)) throw new KvError(`length ${L} is not a positive integer token count`);
        for (const depth of depths) {
          for (let i = 0; i < count; i++) {
            const rng = sampleRng(opts.seed, variant, L, depth, i);
            const p = plan(variant, rng, dataRoot);
            const start = variant === 'niah' && i === 0 ? 0 : randomParagraphStart(corpus, rng);
            const overhead = encodeContent(opts.tokenizer, compose(p, '', '')).length;
            const fitted = fitToTokens(
              (n) => {
                const { before, after } = splitAtDepth(haystackTokens(corpus, start, n, opts.tokenizer), depth, opts.tokenizer);
                return compose(p, before, after);
              },
              opts.tokenizer,
              L,
              // Up to 2L haystack tokens: trimming to a sentence end can drop a long sentence.
              { min: 0, max: 2 * L + 64, guess: L - overhead, what: `task '${variant}'` },
            );
            out.push({
              id: `L=${L}/d=${depth}/i=${i}`,
              task: variant,
              mode: 'generate',
              prompt: fitted.text,
              answers: [p.answer],
              maxNewTokens: p.maxNewTokens,
              contextLength: L,
              promptTokens: fitted.tokens,
              depth,
              meta: { seed: opts.seed, haystack: corpus.source, start, haystackTokens: fitted.n, ...p.meta },
            });
          }
        }
      }
      return out;
    },
    score(sample: Sample, output: string): TaskScore {
      const answer = sample.answers[0] ?? '';
      const found = variant === 'passkey' ? output.includes(answer) : normalizeAnswer(output).includes(normalizeAnswer(answer));
      return { score: found ? 1 : 0, metrics: { rouge1: rouge1Recall(output, answer) } };
    },
  };
}
