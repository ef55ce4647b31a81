// generate(model, { messages }) renders the conversation with the model file's chat template: the same prompt as
// chat: messages, BOS once, and the pipeline's chat input goes the same way.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../../src/model/load-model.js';
import { generate } from '../../../src/generate/session.js';
import { CHAT_TEMPLATE, MARKER_IDS, byteId, writeChatModel } from '../../helpers/chat-model.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-messages-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('generate(model, { messages }) uses the chat template, BOS once', async () => {
  const path = join(dir, 'chat.gguf');
  writeChatModel(path, CHAT_TEMPLATE, { contextLength: 64 });
  const m = await loadModel(path, { backend: 'reference' });
  try {
    const messages = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'yo' },
      { role: 'user', content: 'ok' },
    ];
    const r = await generate(m, { messages, maxTokens: 2, sampling: { temperature: 0 } });
    const { user, endUser, assistant } = MARKER_IDS;
    const turn = (s: string) => [user, ...[...s].map(byteId), endUser];
    assert.deepEqual(r.promptTokens, [1, ...turn('hi'), ...turn('yo'), ...turn('ok'), assistant]);
    const same = await generate(m, { chat: messages, maxTokens: 2, sampling: { temperature: 0 } });
    assert.deepEqual(same.promptTokens, r.promptTokens);
    assert.deepEqual(same.tokens, r.tokens);
    await assert.rejects(generate(m, { messages: [] }), /no messages/);
  } finally {
    await m.close();
  }
});

test('messages without a chat template in the file: a clear error', async () => {
  const path = join(dir, 'plain.gguf');
  writeChatModel(path, undefined, { contextLength: 64 });
  const m = await loadModel(path, { backend: 'reference' });
  try {
    await assert.rejects(generate(m, { messages: [{ role: 'user', content: 'hi' }] }), /no chat template/);
  } finally {
    await m.close();
  }
});
