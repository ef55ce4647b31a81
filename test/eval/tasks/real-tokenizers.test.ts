// The tasks with the project's real tokenizers (byte-level BPE of SmolLM2, SentencePiece of stories260K): token
// counts stay within the requested lengths and the prompts keep their formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTokenizer } from '../../../src/tokenizer/load-tokenizer.js';
import { getTask } from '../../../src/eval/tasks/registry.js';
import { sharedData } from '../../helpers/shared-data.js';
import type { EvalTokenizer } from '../../../src/eval/tasks/task.js';

const root = sharedData();
const tokenizers: [string, string][] = [
  ['smollm2 bpe', 'models/smollm2-135m/tokenizer.json'],
  ['tok512 spm', 'models/tok512.bin'],
];

for (const [label, rel] of tokenizers) {
  test(`tasks with the ${label} tokenizer (shared data)`, (t) => {
    const file = sharedData(rel);
    if (!root || !file) return t.skip('../shared/data absent');
    const tok: EvalTokenizer = loadTokenizer(file);
    const count = (s: string) => tok.encode(s, { addSpecial: false, parseSpecial: false }).length;
    for (const s of getTask('passkey').samples({ seed: 1, tokenizer: tok, lengths: [1000], depths: [0, 50, 100], dataRoot: root })) {
      assert.equal(s.promptTokens, count(s.prompt));
      assert.ok(s.promptTokens <= 1000 && s.promptTokens > 850, `${s.id}: ${s.promptTokens}`);
      assert.match(s.prompt, /The pass key is (\d{5})\. Remember it\. \1 is the pass key\./);
      assert.ok(s.prompt.endsWith('\nWhat is the pass key? The pass key is'));
    }
    const [n] = getTask('niah').samples({ seed: 1, tokenizer: tok, lengths: [1500], depths: [50], dataRoot: root });
    assert.ok(n!.promptTokens <= 1500 && n!.promptTokens > 1490, String(n!.promptTokens));
    const [r] = getTask('ruler-niah_single_2').samples({ seed: 1, tokenizer: tok, lengths: [1024], dataRoot: root });
    assert.ok(r!.promptTokens + 128 <= 1024 && r!.promptTokens + 128 > 950, String(r!.promptTokens));
    const [l] = getTask('longbench-multifieldqa_zh').samples({ seed: 0, tokenizer: tok, lengths: [1500], count: 1, dataRoot: root });
    // Re-encoding the two decoded halves can merge across the cut: at most a couple of tokens either way.
    assert.ok(Math.abs(l!.promptTokens - 1500) <= 3, String(l!.promptTokens));
    const [f] = getTask('fidelity').samples({ seed: 1, tokenizer: tok, lengths: [512], dataRoot: root, options: { k: 32 } });
    assert.equal(f!.promptIds!.length, 512);
    assert.equal(f!.continuationIds!.length, 32);
  });
}
