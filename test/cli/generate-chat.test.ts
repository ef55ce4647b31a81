// `kvmerger generate --chat` on a GGUF that carries `tokenizer.chat_template`: the template comes from the file's
// metadata and the rendered prompt is what goes through the model (ids known by construction of the vocabulary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/load-model.js';
import { generate } from '../../src/generate/session.js';
import { run } from '../../src/cli/commands/generate.js';
import { CHAT_TEMPLATE, writeChatModel } from '../helpers/chat-model.js';
import { runCommand } from '../helpers/run-command.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-chat-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const TEMPLATE = CHAT_TEMPLATE;

// The helper's SentencePiece vocabulary (<unk> <s> </s>, 256 byte tokens at 3..258, the markers 259 "[U]", 260 "[/U]",
// 261 "[A]", always split out whole) plus "h", "i", "hi" (262, 263, 264), "hi" scored so that it wins the merge.
function writeModel(path: string, chatTemplate?: string): void {
  writeChatModel(path, chatTemplate, {
    seed: 3,
    extraTokens: [
      { text: 'h', score: -10 },
      { text: 'i', score: -10 },
      { text: 'hi', score: 0 },
    ],
  });
}

const withTemplate = join(dir, 'chat.gguf');
const without = join(dir, 'plain.gguf');
writeModel(withTemplate, TEMPLATE);
writeModel(without);

test('the chat template is read from the GGUF and renders the prompt: BOS once, then [U] hi [/U] [A]', async () => {
  const m = await loadModel(withTemplate, { backend: 'reference' });
  try {
    assert.equal(m.chatTemplate, TEMPLATE);
    const chat = await generate(m, { prompt: 'hi', chat: true, maxTokens: 1 });
    assert.deepEqual(chat.promptTokens, [1, 259, 264, 260, 261]);
    const plain = await generate(m, { prompt: 'hi', maxTokens: 1 });
    assert.deepEqual(plain.promptTokens, [1, 264]);
  } finally {
    await m.close();
  }
});

test('kvmerger generate --chat: the rendered prompt goes through the model; a file without a template is a clear error', async () => {
  const args = ['--model', withTemplate, '--backend', 'reference', '--prompt', 'hi', '--max-tokens', '2', '--temperature', '0', '--json'];
  const chat = await runCommand(run, [...args, '--chat']);
  assert.equal(chat.code, 0);
  assert.deepEqual(JSON.parse(chat.out).tokens, { prompt: 5, generated: 2 });
  const plain = await runCommand(run, args);
  assert.equal(JSON.parse(plain.out).tokens.prompt, 2);
  await assert.rejects(
    run(['--model', without, '--backend', 'reference', '--prompt', 'hi', '--chat']),
    /--chat: the model file has no chat template \(tokenizer\.chat_template\); run without --chat/,
  );
});
