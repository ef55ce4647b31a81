// Every expected value below is computed by hand in the comment beside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  normalizeAnswer,
  qaF1,
  qaF1Zh,
  zhTokens,
  rougeScore,
  rougeZhScore,
  classificationScore,
  retrievalScore,
  retrievalZhScore,
  countScore,
  fuzzRatio,
  codeSimScore,
  longBenchScore,
  postProcessPrediction,
  DATASET_METRIC,
} from '../../../src/eval/metrics/longbench-metrics.js';
import { rougeL, lcsWords, rouge1Recall } from '../../../src/eval/metrics/rouge.js';

const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

test('normalizeAnswer: lowercase, punctuation, articles, whitespace', () => {
  assert.equal(normalizeAnswer('The  U.S.A., an Apple!'), 'usa apple');
  assert.equal(normalizeAnswer('A banana and an apple'), 'banana and apple'); // "an" inside "banana" stays
});

test('qa_f1 on hand-checked cases', () => {
  // pred → [cat, sat, on, mat]; truth "A cat sat." → [cat, sat]; common 2: P = 2/4, R = 2/2, F1 = 2·0.5·1/1.5 = 2/3.
  close(qaF1('The cat sat on the mat.', 'A cat sat.'), 2 / 3);
  // [paris, paris, london] vs [paris]: common min(2, 1) = 1: P = 1/3, R = 1, F1 = (2/3)/(4/3) = 0.5.
  close(qaF1('paris paris london', 'Paris'), 0.5);
  assert.equal(qaF1('berlin', 'paris'), 0);
  assert.equal(qaF1('usa', 'U.S.A.'), 1); // punctuation removed inside words
});

test('qa_f1_zh (character-level) on hand-checked cases', () => {
  assert.deepEqual(zhTokens('iOS 11系统，好'), ['iOS', '11', '系', '统', '，', '好']);
  // "厦门大学。" → [厦, 门, 大, 学] after dropping the normalised-empty "。"; identical to the truth: 1.
  close(qaF1Zh('厦门大学。', '厦门大学'), 1);
  // [在, 厦, 门] vs [厦, 门, 大, 学]: common 2: P = 2/3, R = 2/4, F1 = 2·(1/3)/(7/6) = 4/7.
  close(qaF1Zh('在厦门', '厦门大学'), 4 / 7);
});

test('rouge (ROUGE-L F, summary level over unique words, as the rouge package)', () => {
  // One sentence each. ref words {the, cat, is, on, mat} (5 distinct), hyp {the, cat, sat, on, mat} (5).
  // LCS = "the cat on the mat" → word set {the, cat, on, mat} = 4. R = P = 4/5, F = 2·0.64/(1.6 + 1e-8) ≈ 0.8.
  close(rougeScore('the cat sat on the mat', 'the cat is on the mat'), 0.8);
  // Sentences split on '.': ref ["a c", "b d"], hyp ["a b", "c d"]. Union of per-pair LCS word sets:
  // (a c, a b) → {a}, (a c, c d) → {c}, (b d, a b) → {b}, (b d, c d) → {d} → 4 of 4 distinct words: F ≈ 1.
  close(rougeScore('a b. c d', 'a c. b d'), 1);
  // Unique words: ref [a, a, b] (distinct 2), hyp [a, a, a] (distinct 1), LCS [a, a] → set {a} = 1.
  // R = 1/2, P = 1/1, F = 2·0.5/1.5 = 2/3.
  close(rougeScore('a a a', 'a a b'), 2 / 3);
  // No lowercasing in the rouge package.
  assert.equal(rougeScore('Cat', 'cat'), 0);
  // Empty candidate: the package raises and LongBench returns 0.
  assert.equal(rougeScore('', 'the cat'), 0);
  assert.equal(rougeScore('...', 'the cat'), 0);
  const s = rougeL('x y z', 'x y');
  close(s.p, 2 / 3);
  close(s.r, 1);
});

test('lcsWords breaks ties as the rouge package', () => {
  // x = [a, b], y = [b, a]: both "a" and "b" are LCSs; at (2, 2) table[1][2] = table[2][1] = 1 → step j: picks "b".
  assert.deepEqual(lcsWords(['a', 'b'], ['b', 'a']), ['b']);
  assert.deepEqual(lcsWords(['a', 'b', 'c', 'd'], ['a', 'c', 'd']), ['a', 'c', 'd']);
});

test('rouge_zh (character-level)', () => {
  // "今 天 天 气 好" vs "今 天 天 气 很 好": ref distinct {今, 天, 气, 很, 好} = 5, hyp {今, 天, 气, 好} = 4,
  // LCS 今天天气好 → set of 4. R = 4/5, P = 1, F = 1.6/1.8 = 8/9.
  close(rougeZhScore('今天天气好', '今天天气很好'), 8 / 9);
});

test('classification accuracy, with the Python loop quirk', () => {
  // Matches [Human, Human being]; "Human" is a strict substring of the truth → removed → 1/1.
  assert.equal(classificationScore('Human being', 'Human being', ['Human', 'Human being', 'Location']), 1);
  // Matches [a, ab, abc, x]: "a" removed, the loop then skips "ab" (index moved on), keeps "abc", "x" → 1/3.
  close(classificationScore('abc x', 'abc', ['a', 'ab', 'abc', 'x']), 1 / 3);
  assert.equal(classificationScore('Location', 'Human being', ['Human being', 'Location']), 0);
});

test('retrieval and count accuracy', () => {
  assert.equal(retrievalScore('Paragraph 27', 'Paragraph 27'), 1);
  assert.equal(retrievalScore('Paragraph 3 or Paragraph 27', 'Paragraph 27'), 0.5); // numbers [3, 27]
  assert.equal(retrievalScore('I do not know', 'Paragraph 27'), 0);
  assert.equal(retrievalZhScore('答案是段落27，不是段落3', '段落27'), 0.5);
  assert.equal(countScore('There are 12 unique paragraphs out of 20', '12'), 0.5); // numbers [12, 20]
  assert.equal(countScore('12', '12'), 1);
});

test('fuzz.ratio and code edit similarity', () => {
  // kitten / sitting: LCS "ittn" = 4, 2·4/13 = 61.5 → 62 (fuzz.ratio's well-known value).
  assert.equal(fuzzRatio('kitten', 'sitting'), 62);
  // LCS 1, lengths 1 + 15: 200/16 = 12.5 → Python's round → 12 (half to even).
  assert.equal(fuzzRatio('a', 'a' + 'b'.repeat(14)), 12);
  assert.equal(fuzzRatio('', ''), 100);
  assert.equal(fuzzRatio('', 'x'), 0);
  // First line without # → "    return x + 1": exact.
  assert.equal(codeSimScore('\n# comment\n    return x + 1\nfoo', '    return x + 1'), 1);
  // "return y" vs "return x": LCS 7 of 16 → 87.5 → 88 (half to even) → 0.88.
  assert.equal(codeSimScore('`code`\nreturn y', 'return x'), 0.88);
});

test('longBenchScore: post-processing and the best ground truth', () => {
  assert.equal(postProcessPrediction('trec', '\n\nHuman being\nLocation'), 'Human being');
  assert.equal(postProcessPrediction('multi_news', 'a\nb'), 'a\nb');
  assert.equal(longBenchScore('trec', '\nLocation\nHuman being', ['Human being'], ['Human being', 'Location']), 0);
  // Best over truths: qa_f1 against "paris" is 0.5 (see above), against "paris paris london" is 1.
  assert.equal(longBenchScore('hotpotqa', 'paris paris london', ['Paris', 'Paris Paris London']), 1);
  assert.equal(Object.keys(DATASET_METRIC).length, 21);
  assert.throws(() => longBenchScore('nope', 'x', ['x']));
});

test('rouge1Recall for needles', () => {
  // Reference tokens [eat, a, sandwich]; the candidate has eat and sandwich: 2/3.
  close(rouge1Recall('I would eat. Sandwich!', 'eat a sandwich'), 2 / 3);
  // Clipped: reference [a, a], candidate one "a" → 1/2.
  close(rouge1Recall('a', 'a a'), 0.5);
  assert.equal(rouge1Recall('x', ''), 0);
});
