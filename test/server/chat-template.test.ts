// A model file with its own tokenizer.chat_template: the server renders messages with it (not the fallback), BOS
// once, and the prompt's token count is the rendered template's.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/load-model.js';
import { startServer } from '../../src/server/app.js';
import { engineModel } from '../../src/cli/commands/serve.js';
import { FALLBACK_CHAT_TEMPLATE } from '../../src/server/engine.js';
import { CHAT_TEMPLATE, MARKER_IDS, writeChatModel } from '../helpers/chat-model.js';
import { DEFAULTS, http } from './server-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-serve-template-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("messages go through the model's own chat template", async () => {
  const path = join(dir, 'chat.gguf');
  writeChatModel(path, CHAT_TEMPLATE, { contextLength: 64 });
  const m = await loadModel(path, { backend: 'reference' });
  const s = await startServer({ model: engineModel(m, undefined), defaults: DEFAULTS, host: '127.0.0.1', port: 0 });
  try {
    const models = (await http(`${s.url}/v1/models`)).json();
    assert.equal(models.data[0].id, 'chat');
    assert.equal(models.data[0].meta.chat_template, 'model');
    const r = await http(`${s.url}/v1/chat/completions`, { json: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, temperature: 0 } });
    assert.equal(r.status, 200, r.text);
    // <s> [U] h i [/U] [A]: BOS once, the markers as single tokens, 'h' and 'i' one byte token each
    assert.equal(r.json().usage.prompt_tokens, 6);
    const ids = m.tokenizer.encode(`<s>[U]hi[/U][A]`, { addSpecial: false, parseSpecial: true });
    assert.deepEqual(ids.slice(1, 2), [MARKER_IDS.user]);
    assert.equal(ids.length, 6);
  } finally {
    await s.close();
    await m.close();
  }
});

test('the fallback template renders plain User:/Assistant: turns ending with Assistant:', async () => {
  const { applyChatTemplate } = await import('../../src/generate/chat-template.js');
  const text = applyChatTemplate(FALLBACK_CHAT_TEMPLATE, [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello.' },
    { role: 'user', content: 'Who are you?' },
  ]);
  assert.equal(text, 'Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: Who are you?\nAssistant:');
});
