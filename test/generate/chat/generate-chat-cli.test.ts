// kvmerger generate --system / --chat-template-kwargs: a system turn before the prompt and extra template variables.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, parseTemplateKwargs } from '../../../src/cli/commands/generate.js';
import { writeChatModel } from '../../helpers/chat-model.js';
import { runCommand } from '../../helpers/run-command.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-chat-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// one [U]..[/U] per message, and "[A]" only when the template variable `open` is not false
const TEMPLATE = "{{ bos_token }}{% for m in messages %}[U]{{ m.content }}[/U]{% endfor %}{% if open is not defined or open %}[A]{% endif %}";

test('--system adds a system turn (and implies --chat); --chat-template-kwargs sets template variables', async () => {
  const path = join(dir, 'chat.gguf');
  writeChatModel(path, TEMPLATE, { contextLength: 64 });
  const base = ['--model', path, '--backend', 'reference', '--prompt', 'hi', '--max-tokens', '1', '--temperature', '0', '--json'];
  const promptTokens = async (extra: string[]) => {
    const r = await runCommand(run, [...base, ...extra]);
    assert.equal(r.code, 0, r.out);
    return JSON.parse(r.out).tokens.prompt as number;
  };
  // <s> [U] h i [/U] [A] = 6; with a system turn "s": + [U] s [/U] = 9; without [A]: 5
  assert.equal(await promptTokens(['--chat']), 6);
  assert.equal(await promptTokens(['--system', 's']), 9);
  assert.equal(await promptTokens(['--chat', '--chat-template-kwargs', '{"open": false}']), 5);
  assert.deepEqual(parseTemplateKwargs('{"enable_thinking": false}'), { enable_thinking: false });
  assert.throws(() => parseTemplateKwargs('[1]'), /give a JSON object/);
  assert.throws(() => parseTemplateKwargs('{x'), /not JSON/);
});
