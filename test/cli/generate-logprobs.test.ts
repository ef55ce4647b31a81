import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/cli/commands/generate.js';
import { KvError } from '../../src/util/errors.js';
import { runCommand } from '../helpers/run-command.js';

interface Piece {
  token: string;
  bytes: number[];
  logprob: number;
  top_logprobs: { token: string; bytes: number[]; logprob: number }[];
}

test('generate --logprobs N --json: each token with its log-probability and N alternatives, in OpenAI shape', async () => {
  const { code, out } = await runCommand(run, ['-p', 'Once upon a time', '-n', '5', '--temperature', '0', '--logprobs', '3', '--json', '-q']);
  assert.equal(code, 0);
  const r = JSON.parse(out) as { text: string; tokens: { generated: number }; logprobs: { content: Piece[] } };
  const c = r.logprobs.content;
  assert.equal(c.length, r.tokens.generated);
  assert.equal(c.map((p) => p.token).join(''), r.text, 'the pieces spell the text');
  for (const p of c) {
    assert.equal(p.top_logprobs.length, 3);
    assert.ok(p.logprob <= 0);
    // Greedy: the chosen token is the most likely one.
    assert.equal(p.top_logprobs[0]!.token, p.token);
    assert.ok(Math.abs(p.top_logprobs[0]!.logprob - p.logprob) < 1e-9);
    assert.ok(p.top_logprobs[0]!.logprob >= p.top_logprobs[1]!.logprob && p.top_logprobs[1]!.logprob >= p.top_logprobs[2]!.logprob);
    assert.deepEqual(p.bytes, [...new TextEncoder().encode(p.token)]);
  }
});

test('generate --logprobs without --json, or out of [0, 20], is one clear error', async () => {
  await assert.rejects(runCommand(run, ['-p', 'x', '--logprobs', '2']), (e: Error) => e instanceof KvError && /--logprobs needs --json/.test(e.message));
  await assert.rejects(runCommand(run, ['-p', 'x', '--logprobs', '21', '--json']), (e: Error) => e instanceof KvError && /logprobs/.test(e.message));
});
