/**
 * SentencePiece-style Hugging Face folders (Llama 2, Mistral 7B v0.1, TinyLlama, Phi-3): llama.cpp's llama-spm and
 * phi-3 vocabularies written as a folder holds them — a byte-fallback BPE tokenizer.json (merges as transformers
 * writes them) or only a SentencePiece tokenizer.model (protobuf) — give llama.cpp's expected ids for its test texts
 * when the folder is loaded (`loadTokenizer(DIR)`, what `--model DIR` uses), when it is converted to GGUF and read
 * back, and in llama.cpp itself (node-llama-cpp) loading the converted file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { convertHFFolder } from '../../src/formats/hf-convert.js';
import { loadModel } from '../../src/model/load-model.js';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';
import { TokenType } from '../../src/tokenizer/tokenizer.js';
import { writeRandomHFFolder } from '../helpers/hf-folder.js';
import { llamaCpp } from '../helpers/llama-cpp.js';
import { sharedData } from '../helpers/shared-data.js';
import { addedTokensDecoder, sentencePieceModelBytes, spmTokenizerJson, type SpmSource } from '../helpers/spm-files.js';

const data = sharedData('tokenizer-tests');
const skip = data ? false : 'needs ../shared/data/tokenizer-tests (llama.cpp vocabularies and test vectors)';

function readVocab(name: string): SpmSource & { meta: Map<string, unknown> } {
  const g = openGGUF(join(data!, `ggml-vocab-${name}.gguf`));
  try {
    const meta = g.metadata as Map<string, unknown>;
    return { tokens: meta.get('tokenizer.ggml.tokens') as string[], scores: meta.get('tokenizer.ggml.scores') as Float32Array, types: meta.get('tokenizer.ggml.token_type') as Int32Array, meta };
  } finally {
    g.close();
  }
}

function cases(name: string): { text: string; ids: number[] }[] {
  const inp = readFileSync(join(data!, `ggml-vocab-${name}.gguf.inp`), 'utf8').split('\n__ggml_vocab_test__\n');
  if (inp[inp.length - 1] === '') inp.pop();
  const out = readFileSync(join(data!, `ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  if (out[out.length - 1] === '') out.pop();
  assert.equal(out.length, inp.length);
  return inp.map((text, i) => ({ text, ids: out[i]!.trim() === '' ? [] : out[i]!.trim().split(/\s+/).map(Number) }));
}

/** A random llama folder of the vocabulary's size whose tokenizer is only `source` (tokenizer.json or tokenizer.model). */
function writeFolder(dir: string, name: string, source: 'json' | 'model'): ReturnType<typeof readVocab> {
  const v = readVocab(name);
  // the model's own pieces end where the added tokens / padding start (Phi-3: 32000 of 32064)
  let base = v.tokens.length;
  while (base > 0 && (v.types[base - 1] === TokenType.Unused || v.types[base - 1] === TokenType.Control || v.types[base - 1] === TokenType.UserDefined || v.types[base - 1] === TokenType.Unknown)) base--;
  writeRandomHFFolder(dir, { arch: 'llama', hidden: 32, heads: 2, kvHeads: 1, ffn: 32, layers: 1, tied: true, vocabSize: v.tokens.length }, 7);
  rmSync(join(dir, 'tokenizer.json'));
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, bos_token_id: 1, eos_token_id: v.meta.get('tokenizer.ggml.eos_token_id') }));
  const tc: Record<string, unknown> = { bos_token: '<s>', eos_token: v.tokens[v.meta.get('tokenizer.ggml.eos_token_id') as number], unk_token: '<unk>', add_bos_token: true, add_eos_token: false };
  if (name === 'phi-3') tc.added_tokens_decoder = addedTokensDecoder(v);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tc));
  if (source === 'json') writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(spmTokenizerJson(v, base)));
  else writeFileSync(join(dir, 'tokenizer.model'), sentencePieceModelBytes(v, base));
  return v;
}

for (const name of ['llama-spm', 'phi-3']) {
  for (const source of ['json', 'model'] as const) {
    test(`${name} as a folder with only ${source === 'json' ? 'a byte-fallback tokenizer.json' : 'a tokenizer.model'}: llama.cpp's ids from the folder, its GGUF and llama.cpp`, { skip }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'kvmerger-hf-spm-'));
      try {
        const folder = join(dir, name === 'phi-3' ? 'Phi-3-mini' : 'Llama-2');
        const v = writeFolder(folder, name, source);
        const all = cases(name);
        const check = (label: string, encode: (text: string) => number[]) => {
          const failed = all.filter((c) => JSON.stringify(encode(c.text)) !== JSON.stringify(c.ids)).map((c) => `${JSON.stringify(c.text)}: got ${encode(c.text)} want ${c.ids}`);
          assert.deepEqual(failed, [], `${label}: ${all.length - failed.length}/${all.length} pass`);
        };
        const tok = loadTokenizer(folder);
        assert.equal(tok.family, 'spm');
        assert.equal(tok.vocabSize, v.tokens.length);
        check('the folder', (text) => tok.encode(text, { addSpecial: false, parseSpecial: false }));
        for (const c of all) assert.equal(tok.decode(c.ids), c.text);
        assert.deepEqual(tok.encode('Hello world').slice(0, 1), [1], 'BOS added');
        // what `--model DIR` runs with
        const loaded = await loadModel(folder, { backend: 'reference' });
        assert.deepEqual(loaded.tokenizer.encode(all[10]!.text), tok.encode(all[10]!.text));
        await loaded.close();

        const out = join(dir, `${name}.gguf`);
        convertHFFolder(folder, out, 'f16');
        const g = openGGUF(out);
        const md = g.metadata as Map<string, unknown>;
        assert.equal(md.get('tokenizer.ggml.model'), 'llama');
        assert.deepEqual(md.get('tokenizer.ggml.tokens'), v.tokens, 'the same token list');
        if (source === 'model') {
          // from the protobuf: llama.cpp's scores and types exactly (Phi-3's padding as the converter writes it now)
          const types = [...(md.get('tokenizer.ggml.token_type') as Int32Array)];
          const theirs = Array.from(v.types).map((x, i) => (v.tokens[i]!.startsWith('[PAD') ? TokenType.Unused : x));
          assert.deepEqual(types, theirs);
          const scores = md.get('tokenizer.ggml.scores') as Float32Array;
          for (let i = 0; i < scores.length; i++) if (!v.tokens[i]!.startsWith('[PAD') && types[i] === TokenType.Normal) assert.equal(scores[i], v.scores[i], `score of ${i}`);
        }
        for (const k of ['bos_token_id', 'eos_token_id', 'add_bos_token', 'add_eos_token']) assert.equal(md.get(`tokenizer.ggml.${k}`), v.meta.get(`tokenizer.ggml.${k}`), k);
        g.close();
        const gg = loadTokenizer(out);
        check('the converted GGUF', (text) => gg.encode(text, { addSpecial: false, parseSpecial: false }));

        const llama = await llamaCpp();
        if (!llama) return t.skip('node-llama-cpp is not installed');
        const model = await llama.loadModel({ modelPath: out, vocabOnly: true });
        check('llama.cpp', (text) => [...model.tokenize(text, false)].map(Number));
        await model.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}
