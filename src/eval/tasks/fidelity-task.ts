/**
 * Fidelity: how far the compressed cache moves the model's predictions. A document from held-out Gutenberg books
 * (seeded book position, starting at a paragraph) gives T prompt tokens and k continuation tokens; the runner
 * prefills the prompt, compresses, teacher-forces the continuation through the compressed cache (and through the
 * full cache, or reuses the full run), and feeds each step's two logit vectors to a `FidelityAccumulator`.
 *
 * - `fidelity`: L = T (the prompt that gets compressed); k = 256 by default.
 * - `ppl-stream`: perplexity over a long stream with the budget enforced during decoding (`meta.decodeCompression`):
 *   a short prompt (default 64 tokens) and a continuation filling the rest of L.
 *
 * Score: top-1 agreement with the full cache (1 = identical argmax at every step); the metrics add perplexities
 * (full, compressed, their difference and ratio) and the mean KL(p_full ‖ p_compressed) per token.
 */
import { KvError } from '../../util/errors.js';
import { haystackTokens, openHaystack, randomParagraphStart } from './haystack.js';
import { summarizeFidelity } from '../metrics/logit-metrics.js';
import { sampleRng } from './seeded-random.js';
import type { FidelityObservation, FidelityTask, Sample, SampleOptions, TaskScore } from './task.js';
import { defineTaskOptions } from './task-options.js';
import { option, type OptionsOf } from '../../util/option-declarations.js';

export type FidelityVariant = 'fidelity' | 'ppl-stream';

const SPLIT = {
  split: option.enum(['validation', 'haystack'], { default: 'validation', description: 'held-out Gutenberg books to draw documents from' }),
} as const;

const FIDELITY_DECL = {
  ...SPLIT,
  k: option.integer({ min: 0, minExclusive: true, default: 256, description: 'continuation tokens teacher-forced after the compressed prompt' }),
} as const;

const PPL_STREAM_DECL = {
  ...SPLIT,
  promptTokens: option.integer({ min: 0, minExclusive: true, default: 64, description: 'tokens prefilled before the stream (the rest of L is forced one by one)' }),
} as const;

/** The options of `fidelity`, as the library passes them. */
export type FidelityOptions = OptionsOf<typeof FIDELITY_DECL>;
/** The options of `ppl-stream`, as the library passes them. */
export type PplStreamOptions = OptionsOf<typeof PPL_STREAM_DECL>;

const FIDELITY_OPTIONS = defineTaskOptions(FIDELITY_DECL);
const PPL_STREAM_OPTIONS = defineTaskOptions(PPL_STREAM_DECL);

export function createFidelityTask(variant: FidelityVariant): FidelityTask {
  const stream = variant === 'ppl-stream';
  const schema = stream ? PPL_STREAM_OPTIONS : FIDELITY_OPTIONS;
  const defaultLengths = stream ? [2048] : [1024, 2048];
  return {
    kind: 'fidelity',
    name: variant,
    description: stream
      ? 'perplexity of an L-token Gutenberg stream with the budget enforced while decoding; KL and top-1 vs the full cache'
      : 'T = L prompt tokens compressed, k forced tokens: perplexity increase, KL(full ‖ compressed), top-1 agreement',
    options: schema.specs,
    defaultLengths,
    samples(opts: SampleOptions): Sample[] {
      const o = schema.parse(variant, opts.options);
      const corpus = openHaystack('gutenberg', opts.dataRoot, `the '${variant}' task`, o.split);
      const out: Sample[] = [];
      for (const L of opts.lengths ?? defaultLengths) {
        if (!(Number.isInteger(L) && L > 0)) throw new KvError(`length ${L} is not a positive integer token count`);
        const T = 'promptTokens' in o ? o.promptTokens : L;
        const k = 'k' in o ? o.k : L - T;
        if (!(Number.isInteger(T) && T > 0 && Number.isInteger(k) && k > 0)) {
          throw new KvError(`task '${variant}': prompt ${T} and continuation ${k} tokens must both be positive integers (check --lengths and the options)`);
        }
        for (let i = 0; i < (opts.count ?? 1); i++) {
          const rng = sampleRng(opts.seed, variant, L, i);
          const start = randomParagraphStart(corpus, rng);
          const ids = haystackTokens(corpus, start, T + k, opts.tokenizer);
          const promptIds = ids.slice(0, T);
          out.push({
            id: `L=${L}/i=${i}`,
            task: variant,
            mode: 'teacher-force',
            prompt: opts.tokenizer.decode(promptIds),
            promptIds,
            continuationIds: ids.slice(T),
            answers: [],
            maxNewTokens: 0,
            contextLength: L,
            promptTokens: T,
            meta: { seed: opts.seed, split: o.split, start, k, decodeCompression: stream },
          });
        }
      }
      return out;
    },
    score(_sample: Sample, output: FidelityObservation): TaskScore {
      if (output.tokens === 0) throw new Error('fidelity score: no forced tokens were measured');
      const s = summarizeFidelity(output);
      return { score: s.top1Agreement, metrics: { ...s } };
    },
  };
}
