/**
 * The standard needle-in-a-haystack test's defaults (gkamradt/LLMTest_NeedleInAHaystack), read from
 * `haystacks/paul-graham-essays/NIAH_DEFAULTS.json` in the data folder; the needle and question are built in as a
 * fallback so that the task also runs on the Gutenberg haystack without that folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvError } from '../../util/errors.js';
import { ESSAYS_DIR } from './haystack.js';

export interface NiahDefaults {
  /** The needle as the standard test inserts it (with its surrounding newlines). */
  needle: string;
  question: string;
  /** Completion prefix for base models ("The best thing to do in San Francisco is"). */
  answerPrefix: string;
  /** The needle's answer: the needle after the prefix, without the final period. */
  answer: string;
  /** The standard grid: context lengths and depths (percent), as np.round(np.linspace(...)). */
  lengths: number[];
  depths: number[];
}

const BUILT_IN = {
  needle: '\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n',
  retrieval_question: 'What is the best thing to do in San Francisco?',
  context_lengths: { min: 1000, max: 16000, num_intervals: 35 },
  document_depth_percent: { min: 0, max: 100, intervals: 35 },
};

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/** np.round(np.linspace(min, max, num)). */
export function linspaceRounded(min: number, max: number, num: number): number[] {
  if (num === 1) return [roundHalfEven(min)];
  return Array.from({ length: num }, (_, i) => roundHalfEven(min + ((max - min) * i) / (num - 1)));
}

export function loadNiahDefaults(dataRoot?: string): NiahDefaults {
  let j: typeof BUILT_IN = BUILT_IN;
  const file = dataRoot !== undefined ? join(dataRoot, ESSAYS_DIR, 'NIAH_DEFAULTS.json') : undefined;
  if (file && existsSync(file)) {
    try {
      j = JSON.parse(readFileSync(file, 'utf8')) as typeof BUILT_IN;
    } catch (e) {
      throw new KvError(`${file}: not valid JSON (${(e as Error).message}); restore the file from the data set`);
    }
  }
  const needle = j.needle;
  const question = j.retrieval_question;
  if (typeof needle !== 'string' || typeof question !== 'string') {
    throw new KvError(`${file}: needs string fields 'needle' and 'retrieval_question'`);
  }
  // "What is the best thing to do in San Francisco?" → "The best thing to do in San Francisco is".
  const m = /^What is (.*)\?$/.exec(question.trim());
  const answerPrefix = m ? m[1]!.charAt(0).toUpperCase() + m[1]!.slice(1) + ' is' : '';
  const body = needle.trim();
  const answer = answerPrefix && body.startsWith(answerPrefix) ? body.slice(answerPrefix.length).trim().replace(/\.$/, '') : body;
  const cl = j.context_lengths ?? BUILT_IN.context_lengths;
  const dp = j.document_depth_percent ?? BUILT_IN.document_depth_percent;
  return {
    needle,
    question,
    answerPrefix,
    answer,
    lengths: linspaceRounded(cl.min, cl.max, cl.num_intervals),
    depths: linspaceRounded(dp.min, dp.max, dp.intervals),
  };
}
