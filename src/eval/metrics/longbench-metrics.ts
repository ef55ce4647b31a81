/**
 * LongBench's metrics (THUDM/LongBench metrics.py and eval.py), written from their definitions. Each takes one
 * prediction and one ground truth and returns a score in [0, 1]; `longBenchScore` takes the best over the ground
 * truths after LongBench's post-processing, as eval.py's `scorer` does.
 *
 * Chinese without jieba: where LongBench segments Chinese with jieba (qa_f1_zh, rouge_zh), we segment with
 * `zhTokens`: every run of ASCII letters and digits is one token, every other non-whitespace character is one token
 * of its own (each Han character, each punctuation mark), whitespace separates and is dropped. Jieba would group Han
 * characters into words; character-level scores are therefore not identical to LongBench's published numbers, but
 * they rank predictions the same way in the common case and need no dictionary.
 */
import { rougeL } from './rouge.js';
import { sharedTokenCount } from './shared-token-count.js';

/** Python's string.punctuation. */
const ASCII_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
/** The Chinese punctuation list of LongBench's normalize_zh_answer. */
const CN_PUNCTUATION = '！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.';
const EN_PUNCT = new Set(ASCII_PUNCTUATION);
const ZH_PUNCT = new Set([...ASCII_PUNCTUATION, ...CN_PUNCTUATION]);

/** Python's str.split(): split on whitespace runs, no empty pieces. */
function pySplit(s: string): string[] {
  return s.split(/\s+/u).filter((w) => w.length > 0);
}

/** SQuAD-style normalisation: lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace. */
export function normalizeAnswer(s: string): string {
  const noPunc = Array.from(s.toLowerCase())
    .filter((c) => !EN_PUNCT.has(c))
    .join('');
  // Python's \b in a str pattern is Unicode-aware: a word character is a letter, digit or underscore of any script.
  const noArticles = noPunc.replace(/(?<![\p{L}\p{N}_])(a|an|the)(?![\p{L}\p{N}_])/gu, ' ');
  return pySplit(noArticles).join(' ');
}

/** LongBench's Chinese normalisation: lowercase, drop ASCII and Chinese punctuation, remove all whitespace. */
export function normalizeZhAnswer(s: string): string {
  return Array.from(s.toLowerCase())
    .filter((c) => !ZH_PUNCT.has(c) && !/\s/u.test(c))
    .join('');
}

/** The jieba-free segmentation described at the top of this file. */
export function zhTokens(s: string): string[] {
  return s.match(/[A-Za-z0-9]+|\S/gu) ?? [];
}

/** Token-multiset F1 (LongBench's f1_score): 0 when nothing is shared. */
export function tokenF1(prediction: string[], truth: string[]): number {
  const same = sharedTokenCount(truth, prediction);
  if (same === 0) return 0;
  const precision = same / prediction.length;
  const recall = same / truth.length;
  return (2 * precision * recall) / (precision + recall);
}

export function qaF1(prediction: string, truth: string): number {
  return tokenF1(pySplit(normalizeAnswer(prediction)), pySplit(normalizeAnswer(truth)));
}

/** qa_f1_zh with character-level segmentation: tokens normalised one by one, empty ones dropped. */
export function qaF1Zh(prediction: string, truth: string): number {
  const toks = (s: string) => zhTokens(s).map(normalizeZhAnswer).filter((t) => t.length > 0);
  return tokenF1(toks(prediction), toks(truth));
}

/** ROUGE-L F as LongBench's rouge_score (the `rouge` package; see rouge.ts). */
export function rougeScore(prediction: string, truth: string): number {
  return rougeL(prediction, truth).f;
}

/** rouge_zh_score: segment (character-level), join with spaces, then ROUGE-L F. */
export function rougeZhScore(prediction: string, truth: string): number {
  return rougeScore(zhTokens(prediction).join(' '), zhTokens(truth).join(' '));
}

/**
 * classification_score: the classes named in the prediction; a match that is a strict substring of the truth is
 * dropped (with the Python loop's quirk kept: removing from the list while iterating skips the next element);
 * score 1 / (matches left) when the truth is among them.
 */
export function classificationScore(prediction: string, truth: string, allClasses: readonly string[]): number {
  const matches = allClasses.filter((c) => prediction.includes(c));
  // Python's `for x in list: list.remove(x)` walks an index that does not step back after a removal.
  for (let i = 0; i < matches.length; i++) {
    const term = matches[i]!;
    if (truth.includes(term) && term !== truth) matches.splice(matches.indexOf(term), 1);
  }
  return matches.includes(truth) ? 1 / matches.length : 0;
}

/** Fraction of the numbers in the prediction that equal `id` (0 when it has no numbers). */
function numberShare(prediction: string, id: string): number {
  const numbers = prediction.match(/\d+/g) ?? [];
  if (numbers.length === 0) return 0;
  return numbers.filter((n) => n === id).length / numbers.length;
}

/** retrieval_score: the truth reads "Paragraph N". */
export function retrievalScore(prediction: string, truth: string): number {
  const m = /Paragraph (\d+)/.exec(truth);
  return m ? numberShare(prediction, m[1]!) : 0;
}

/** retrieval_zh_score: the truth reads "段落N". */
export function retrievalZhScore(prediction: string, truth: string): number {
  const m = /段落(\d+)/.exec(truth);
  return m ? numberShare(prediction, m[1]!) : 0;
}

/** count_score: the truth is the count. */
export function countScore(prediction: string, truth: string): number {
  return numberShare(prediction, String(truth));
}

/** Python 3's round() to an integer: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * fuzz.ratio (fuzzywuzzy / thefuzz with python-Levenshtein): 100 for equal strings, else
 * round(100 × (len1 + len2 − indel distance) / (len1 + len2)) = round(100 × 2·LCS / (len1 + len2)) over code points.
 */
export function fuzzRatio(a: string, b: string): number {
  if (a === b) return 100;
  const x = Array.from(a);
  const y = Array.from(b);
  const total = x.length + y.length;
  if (x.length === 0 || y.length === 0) return 0;
  // LCS length in O(len1 × len2) time and O(len2) memory.
  let prev = new Uint32Array(y.length + 1);
  let cur = new Uint32Array(y.length + 1);
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      cur[j] = x[i - 1] === y[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    }
    [prev, cur] = [cur, prev];
  }
  return roundHalfEven((100 * 2 * prev[y.length]!) / total);
}

/** code_sim_score: the first line without '`', '#' or '//' (leading newlines dropped), fuzz.ratio / 100. */
export function codeSimScore(prediction: string, truth: string): number {
  const lines = prediction.replace(/^\n+/, '').split('\n');
  const line = lines.find((l) => !l.includes('`') && !l.includes('#') && !l.includes('//')) ?? '';
  return fuzzRatio(line, truth) / 100;
}

export type LongBenchMetric =
  | 'qa_f1'
  | 'qa_f1_zh'
  | 'rouge'
  | 'rouge_zh'
  | 'classification'
  | 'retrieval'
  | 'retrieval_zh'
  | 'count'
  | 'code_sim';

/** eval.py's dataset2metric. */
export const DATASET_METRIC: Readonly<Record<string, LongBenchMetric>> = {
  narrativeqa: 'qa_f1',
  qasper: 'qa_f1',
  multifieldqa_en: 'qa_f1',
  multifieldqa_zh: 'qa_f1_zh',
  hotpotqa: 'qa_f1',
  '2wikimqa': 'qa_f1',
  musique: 'qa_f1',
  dureader: 'rouge_zh',
  gov_report: 'rouge',
  qmsum: 'rouge',
  multi_news: 'rouge',
  vcsum: 'rouge_zh',
  trec: 'classification',
  triviaqa: 'qa_f1',
  samsum: 'rouge',
  lsht: 'classification',
  passage_retrieval_en: 'retrieval',
  passage_count: 'count',
  passage_retrieval_zh: 'retrieval_zh',
  lcc: 'code_sim',
  'repobench-p': 'code_sim',
};

/** Datasets whose prediction is cut to its first line before scoring (eval.py). */
export const FIRST_LINE_DATASETS: readonly string[] = ['trec', 'triviaqa', 'samsum', 'lsht'];

export function metricScore(metric: LongBenchMetric, prediction: string, truth: string, allClasses: readonly string[] = []): number {
  switch (metric) {
    case 'qa_f1':
      return qaF1(prediction, truth);
    case 'qa_f1_zh':
      return qaF1Zh(prediction, truth);
    case 'rouge':
      return rougeScore(prediction, truth);
    case 'rouge_zh':
      return rougeZhScore(prediction, truth);
    case 'classification':
      return classificationScore(prediction, truth, allClasses);
    case 'retrieval':
      return retrievalScore(prediction, truth);
    case 'retrieval_zh':
      return retrievalZhScore(prediction, truth);
    case 'count':
      return countScore(prediction, truth);
    case 'code_sim':
      return codeSimScore(prediction, truth);
  }
}

/** LongBench's post-processing of a prediction before scoring: first line only for the few-shot datasets. */
export function postProcessPrediction(dataset: string, prediction: string): string {
  return FIRST_LINE_DATASETS.includes(dataset) ? prediction.replace(/^\n+/, '').split('\n')[0]! : prediction;
}

/** One sample's score as eval.py's scorer: post-process, then the best metric over the ground truths. */
export function longBenchScore(dataset: string, prediction: string, truths: readonly string[], allClasses: readonly string[] = []): number {
  const metric = DATASET_METRIC[dataset];
  if (metric === undefined) throw new Error(`longBenchScore: unknown dataset '${dataset}'`);
  const pred = postProcessPrediction(dataset, prediction);
  let best = 0;
  for (const t of truths) best = Math.max(best, metricScore(metric, pred, t, allClasses));
  return best;
}
