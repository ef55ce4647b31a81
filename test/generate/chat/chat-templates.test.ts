// The chat templates people's GGUF files carry (Llama 3.x, Qwen 2.5/3, Gemma 2/3, Phi-3/3.5, Mistral), rendered by
// applyChatTemplate (@huggingface/jinja), against what Hugging Face's apply_chat_template renders from them:
// test/fixtures/chat-templates/renderings.json, written out by hand from each template's logic (and checked with
// Python's jinja2 set up as transformers sets it up: check-with-jinja2.py there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyChatTemplate, strftime, type ChatMessage } from '../../../src/generate/chat-template.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'chat-templates');

interface Case {
  conversation: string;
  addGenerationPrompt?: boolean;
  context?: Record<string, unknown>;
  today?: string;
  expected?: string;
  error?: string;
}
interface Spec {
  conversations: Record<string, ChatMessage[]>;
  templates: Record<string, { file: string; bos: string; eos: string; endOfTurn: string; cases: Case[] }>;
}

const spec = JSON.parse(readFileSync(join(dir, 'renderings.json'), 'utf8')) as Spec;

for (const [name, t] of Object.entries(spec.templates)) {
  test(`chat template ${name}: renders as apply_chat_template does`, () => {
    const template = readFileSync(join(dir, t.file), 'utf8');
    const now = new Date(2026, 11, 8, 3, 0, 0);
    for (const [i, c] of t.cases.entries()) {
      const messages = spec.conversations[c.conversation];
      assert.ok(messages, c.conversation);
      const render = () =>
        applyChatTemplate(template, messages, {
          bosToken: t.bos,
          eosToken: t.eos,
          addGenerationPrompt: c.addGenerationPrompt ?? true,
          ...(c.context ? { context: c.context } : {}),
          now: () => now,
        });
      const label = `${name} case ${i} (${c.conversation})`;
      if (c.error !== undefined) {
        assert.throws(render, (err: Error) => err.message.includes(c.error!), label);
        continue;
      }
      const expected = c.today ? c.expected!.replace('{today}', strftime(c.today, now)) : c.expected!;
      assert.equal(render(), expected, label);
    }
    // every template ends an assistant turn with its end-of-turn marker
    const done = t.cases.find((c) => c.addGenerationPrompt === false && c.expected?.includes('How can I help?'));
    if (done) assert.ok(done.expected!.includes(`How can I help?${t.endOfTurn}`), `${name}: ${t.endOfTurn} closes the assistant turn`);
  });
}

test('strftime: the directives templates use', () => {
  const d = new Date(2026, 0, 5, 14, 7, 9);
  assert.equal(strftime('%d %b %Y', d), '05 Jan 2026');
  assert.equal(strftime('%A %B %-d %H:%M:%S %y %j %%', d), 'Monday January %-d 14:07:09 26 005 %');
});

test('raise_exception in a template is a KvError with the template message', () => {
  assert.throws(
    () => applyChatTemplate("{{ raise_exception('no system role') }}", [{ role: 'system', content: 'x' }]),
    /chat template refuses this conversation: no system role/,
  );
});
