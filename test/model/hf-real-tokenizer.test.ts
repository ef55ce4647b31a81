/**
 * A folder with a real tokenizer.json (SmolLM2-135M's, from ../shared/data/models/smollm2-135m) and random weights of
 * a shrunk SmolLM2 config: the pre-tokenizer is named `smollm` as llama.cpp's converter names it, and the converted
 * GGUF's vocabulary tokenises llama.cpp's tokenizer test texts as the tokenizer.json does, in kvmerger and in llama.cpp.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertHFFolder } from '../../src/formats/hf-convert.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';
import { writeRandomHFFolder } from '../helpers/hf-folder.js';
import { llamaCpp } from '../helpers/llama-cpp.js';
import { sharedData } from '../helpers/shared-data.js';

const real = sharedData('models/smollm2-135m');
const texts = sharedData('tokenizer-tests/ggml-vocab-gpt-2.gguf.inp');

test('SmolLM2 tokenizer.json → GGUF: pre smollm, same ids as tokenizer.json in kvmerger and llama.cpp', { skip: real && texts ? false : 'needs ../shared/data/models/smollm2-135m and tokenizer-tests' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-hf-real-'));
  try {
    const folder = join(dir, 'smollm2');
    const cfg = JSON.parse(readFileSync(join(real!, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeRandomHFFolder(folder, { arch: 'llama', hidden: 64, heads: 4, kvHeads: 2, ffn: 96, layers: 2, tied: true, vocabSize: cfg.vocab_size as number }, 41);
    const mine = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...cfg, ...Object.fromEntries(['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads'].map((k) => [k, mine[k]])) }));
    copyFileSync(join(real!, 'tokenizer.json'), join(folder, 'tokenizer.json'));
    rmSync(join(folder, 'tokenizer_config.json'));
    const out = join(dir, 'smollm2.gguf');
    convertHFFolder(folder, out, 'f16');
    const g = openModelFile(out);
    assert.equal(g.metadata?.get('tokenizer.ggml.pre'), 'smollm');
    assert.equal((g.metadata?.get('tokenizer.ggml.tokens') as string[]).length, 49152);
    assert.equal(g.metadata?.get('tokenizer.ggml.bos_token_id'), 1);
    assert.equal(g.metadata?.get('tokenizer.ggml.eos_token_id'), 2);
    g.close();
    const hf = loadTokenizer(join(folder, 'tokenizer.json'));
    const gg = loadTokenizer(out);
    const cases = readFileSync(texts!, 'utf8').split('\n__ggml_vocab_test__\n').slice(0, -1);
    for (const text of cases) assert.deepEqual(gg.encode(text, { addSpecial: false }), hf.encode(text, { addSpecial: false }), JSON.stringify(text));
    const llama = await llamaCpp();
    if (!llama) return t.skip('node-llama-cpp is not installed');
    const model = await llama.loadModel({ modelPath: out, gpuLayers: 0 });
    for (const text of cases) assert.deepEqual([...model.tokenize(text, true)].map(Number), hf.encode(text, { addSpecial: false }), JSON.stringify(text));
    await model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
