/**
 * Outside reference 1: llama2.c's greedy output for stories260K (`run stories260K.bin -z tok512.bin -t 0.0 -n 200`,
 * from ../shared/data/models/expected_outputs.json). llama2.c's 200 steps include the BOS position, and it prints a
 * token at every step: 200 generated tokens, so `--max-tokens 200`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, type BackendName } from '../../src/model/load-model.js';
import { generate } from '../../src/generate/session.js';
import { sharedData } from '../helpers/shared-data.js';

const model = sharedData('models/stories260K.bin');
const tok = sharedData('models/tok512.bin');
const expectedFile = sharedData('models/expected_outputs.json');
const skip = !model || !tok || !expectedFile ? 'needs ../shared/data/models (stories260K.bin, tok512.bin, expected_outputs.json)' : false;
const expected = () =>
  (JSON.parse(readFileSync(expectedFile!, 'utf8')) as Record<string, { expected_stdout: string }>)['stories260K_greedy']!.expected_stdout;

async function ortAvailable(): Promise<boolean> {
  try {
    await import('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
}

for (const backend of ['reference', 'ort'] as BackendName[]) {
  test(`stories260K greedy, 200 tokens, equals llama2.c (${backend} backend)`, { skip }, async (t) => {
    if (backend === 'ort' && !(await ortAvailable())) return t.skip('onnxruntime-node is not installed');
    const m = await loadModel(model!, { tokenizerPath: tok!, backend, threads: 1 });
    try {
      const r = await generate(m, { maxTokens: 200, sampling: { temperature: 0 } });
      assert.equal(r.tokens.length, 200);
      assert.equal(r.text, expected());
    } finally {
      await m.close();
    }
  });
}

test('kvmerger generate prints exactly llama2.c text on stdout', { skip }, () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'generate', '--model', model!, '--tokenizer', tok!, '--temperature', '0', '--max-tokens', '200', '--backend', 'reference'],
    { encoding: 'utf8', cwd: root },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.replace(/\n$/, ''), expected());
});
