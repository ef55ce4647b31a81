/**
 * RULER-style synthetic tasks, generated from a seed, following NVIDIA RULER's generators and templates
 * (`../shared/data/ruler/spec`: synthetic.yaml for each task's settings, constants.py for templates and answer
 * prefixes, eval_constants.py for scoring). Written from those definitions; differences from RULER:
 *
 * - Length: RULER requires input + answer + tokens_to_generate ≤ max_seq_length; here prompt + maxNewTokens ≤ L
 *   (prompt = template + answer prefix, as RULER feeds base models). The haystack size (words, lines, entries) is the
 *   largest that fits, found by search instead of RULER's fixed increments.
 * - Words: adjective-noun keys and common words come from our own list (english-words.ts; RULER uses wonderwords).
 * - Essay haystack: held-out Gutenberg text by default (`haystackText=essays` uses the Paul Graham essays, RULER's
 *   choice, when present); sentences are split by punctuation (RULER uses NLTK).
 * - Random insertion indices of the noise/needle haystacks are drawn as fractions once per sample, so the prompt
 *   is a pure function of the haystack size during the length search.
 *
 * Scoring: string_match_all for every task here (RULER's choice for niah, vt, cwe, fwe).
 */
import { KvError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import { ENGLISH_ADJECTIVES, ENGLISH_NOUNS, ENGLISH_WORDS } from './english-words.js';
import { fitToTokens } from './fit-to-tokens.js';
import { circularSlice, HAYSTACK_SOURCES, openHaystack, splitSentences, type HaystackSource } from './haystack.js';
import { linspaceRounded } from './niah-defaults.js';
import { stringMatchAll } from '../metrics/ruler-metrics.js';
import { choice, randInt, randomUuid, sampleDistinct, sampleRng, shuffle } from './seeded-random.js';
import type { GenerationTask, Sample, SampleOptions, TaskScore } from './task.js';
import { defineTaskOptions, NO_TASK_OPTIONS } from './task-options.js';
import { option, type OptionsOf, type OptionSpec } from '../../util/option-declarations.js';

/** constants.py: templates with RULER's answer prefixes appended (base-model prompts). */
export const RULER_TEMPLATES = {
  niah: {
    tokensToGenerate: 128,
    template:
      'Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. I will quiz you about the {type_needle_v} afterwards.\n{context}\nWhat are all the special magic {type_needle_v} for {query} mentioned in the provided text?' +
      ' The special magic {type_needle_v} for {query} mentioned in the provided text are',
  },
  variable_tracking: {
    tokensToGenerate: 30,
    template:
      'Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\nQuestion: Find all variables that are assigned the value {query} in the text above.' +
      ' Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are assigned the value {query}, they are: ',
  },
  common_words_extraction: {
    tokensToGenerate: 120,
    template:
      'Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones that appear most often.\n{context}\nQuestion: What are the 10 most common words in the above list?' +
      ' Answer: The top 10 words that appear most often in the list are:',
  },
  freq_words_extraction: {
    tokensToGenerate: 50,
    template:
      "Read the following coded text and track the frequency of each coded word. Find the three most frequently appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three most frequently appeared words in the above coded text?" +
      ' Answer: According to the coded text above, the three most frequently appeared words are:',
  },
} as const;

export const NOISE = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.';
/** RULER's essay needle depths: np.round(np.linspace(0, 100, 40)). */
const DEPTHS = linspaceRounded(0, 100, 40);

type ValueType = 'words' | 'numbers' | 'uuids';
export interface NiahArgs {
  haystack: 'noise' | 'essay' | 'needle';
  keys: ValueType;
  values: ValueType;
  numK: number;
  numV: number;
  numQ: number;
}

export type RulerConfig =
  | { task: 'niah'; args: NiahArgs }
  | { task: 'variable_tracking'; args: { numChains: number; numHops: number } }
  | { task: 'common_words_extraction'; args: { freqCw: number; freqUcw: number; numCw: number } }
  | { task: 'freq_words_extraction'; args: { alpha: number } };

/** synthetic.yaml (qa_1 and qa_2 need SQuAD / HotpotQA, which are not available offline). */
export const RULER_CONFIGS: Readonly<Record<string, RulerConfig>> = {
  niah_single_1: { task: 'niah', args: { haystack: 'noise', keys: 'words', values: 'numbers', numK: 1, numV: 1, numQ: 1 } },
  niah_single_2: { task: 'niah', args: { haystack: 'essay', keys: 'words', values: 'numbers', numK: 1, numV: 1, numQ: 1 } },
  niah_single_3: { task: 'niah', args: { haystack: 'essay', keys: 'words', values: 'uuids', numK: 1, numV: 1, numQ: 1 } },
  niah_multikey_1: { task: 'niah', args: { haystack: 'essay', keys: 'words', values: 'numbers', numK: 4, numV: 1, numQ: 1 } },
  niah_multikey_2: { task: 'niah', args: { haystack: 'needle', keys: 'words', values: 'numbers', numK: 1, numV: 1, numQ: 1 } },
  niah_multikey_3: { task: 'niah', args: { haystack: 'needle', keys: 'uuids', values: 'uuids', numK: 1, numV: 1, numQ: 1 } },
  niah_multivalue: { task: 'niah', args: { haystack: 'essay', keys: 'words', values: 'numbers', numK: 1, numV: 4, numQ: 1 } },
  niah_multiquery: { task: 'niah', args: { haystack: 'essay', keys: 'words', values: 'numbers', numK: 1, numV: 1, numQ: 4 } },
  vt: { task: 'variable_tracking', args: { numChains: 1, numHops: 4 } },
  cwe: { task: 'common_words_extraction', args: { freqCw: 30, freqUcw: 3, numCw: 10 } },
  fwe: { task: 'freq_words_extraction', args: { alpha: 2.0 } },
};

const DESCRIPTIONS: Record<string, string> = {
  niah_single_1: 'RULER single needle: noise haystack, word key, 7-digit number value',
  niah_single_2: 'RULER single needle: essay haystack, word key, number value',
  niah_single_3: 'RULER single needle: essay haystack, word key, UUID value',
  niah_multikey_1: 'RULER multi-key: essay haystack, 4 keys (3 distractors), number value',
  niah_multikey_2: 'RULER multi-key: haystack of distractor needles (word keys, number values)',
  niah_multikey_3: 'RULER multi-key: haystack of distractor needles (UUID keys and values)',
  niah_multivalue: 'RULER multi-value: essay haystack, one key with 4 number values (all must be recalled)',
  niah_multiquery: 'RULER multi-query: essay haystack, 4 keys queried at once',
  vt: 'RULER variable tracking: a chain of 4 hops (VAR X = VAR Y) in noise; name every variable with the value',
  cwe: 'RULER common-words extraction: the 10 most frequent words of a numbered word list',
  fwe: 'RULER frequent-words extraction: the 3 most frequent coded words (Zipf, alpha 2)',
};

export const DEFAULT_RULER_LENGTHS = [4096];

/** A sample under construction: the prompt as a pure function of the haystack size n. */
interface Plan {
  build(n: number): string;
  answers: string[];
  min: number;
  max: number;
  guess: number;
  maxNewTokens: number;
  meta: Record<string, string | number>;
}

interface Ctx {
  rng: Rng;
  /** A generator for choices that depend on the haystack size n (so that build(n) is pure). */
  rngFor(n: number): Rng;
  /** Target prompt tokens (L − maxNewTokens). */
  limit: number;
  L: number;
  essayWords(count: number): string[];
}

function fill(template: string, vars: Record<string, string>, context: string): string {
  let t = template;
  for (const [k, v] of Object.entries(vars)) t = t.replaceAll(`{${k}}`, v);
  return t.split('{context}').join(context);
}

function randomValue(rng: Rng, type: ValueType): string {
  if (type === 'numbers') return String(randInt(rng, 1_000_000, 9_999_999));
  if (type === 'uuids') return randomUuid(rng);
  return `${choice(rng, ENGLISH_ADJECTIVES)}-${choice(rng, ENGLISH_NOUNS)}`;
}

function niahPlan(a: NiahArgs, c: Ctx): Plan {
  const { rng } = c;
  const needleText = 'One of the special magic {type_needle_v} for {key} is: {value}.';
  const needle = (key: string, value: string) =>
    needleText.replace('{type_needle_v}', a.values).replace('{key}', key).replace('{value}', value);
  const keys: string[] = [];
  const values: string[][] = [];
  const needles: string[] = [];
  // As RULER: at least as many keys as queries.
  const numK = Math.max(a.numK, a.numQ);
  while (keys.length < numK) {
    const k = randomValue(rng, a.keys);
    if (keys.includes(k)) continue; // distinct keys keep the question unambiguous
    keys.push(k);
    const vs: string[] = [];
    for (let j = 0; j < a.numV; j++) {
      vs.push(randomValue(rng, a.values));
      needles.push(needle(k, vs[j]!));
    }
    values.push(vs);
  }
  shuffle(rng, needles);
  const qi = sampleDistinct(
    rng,
    keys.map((_, i) => i),
    a.numQ,
  );
  const queries = qi.map((i) => keys[i]!);
  const answers = qi.flatMap((i) => values[i]!);
  const query = queries.length > 1 ? queries.slice(0, -1).join(', ') + ', and ' + queries.at(-1)! : queries[0]!;
  let template: string = RULER_TEMPLATES.niah.template;
  let typeV: string = a.values;
  if (a.numQ * a.numV === 1) {
    template = template.replaceAll('Some', 'A').replaceAll('are all', 'is').replaceAll('are', 'is').replaceAll('answers', 'answer');
    typeV = typeV.slice(0, -1);
  }
  const prompt = (context: string) => fill(template, { type_needle_v: typeV, query }, context);
  const maxNewTokens = RULER_TEMPLATES.niah.tokensToGenerate;
  const meta = { keys: keys.join(' '), query };

  if (a.haystack === 'essay') {
    const depths = sampleDistinct(rng, DEPTHS, needles.length);
    const words = c.essayWords(c.limit);
    return {
      build(n) {
        const sents = splitSentences(words.slice(0, n).join(' '));
        const pos = [0, ...depths.map((d) => Math.floor((sents.length * d) / 100)).sort((x, y) => x - y), sents.length];
        const parts: string[] = [];
        for (let i = 1; i < pos.length; i++) {
          parts.push(sents.slice(pos[i - 1], pos[i]).join(' '));
          if (i - 1 < needles.length) parts.push(needles[i - 1]!);
        }
        return prompt(parts.join(' '));
      },
      answers,
      min: 0,
      max: words.length,
      guess: Math.floor(c.limit * 0.7),
      maxNewTokens,
      meta: { ...meta, depths: depths.join(' ') },
    };
  }
  const fractions = needles.map(() => rng.next());
  const distractors: string[] = [];
  const drng = c.rngFor(-1);
  return {
    build(n) {
      let lines: string[];
      if (a.haystack === 'noise') lines = new Array<string>(n).fill(NOISE);
      else {
        while (distractors.length < n) distractors.push(needle(randomValue(drng, a.keys), randomValue(drng, a.values)));
        lines = distractors.slice(0, n);
      }
      // RULER inserts at distinct random indices, largest first, each needle in its shuffled order.
      const idx = fractions.map((f) => Math.floor(f * n)).sort((x, y) => y - x);
      idx.forEach((at, j) => lines.splice(at, 0, needles[j]!));
      return prompt(lines.join('\n'));
    },
    answers,
    min: 0,
    max: c.limit,
    guess: Math.floor(c.limit / (a.haystack === 'noise' ? 25 : 20)),
    maxNewTokens,
    meta,
  };
}

function randomVars(rng: Rng, count: number, letters: number): string[] {
  const out = new Set<string>();
  while (out.size < count) {
    let v = '';
    for (let i = 0; i < letters; i++) v += String.fromCharCode(65 + rng.int(26));
    out.add(v);
  }
  return [...out];
}

/** One variable-tracking prompt body: chains inserted in order at random noise lines. */
function vtBody(rng: Rng, numChains: number, numHops: number, letters: number) {
  const vars = randomVars(rng, numChains * (numHops + 1), letters);
  const chains: string[][] = [];
  const chainVars: string[][] = [];
  for (let c = 0; c < numChains; c++) {
    const v = vars.slice(c * (numHops + 1), (c + 1) * (numHops + 1));
    chainVars.push(v);
    const chain = [`VAR ${v[0]} = ${randInt(rng, 10000, 99998)}`];
    for (let j = 0; j < numHops; j++) chain.push(`VAR ${v[j + 1]} = VAR ${v[j]} `);
    chains.push(chain);
  }
  const fr = chains.map((ch) => ch.map(() => rng.next()));
  const context = (n: number) => {
    const lines = new Array<string>(n).fill(NOISE + '\n');
    chains.forEach((chain, ci) => {
      const positions = fr[ci]!.map((f) => Math.floor(f * lines.length)).sort((x, y) => x - y);
      positions.forEach((p, j) => lines.splice(p + j, 0, chain[j]!));
    });
    return lines.join('\n').replaceAll('. \n', '.\n');
  };
  const value = chains[0]![0]!.split('=').at(-1)!.trim();
  return { context, answers: chainVars[0]!, value };
}

function vtPlan(args: { numChains: number; numHops: number; fewshot: boolean }, c: Ctx): Plan {
  const { rng } = c;
  const t = RULER_TEMPLATES.variable_tracking.template;
  let icl = '';
  if (args.fewshot) {
    // RULER's in-context example: 3-letter variables, a short noise haystack, its answer appended.
    const ex = vtBody(rng, args.numChains, Math.min(10, args.numHops), 3);
    const exInput = fill(t, { query: ex.value, num_v: String(Math.min(10, args.numHops) + 1) }, ex.context(10));
    icl = exInput.trimEnd() + ' ' + ex.answers.join(' ') + '\n\n';
  }
  const main = vtBody(rng, args.numChains, args.numHops, 5);
  return {
    build: (n) => icl + fill(t, { query: main.value, num_v: String(args.numHops + 1) }, main.context(n)),
    answers: main.answers,
    min: 1,
    max: c.limit,
    guess: Math.floor(c.limit / 25),
    maxNewTokens: RULER_TEMPLATES.variable_tracking.tokensToGenerate,
    meta: { value: main.value },
  };
}

function numbered(words: string[]): string {
  return words.map((w, i) => `${i + 1}. ${w}`).join(' ');
}

function cwePlan(args: { freqCw: number; freqUcw: number; numCw: number; fewshot: boolean }, c: Ctx): Plan {
  const { rng } = c;
  const t = RULER_TEMPLATES.common_words_extraction.template;
  const small = c.L < 4096;
  const example = (numWords: number, cr: number, ucr: number, r: Rng) => {
    const all = sampleDistinct(r, ENGLISH_WORDS, numWords);
    const common = all.slice(0, args.numCw);
    const list = [...Array.from({ length: cr }, () => common).flat(), ...Array.from({ length: ucr }, () => all.slice(args.numCw)).flat()];
    return { context: numbered(shuffle(r, list)), common };
  };
  let icl = '';
  if (args.fewshot) {
    const ex = small ? example(20, 3, 1, rng) : example(40, 10, 3, rng);
    icl = fill(t, {}, ex.context) + ' ' + numbered(ex.common) + '\n';
  }
  const pool = shuffle(rng, ENGLISH_WORDS.slice());
  const common = pool.slice(0, args.numCw);
  const [cr, ucr] = small ? [6, 1] : [args.freqCw, args.freqUcw];
  return {
    build(n) {
      const uncommon = pool.slice(args.numCw, n);
      const list = [...Array.from({ length: cr }, () => common).flat(), ...Array.from({ length: ucr }, () => uncommon).flat()];
      return icl + fill(t, {}, numbered(shuffle(c.rngFor(n), list)));
    },
    answers: common,
    min: args.numCw,
    max: pool.length,
    guess: Math.floor(c.limit / 20),
    maxNewTokens: RULER_TEMPLATES.common_words_extraction.tokensToGenerate,
    meta: {},
  };
}

/** Riemann zeta(s) for s > 1 (the Zipf normaliser), by direct sum plus an integral tail. */
export function zeta(s: number): number {
  let sum = 0;
  const N = 10000;
  for (let k = 1; k < N; k++) sum += k ** -s;
  return sum + N ** (1 - s) / (s - 1) + 0.5 * N ** -s;
}

function fwePlan(args: { alpha: number }, c: Ctx): Plan {
  const { rng } = c;
  const vocabSize = Math.max(16, Math.floor(c.L / 50));
  const set = new Set<string>();
  while (set.size < vocabSize) {
    let w = '';
    for (let i = 0; i < 6; i++) w += String.fromCharCode(97 + rng.int(26));
    set.add(w);
  }
  const vocab = shuffle(rng, [...set].sort());
  vocab[0] = '...'; // the top-ranked word is noise
  const z = zeta(args.alpha);
  return {
    build(n) {
      const words: string[] = [];
      vocab.forEach((w, k) => {
        const cnt = Math.floor((n * (k + 1) ** -args.alpha) / z);
        for (let i = 0; i < cnt; i++) words.push(w);
      });
      return fill(RULER_TEMPLATES.freq_words_extraction.template, {}, shuffle(c.rngFor(n), words).join(' '));
    },
    answers: vocab.slice(1, 4),
    min: 0,
    max: 2 * c.limit,
    guess: Math.floor(c.limit / 4),
    maxNewTokens: RULER_TEMPLATES.freq_words_extraction.tokensToGenerate,
    meta: {},
  };
}

const FEWSHOT = {
  fewshot: option.boolean({ default: true, description: 'prepend one solved example, as RULER does' }),
} as const;

const count = (d: number, description: string) => option.integer({ min: 0, minExclusive: true, default: d, description });

const ESSAY_DECL = {
  haystackText: option.enum(HAYSTACK_SOURCES, { default: 'gutenberg', description: 'text of the essay haystack' }),
} as const;

const vtDecl = (args: { numChains: number; numHops: number }) =>
  ({
    numChains: count(args.numChains, 'variable chains (the first is asked)'),
    numHops: count(args.numHops, 'assignments after the value in each chain'),
    ...FEWSHOT,
  }) as const;

const cweDecl = (args: { freqCw: number; freqUcw: number; numCw: number }) =>
  ({
    freqCw: count(args.freqCw, 'repeats of each common word (L ≥ 4096; 6 below)'),
    freqUcw: count(args.freqUcw, 'repeats of each other word (L ≥ 4096; 1 below)'),
    numCw: count(args.numCw, 'common words to find'),
    ...FEWSHOT,
  }) as const;

// zeta(alpha), the Zipf normaliser, converges only above 1.
const fweDecl = (args: { alpha: number }) =>
  ({ alpha: option.number({ min: 1, minExclusive: true, default: args.alpha, description: 'Zipf exponent of the word counts' }) }) as const;

/** The options of the RULER needle tasks on an essay haystack, as the library passes them. */
export type RulerEssayOptions = OptionsOf<typeof ESSAY_DECL>;
/** The options of `ruler-vt`. */
export type RulerVtOptions = OptionsOf<ReturnType<typeof vtDecl>>;
/** The options of `ruler-cwe`. */
export type RulerCweOptions = OptionsOf<ReturnType<typeof cweDecl>>;
/** The options of `ruler-fwe`. */
export type RulerFweOptions = OptionsOf<ReturnType<typeof fweDecl>>;

/** A RULER task's options: their declaration, and the sample plan the parsed values choose. */
interface RulerOptions {
  readonly specs: readonly OptionSpec[];
  /** The parsed options as the sample builder uses them: the essay haystack's text (essay tasks) and the plan. */
  read(task: string, given: SampleOptions['options']): { essay?: HaystackSource; plan: (c: Ctx) => Plan };
}

function rulerOptions(config: RulerConfig): RulerOptions {
  switch (config.task) {
    case 'niah': {
      const args = config.args;
      if (args.haystack !== 'essay') {
        return {
          specs: NO_TASK_OPTIONS.specs,
          read: (task, given) => {
            NO_TASK_OPTIONS.parse(task, given); // rejects any option
            return { plan: (c) => niahPlan(args, c) };
          },
        };
      }
      const schema = defineTaskOptions(ESSAY_DECL);
      return { specs: schema.specs, read: (task, given) => ({ essay: schema.parse(task, given).haystackText, plan: (c) => niahPlan(args, c) }) };
    }
    case 'variable_tracking': {
      const schema = defineTaskOptions(vtDecl(config.args));
      return { specs: schema.specs, read: (task, given) => { const o = schema.parse(task, given); return { plan: (c) => vtPlan(o, c) }; } };
    }
    case 'common_words_extraction': {
      const schema = defineTaskOptions(cweDecl(config.args));
      return { specs: schema.specs, read: (task, given) => { const o = schema.parse(task, given); return { plan: (c) => cwePlan(o, c) }; } };
    }
    case 'freq_words_extraction': {
      const schema = defineTaskOptions(fweDecl(config.args));
      return { specs: schema.specs, read: (task, given) => { const o = schema.parse(task, given); return { plan: (c) => fwePlan(o, c) }; } };
    }
  }
}

export function createRulerTask(configName: string): GenerationTask {
  const config = RULER_CONFIGS[configName];
  if (!config) throw new KvError(`unknown RULER task '${configName}'; known: ${Object.keys(RULER_CONFIGS).join(', ')}`);
  const name = `ruler-${configName}`;
  const options = rulerOptions(config);
  return {
    kind: 'generate',
    name,
    description: `${DESCRIPTIONS[configName]}; prompt + answer budget ≤ L tokens`,
    options: options.specs,
    defaultLengths: DEFAULT_RULER_LENGTHS,
    samples(opts: SampleOptions): Sample[] {
      const o = options.read(name, opts.options);
      const needsEssay = config.task === 'niah' && config.args.haystack === 'essay';
      let corpusText: string | undefined;
      const essayWords = (count: number): string[] => {
        if (corpusText === undefined) {
          const corpus = openHaystack(o.essay ?? 'gutenberg', opts.dataRoot, `task '${name}' (essay haystack)`);
          corpusText = circularSlice(corpus, 0, Math.max(20000, count * 12));
        }
        return corpusText.split(/\s+/).filter((w) => w.length > 0);
      };
      if (needsEssay) essayWords(0);
      const out: Sample[] = [];
      for (const L of opts.lengths ?? DEFAULT_RULER_LENGTHS) {
        if (!(Number.isInteger(L) && L > 0)) throw new KvError(`length ${L} is not a positive integer token count`);
        for (let i = 0; i < (opts.count ?? 1); i++) {
          const maxNew = {
            niah: RULER_TEMPLATES.niah.tokensToGenerate,
            variable_tracking: RULER_TEMPLATES.variable_tracking.tokensToGenerate,
            common_words_extraction: RULER_TEMPLATES.common_words_extraction.tokensToGenerate,
            freq_words_extraction: RULER_TEMPLATES.freq_words_extraction.tokensToGenerate,
          }[config.task];
          const ctx: Ctx = {
            rng: sampleRng(opts.seed, name, L, i),
            rngFor: (n) => sampleRng(opts.seed, name, L, i, 'n', n),
            limit: L - maxNew,
            L,
            essayWords: (count) => {
              const w = essayWords(count);
              if (w.length >= count) return w;
              corpusText = undefined; // grow the window
              return essayWords(count);
            },
          };
          if (ctx.limit <= 0) throw new KvError(`task '${name}': length ${L} leaves no room for the ${maxNew}-token answer; use a larger --lengths value`);
          const plan = o.plan(ctx);
          const fitted = fitToTokens(plan.build, opts.tokenizer, ctx.limit, { min: plan.min, max: plan.max, guess: plan.guess, what: `task '${name}'` });
          out.push({
            id: `L=${L}/i=${i}`,
            task: name,
            mode: 'generate',
            prompt: fitted.text,
            answers: plan.answers,
            maxNewTokens: plan.maxNewTokens,
            contextLength: L,
            promptTokens: fitted.tokens,
            meta: { seed: opts.seed, haystackSize: fitted.n, ...plan.meta },
          });
        }
      }
      return out;
    },
    score(sample: Sample, output: string): TaskScore {
      return { score: stringMatchAll(output, sample.answers), metrics: {} };
    },
  };
}
