/**
 * Hugging Face folders (src/formats/hf-folder.ts, safetensors.ts, hf-vocab.ts, hf-convert.ts) on small random folders
 * the tests write themselves: the folder, its converted GGUF and an independent reading of the raw Hugging Face
 * weights give the same logits; the tokenizer survives conversion; quantising at load equals converting quantised;
 * BF16 is read as stored; damaged folders fail with one line naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync, readFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVCache } from '../../src/cache/kv-cache.js';
import type { WeightSource } from '../../src/core/weight-source.js';
import { convertHFFolder } from '../../src/formats/hf-convert.js';
import { hfModelMetadata, openHFFolder, permuteRows, tensorTypeFor } from '../../src/formats/hf-folder.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { quantize } from '../../src/formats/quantize.js';
import { openSafetensors } from '../../src/formats/safetensors.js';
import { bf16BitsToFloat } from '../../src/formats/half.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { loadModel } from '../../src/model/load-model.js';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';
import { TokenType } from '../../src/tokenizer/tokenizer.js';
import { byteLevelTokenizer, CHAT_TEMPLATE, LLAMA3_REGEX, safetensorsBytes, writeRandomHFFolder, type HFArch } from '../helpers/hf-folder.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kvmerger-hf-'));
}

const PROMPT = [5, 17, 260, 1, 99, 42, 200, 7, 7, 31, 255, 3];

async function logits(ws: WeightSource, prompt = PROMPT): Promise<Float32Array> {
  const c = ws.config;
  const b = new ReferenceBackend(ws, { kvType: 'f32' });
  const cache = new KVCache(c.blockCount, c.headCountKv, c.headDim);
  return (await b.forward(Int32Array.from(prompt), cache, { logits: 'last' })).logits;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * The raw Hugging Face weights under GGUF names with none of the converter's changes, and the config's RoPE read as
 * Hugging Face computes it: rotate-half (neox pairs) on unpermuted q/k rows. An independent path to the same logits.
 */
function rawHFSource(dir: string, shard = 'model.safetensors'): WeightSource {
  const folder = openHFFolder(dir);
  const st = openSafetensors(join(dir, shard));
  const hfName = (n: string): string => {
    if (n === 'token_embd.weight') return 'model.embed_tokens.weight';
    if (n === 'output_norm.weight') return 'model.norm.weight';
    if (n === 'output.weight') return 'lm_head.weight';
    const m = /^blk\.(\d+)\.(.+)$/.exec(n)!;
    const map: Record<string, string> = {
      'attn_norm.weight': 'input_layernorm.weight', 'ffn_norm.weight': 'post_attention_layernorm.weight',
      'attn_q.weight': 'self_attn.q_proj.weight', 'attn_k.weight': 'self_attn.k_proj.weight', 'attn_v.weight': 'self_attn.v_proj.weight',
      'attn_q.bias': 'self_attn.q_proj.bias', 'attn_k.bias': 'self_attn.k_proj.bias', 'attn_v.bias': 'self_attn.v_proj.bias',
      'attn_output.weight': 'self_attn.o_proj.weight', 'ffn_gate.weight': 'mlp.gate_proj.weight', 'ffn_up.weight': 'mlp.up_proj.weight',
      'ffn_down.weight': 'mlp.down_proj.weight',
    };
    return `model.layers.${m[1]}.${map[m[2]!]}`;
  };
  const config = { ...folder.config, ropeStyle: 'neox' as const };
  return {
    config,
    has: (n) => folder.has(n),
    get: (n) => st.readF32(hfName(n)),
    typeOf: () => 'F32',
    shapeOf: (n) => folder.shapeOf(n),
  };
}

test('permuteRows: rotate-half pairs (j, j + d/2) become adjacent rows (2j, 2j + 1), per head', () => {
  // 2 heads of 4 rows, 1 column: HF rows [a0 a1 b0 b1 | c0 c1 e0 e1] → GGUF [a0 b0 a1 b1 | c0 e0 c1 e1]
  const x = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual([...permuteRows(x, [8, 1], 2, 't')], [0, 2, 1, 3, 4, 6, 5, 7]);
});

test('llama folder (BF16, GQA, untied, 2 shards with an index) = its converted GGUF = the raw weights with rotate-half RoPE', async () => {
  const dir = tmp();
  try {
    const folder = join(dir, 'm');
    writeRandomHFFolder(folder, { arch: 'llama', dtype: 'BF16', shards: 2, heads: 8, kvHeads: 2 }, 11);
    const f = openModelFile(folder);
    assert.equal(f.format, 'hf');
    assert.equal(f.config.ropeStyle, 'normal');
    assert.equal(f.config.tiedEmbeddings, false);
    assert.equal(f.config.headCountKv, 2);
    const a = await logits(f);
    const out = join(dir, 'm.gguf');
    const r = convertHFFolder(folder, out, 'f32');
    assert.equal(r.architecture, 'llama');
    const g = openModelFile(out);
    assert.equal(g.metadata?.get('tokenizer.ggml.pre'), 'llama-bpe');
    assert.equal(g.metadata?.get('tokenizer.chat_template'), CHAT_TEMPLATE);
    assert.equal(maxDiff(a, await logits(g)), 0, 'folder and converted GGUF: identical logits');
    // The raw HF tensors span two shards: read them through a merged view.
    const s1 = rawHFSource(folder, 'model-00001-of-00002.safetensors');
    const s2 = rawHFSource(folder, 'model-00002-of-00002.safetensors');
    const raw: WeightSource = { ...s1, get: (n) => { try { return s1.get(n); } catch { return s2.get(n); } } };
    const d = maxDiff(a, await logits(raw));
    assert.ok(d < 1e-4, `permuted q/k with interleaved RoPE vs raw q/k with rotate-half RoPE: ${d}`);
    f.close();
    g.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('qwen2 folder (q/k/v biases, F16, tied by tie_word_embeddings) = converted GGUF = raw weights', async () => {
  const dir = tmp();
  try {
    const folder = join(dir, 'q');
    writeRandomHFFolder(folder, { arch: 'qwen2', dtype: 'F16', tied: true }, 12);
    const f = openModelFile(folder);
    assert.equal(f.config.tiedEmbeddings, true);
    assert.equal(f.config.attentionBias, true);
    assert.equal(f.has('output.weight'), false);
    const a = await logits(f);
    convertHFFolder(folder, join(dir, 'q.gguf'), 'f32');
    const g = openModelFile(join(dir, 'q.gguf'));
    assert.equal(g.metadata?.get('tokenizer.ggml.pre'), 'qwen2');
    assert.equal(maxDiff(a, await logits(g)), 0);
    assert.ok(maxDiff(a, await logits(rawHFSource(folder))) < 1e-4);
    f.close();
    g.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const arch of ['qwen3', 'gemma2', 'gemma3', 'phi3'] as HFArch[]) {
  test(`${arch} folder = its converted GGUF (F32, F16 and BF16 output types close)`, async () => {
    const dir = tmp();
    try {
      const folder = join(dir, arch);
      writeRandomHFFolder(folder, { arch, dtype: 'BF16', headDim: arch === 'qwen3' ? 24 : undefined }, 13);
      const f = openModelFile(folder);
      assert.equal(f.config.architecture, arch);
      const a = await logits(f);
      convertHFFolder(folder, join(dir, 'f32.gguf'), 'f32');
      const g = openModelFile(join(dir, 'f32.gguf'));
      assert.equal(maxDiff(a, await logits(g)), 0);
      // BF16 source → BF16 GGUF stores the same bits: the logits are identical too.
      convertHFFolder(folder, join(dir, 'bf16.gguf'), 'bf16');
      const b = openModelFile(join(dir, 'bf16.gguf'));
      assert.equal(b.typeOf('blk.0.ffn_down.weight'), 'BF16');
      assert.equal(b.typeOf('blk.0.attn_norm.weight'), 'F32');
      assert.equal(maxDiff(a, await logits(b)), 0);
      if (arch === 'gemma2' || arch === 'gemma3') assert.equal(f.config.slidingWindow?.size, 8);
      if (arch === 'phi3') assert.ok(f.has('blk.0.attn_qkv.weight'));
      f.close();
      g.close();
      b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('BF16 is read as stored, and Gemma norms get 1 + w rounded to BF16 as torch adds them', () => {
  const dir = tmp();
  try {
    const folder = join(dir, 'g');
    writeRandomHFFolder(folder, { arch: 'gemma2', dtype: 'BF16' }, 14);
    // Replace one norm with exactly representable BF16 values whose 1 + w needs rounding.
    const st = openSafetensors(join(folder, 'model.safetensors'));
    const names = [...st.tensors.keys()];
    const tensors = names.map((n) => ({ name: n, shape: st.tensors.get(n)!.shape, data: st.readF32(n), dtype: 'BF16' as const }));
    st.close();
    const w = tensors.find((t) => t.name === 'model.layers.0.input_layernorm.weight')!;
    w.data.fill(0);
    w.data[0] = 2 ** -9; // 1 + 2^-9 is not a BF16: rounds (to even) to 1
    w.data[1] = 3 * 2 ** -8; // 1 + 3·2^-8 rounds to 1 + 2^-6 (ties to even)
    w.data[2] = -0.5;
    writeFileSync(join(folder, 'model.safetensors'), safetensorsBytes(tensors));
    const f = openModelFile(folder);
    const g = f.get('blk.0.attn_norm.weight');
    assert.equal(g[0], 1);
    assert.equal(g[1], 1 + 2 ** -6);
    assert.equal(g[2], 0.5);
    // every value of a BF16 tensor decodes to its bf16 bits exactly
    const raw = openSafetensors(join(folder, 'model.safetensors'));
    const bytes = raw.readBytes('model.embed_tokens.weight');
    const vals = raw.readF32('model.embed_tokens.weight');
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < 100; i++) assert.equal(vals[i], bf16BitsToFloat(dv.getUint16(2 * i, true)));
    raw.close();
    f.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tokenizer: config.json's vocab_size beyond the tokenizer.json's ids pads with [PAD{i}] (unused), as the converter does", () => {
  const dir = tmp();
  try {
    const folder = join(dir, 'padded');
    const size = byteLevelTokenizer(LLAMA3_REGEX, ['<|endoftext|>', '<|im_start|>', '<|im_end|>']).size;
    writeRandomHFFolder(folder, { arch: 'llama', vocabSize: size + 40 }, 16);
    const out = join(dir, 'padded.gguf');
    convertHFFolder(folder, out, 'f16');
    const g = openModelFile(out);
    const tokens = g.metadata!.get('tokenizer.ggml.tokens') as string[];
    const types = g.metadata!.get('tokenizer.ggml.token_type') as Int32Array;
    assert.equal(tokens.length, size + 40);
    assert.deepEqual(tokens.slice(-2), [`[PAD${size + 38}]`, `[PAD${size + 39}]`]);
    assert.equal(types[size + 39], TokenType.Unused);
    g.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tokenizer: the folder tokenizer.json and the converted GGUF tokenizer encode alike; chat template and special ids', async () => {
  const dir = tmp();
  try {
    for (const arch of ['llama', 'qwen2', 'phi3'] as HFArch[]) {
      // (not named after phi3: llama.cpp makes a Phi-3's special tokens swallow spaces after them, keyed on general.name)
      const folder = join(dir, `tok-${arch.length}`);
      writeRandomHFFolder(folder, { arch }, 15);
      convertHFFolder(folder, join(dir, `${arch}.gguf`), 'q8_0');
      const hf = loadTokenizer(join(folder, 'tokenizer.json'));
      const gg = loadTokenizer(join(dir, `${arch}.gguf`));
      for (const text of ['hello world, the thing and 12345 ending', "I've  <|im_start|>user\nhi<|im_end|> 🦙 \t x", '   spaces\n\n\nnew']) {
        assert.deepEqual(gg.encode(text), hf.encode(text), `${arch}: ${JSON.stringify(text)}`);
      }
      const g = openModelFile(join(dir, `${arch}.gguf`));
      const tokens = g.metadata!.get('tokenizer.ggml.tokens') as string[];
      assert.equal(tokens[g.metadata!.get('tokenizer.ggml.eos_token_id') as number], '<|im_end|>');
      assert.equal(g.metadata!.get('tokenizer.ggml.add_bos_token'), false);
      assert.equal(g.metadata!.get('general.file_type'), 7);
      g.close();
      const m = await loadModel(folder, { backend: 'reference' });
      assert.equal(m.chatTemplate, CHAT_TEMPLATE);
      assert.deepEqual(m.tokenizer.encode('hello world'), hf.encode('hello world'));
      await m.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--quantize at load: the folder reports the quantised types, its blocks are the quantiser\'s, logits equal the converted file\'s', async () => {
  const dir = tmp();
  try {
    const folder = join(dir, 'm');
    writeRandomHFFolder(folder, { arch: 'llama', dtype: 'BF16', tied: false }, 16);
    const plain = openHFFolder(folder);
    for (const q of ['q8_0', 'q4_0'] as const) {
      const f = openModelFile(folder, { quantize: q });
      const T = q.toUpperCase();
      assert.equal(f.typeOf('blk.0.attn_q.weight'), T);
      assert.equal(f.typeOf('token_embd.weight'), T);
      assert.equal(f.typeOf('blk.0.attn_norm.weight'), 'F32');
      assert.deepEqual(f.readBytes!('blk.1.ffn_up.weight'), quantize(plain.readF32('blk.1.ffn_up.weight'), T));
      convertHFFolder(folder, join(dir, `${q}.gguf`), q);
      const g = openModelFile(join(dir, `${q}.gguf`));
      assert.deepEqual(g.readBytes!('blk.1.attn_k.weight'), f.readBytes!('blk.1.attn_k.weight'));
      assert.equal(maxDiff(await logits(f), await logits(g)), 0, q);
      f.close();
      g.close();
    }
    plain.close();
    // through loadModel and the fast path: the same packed weights from the folder as from the converted file
    const a = await loadModel(folder, { quantize: 'q8_0', precision: 'fp32', kvType: 'f32' });
    const b = await loadModel(join(dir, 'q8_0.gguf'), { precision: 'fp32', kvType: 'f32' });
    const run = async (m: typeof a) => {
      const c = m.config;
      return (await m.backend.forward(Int32Array.from(PROMPT), new KVCache(c.blockCount, c.headCountKv, c.headDim), { logits: 'last' })).logits;
    };
    assert.ok(maxDiff(await run(a), await run(b)) < 1e-5);
    await a.close();
    await b.close();
    await assert.rejects(loadModel(join(dir, 'q8_0.gguf'), { quantize: 'q4_0' }), /quantising at load applies to Hugging Face folders/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--quantize q4_k_m: llama.cpp\'s mix at load equals convert --type q4_k_m', async () => {
  const dir = tmp();
  try {
    const folder = join(dir, 'm');
    writeRandomHFFolder(folder, { arch: 'llama', dtype: 'BF16', hidden: 256, heads: 4, kvHeads: 2, ffn: 256, layers: 3 }, 18);
    const f = openModelFile(folder, { quantize: 'q4_k_m' });
    assert.equal(f.typeOf('output.weight'), 'Q6_K');
    assert.equal(f.typeOf('token_embd.weight'), 'Q4_K');
    // use_more_bits(i, 3): i < 0, i >= 2 or i % 3 == 2 → layer 2 only
    assert.deepEqual([0, 1, 2].map((i) => f.typeOf(`blk.${i}.attn_v.weight`)), ['Q4_K', 'Q4_K', 'Q6_K']);
    assert.deepEqual([0, 1, 2].map((i) => f.typeOf(`blk.${i}.ffn_down.weight`)), ['Q4_K', 'Q4_K', 'Q6_K']);
    assert.equal(f.typeOf('blk.1.attn_q.weight'), 'Q4_K');
    const r = convertHFFolder(folder, join(dir, 'k.gguf'), 'q4_k_m');
    assert.deepEqual(r.types, { F32: 7, Q4_K: 20, Q6_K: 3 });
    const g = openModelFile(join(dir, 'k.gguf'));
    assert.equal(g.metadata?.get('general.file_type'), 15);
    assert.equal(maxDiff(await logits(f), await logits(g)), 0);
    f.close();
    g.close();
    // the fast path packs the folder's Q4_K / Q6_K blocks as it packs the file's
    const run = async (m: Awaited<ReturnType<typeof loadModel>>) => {
      const c = m.config;
      return (await m.backend.forward(Int32Array.from(PROMPT), new KVCache(c.blockCount, c.headCountKv, c.headDim), { logits: 'last' })).logits;
    };
    const a = await loadModel(folder, { quantize: 'q4_k_m', kvType: 'f32' });
    const b = await loadModel(join(dir, 'k.gguf'), { kvType: 'f32' });
    assert.equal(maxDiff(await run(a), await run(b)), 0);
    await a.close();
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tensorTypeFor: q4_k_m follows llama.cpp (Q6_K head and use_more_bits attn_v / ffn_down, Q4_K rest, fallbacks)', () => {
  const n = 8;
  assert.equal(tensorTypeFor('output.weight', [512, 256], 'q4_k_m', n, false), 'Q6_K');
  assert.equal(tensorTypeFor('token_embd.weight', [512, 256], 'q4_k_m', n, false), 'Q4_K');
  assert.equal(tensorTypeFor('token_embd.weight', [512, 256], 'q4_k_m', n, true), 'Q6_K');
  // use_more_bits(i, 8): i < 1, i >= 7, (i - 1) % 3 == 2 → layers 0, 3, 6, 7
  const v = Array.from({ length: n }, (_, i) => tensorTypeFor(`blk.${i}.attn_v.weight`, [256, 256], 'q4_k_m', n, false));
  assert.deepEqual(v, ['Q6_K', 'Q4_K', 'Q4_K', 'Q6_K', 'Q4_K', 'Q4_K', 'Q6_K', 'Q6_K']);
  assert.equal(tensorTypeFor('blk.2.attn_q.weight', [256, 256], 'q4_k_m', n, false), 'Q4_K');
  assert.equal(tensorTypeFor('blk.2.attn_q.weight', [64, 64], 'q4_k_m', n, false), 'Q5_0');
  assert.equal(tensorTypeFor('blk.0.attn_v.weight', [64, 64], 'q4_k_m', n, false), 'Q8_0');
  assert.equal(tensorTypeFor('blk.0.attn_norm.weight', [256], 'q4_k_m', n, false), 'F32');
  assert.equal(tensorTypeFor('blk.0.attn_q.weight', [64, 48], 'q8_0', n, false), 'F16');
});

/** One line, naming `file`, matching `re`. */
function assertOneLine(fn: () => unknown, file: string, re: RegExp): void {
  assert.throws(fn, (err: Error) => {
    assert.equal(err.name, 'KvError', err.message);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.ok(err.message.includes(file), `names ${file}: ${err.message}`);
    assert.match(err.message, re);
    return true;
  });
}

test('damaged folders: a truncated shard, a header that lies about sizes, a header longer than the file, a missing shard', () => {
  const dir = tmp();
  try {
    const folder = join(dir, 'm');
    writeRandomHFFolder(folder, { arch: 'llama', shards: 2 }, 17);
    const shard = join(folder, 'model-00002-of-00002.safetensors');
    const good = readFileSync(shard);
    truncateSync(shard, statSync(shard).size - 100);
    assertOneLine(() => openModelFile(folder), shard, /truncated/);
    // data_offsets that disagree with dtype × shape
    const n = Number(good.readBigUInt64LE(0));
    const header = JSON.parse(good.subarray(8, 8 + n).toString()) as Record<string, { shape: number[]; data_offsets: number[] }>;
    const first = Object.keys(header).find((k) => k !== '__metadata__')!;
    header[first]!.shape = [header[first]!.shape[0]! * 2, ...header[first]!.shape.slice(1)];
    const lie = (h: unknown, body: Buffer) => {
      const json = JSON.stringify(h);
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([len, Buffer.from(json), body]);
    };
    writeFileSync(shard, lie(header, good.subarray(8 + n)));
    assertOneLine(() => openModelFile(folder), shard, /needs \d+ bytes but data_offsets/);
    // a header length far beyond the file: refused before anything is allocated
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(1n << 40n, 0);
    writeFileSync(shard, huge);
    assertOneLine(() => openModelFile(folder), shard, /header claims \d+ bytes but the file has/);
    // a header that is not JSON
    const bad = Buffer.from(good);
    bad.write('{"x', 8);
    writeFileSync(shard, Buffer.concat([bad.subarray(0, 8), Buffer.from('#'.repeat(n)), good.subarray(8 + n)]));
    assertOneLine(() => openModelFile(folder), shard, /not valid JSON/);
    // a shard the index names but that is gone
    rmSync(shard);
    assertOneLine(() => openModelFile(folder), shard, /missing.*download is incomplete/);
    // a config.json with an unknown architecture
    writeFileSync(shard, good);
    const cfgPath = join(folder, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, architectures: ['MambaForCausalLM'] }));
    assertOneLine(() => openModelFile(folder), cfgPath, /MambaForCausalLM is not supported/);
    writeFileSync(cfgPath, '{ not json');
    assertOneLine(() => openModelFile(folder), cfgPath, /not valid JSON/);
    assert.ok(existsSync(folder));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Gemma3ForConditionalGeneration: text_config merged, language_model prefixes stripped, the vision tower ignored', async () => {
  const dir = tmp();
  try {
    const plain = join(dir, 'plain');
    const { config, tensors } = writeRandomHFFolder(plain, { arch: 'gemma3', layers: 3 }, 19);
    const multi = join(dir, 'multi');
    writeRandomHFFolder(multi, { arch: 'gemma3', layers: 3 }, 19);
    const renamed = tensors.map((t) => ({ ...t, name: t.name.replace(/^model\./, 'language_model.model.') }));
    renamed.push({ name: 'vision_tower.vision_model.embeddings.patch_embedding.weight', shape: [4, 3], data: new Float32Array(12) });
    writeFileSync(join(multi, 'model.safetensors'), safetensorsBytes(renamed));
    writeFileSync(join(multi, 'config.json'), JSON.stringify({ architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: config, vision_config: { hidden_size: 4 } }));
    const a = openModelFile(plain);
    const b = openModelFile(multi);
    assert.deepEqual(b.tensorNames(), a.tensorNames());
    assert.equal(maxDiff(await logits(a), await logits(b)), 0);
    a.close();
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('damaged folders: an index naming a tensor its shard lacks, an integer tensor, no weights at all', () => {
  const dir = tmp();
  try {
    const folder = join(dir, 'm');
    const { tensors } = writeRandomHFFolder(folder, { arch: 'llama', shards: 2 }, 20);
    const indexPath = join(folder, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
    const moved = { ...index, weight_map: { ...index.weight_map, 'model.norm.weight': 'model-00001-of-00002.safetensors' } };
    writeFileSync(indexPath, JSON.stringify(moved));
    assertOneLine(() => openModelFile(folder), join(folder, 'model-00001-of-00002.safetensors'), /has no tensor 'model\.norm\.weight'.*index\.json places there/);
    rmSync(indexPath);
    rmSync(join(folder, 'model-00002-of-00002.safetensors'));
    rmSync(join(folder, 'model-00001-of-00002.safetensors'));
    assertOneLine(() => openModelFile(folder), folder, /no \.safetensors weights/);
    // an I32 tensor where a weight should be: named, with the dtypes that are read
    const st = safetensorsBytes(tensors).subarray(0); // F32 file
    const n = Number(st.readBigUInt64LE(0));
    const header = JSON.parse(st.subarray(8, 8 + n).toString()) as Record<string, { dtype: string }>;
    header['model.norm.weight']!.dtype = 'I32';
    const json = JSON.stringify(header);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(join(folder, 'model.safetensors'), Buffer.concat([len, Buffer.from(json), st.subarray(8 + n)]));
    assertOneLine(() => openModelFile(folder), join(folder, 'model.safetensors'), /'model\.norm\.weight' is I32; kvmerger reads F32, F16 and BF16/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config.json → GGUF metadata: rope_parameters (full / sliding), linear scaling, LongRoPE attention factor, defaults', () => {
  const base = { hidden_size: 64, intermediate_size: 96, num_hidden_layers: 6, num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-6, vocab_size: 300 };
  const g3 = hfModelMetadata(
    { ...base, architectures: ['Gemma3ForCausalLM'], head_dim: 16, sliding_window: 512, rope_parameters: { full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 }, sliding_attention: { rope_theta: 10000 } } },
    'config.json',
    'g',
  ).metadata;
  const v = (m: Map<string, { value: unknown }>, k: string) => m.get(k)?.value;
  assert.equal(v(g3, 'gemma3.rope.scaling.type'), 'linear');
  assert.equal(v(g3, 'gemma3.rope.scaling.factor'), 8);
  assert.equal(v(g3, 'gemma3.rope.freq_base'), 1e6);
  assert.equal(v(g3, 'gemma3.rope.freq_base_swa'), 10000);
  assert.equal(v(g3, 'gemma3.context_length'), 131072, "llama.cpp's default when max_position_embeddings is absent");
  assert.equal(v(g3, 'gemma3.attention.sliding_window'), 512);
  const long = Array.from({ length: 6 }, (_, i) => 1 + i);
  const phi = hfModelMetadata(
    { ...base, architectures: ['Phi3ForCausalLM'], max_position_embeddings: 131072, original_max_position_embeddings: 4096, partial_rotary_factor: 0.75, rope_theta: 10000, rope_scaling: { type: 'longrope', long_factor: long, short_factor: long } },
    'config.json',
    'p',
  );
  assert.equal(v(phi.metadata, 'phi3.rope.dimension_count'), 12);
  assert.ok(Math.abs((v(phi.metadata, 'phi3.rope.scaling.attn_factor') as number) - Math.sqrt(1 + Math.log(32) / Math.log(4096))) < 1e-12);
  assert.deepEqual(phi.extra.map((e) => e.name), ['rope_factors_long.weight', 'rope_factors_short.weight']);
  const l3 = hfModelMetadata({ ...base, architectures: ['LlamaForCausalLM'], max_position_embeddings: 1024, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } }, 'c', 'l');
  const f = l3.extra[0]!;
  assert.equal(f.name, 'rope_freqs.weight');
  assert.equal(f.values.length, 8);
  assert.equal(f.values[0], 1, 'high frequencies unscaled');
  assert.equal(f.values[7], 8, 'low frequencies divided by the factor');
  assert.throws(() => hfModelMetadata({ ...base, architectures: ['LlamaForCausalLM'], max_position_embeddings: 1024, rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'x/config.json', 'l'), /x\/config\.json: RoPE scaling 'yarn' is not supported/);
});
