/**
 * The model cache (src/model/ort/onnx-cache.ts, cached-session.ts): a load that builds the entry, a load that maps it
 * and a load in memory give the same logits bit for bit; a damaged entry is rebuilt; a folder that cannot be written
 * falls back to memory with one note; a changed model file gets a new key and replaces the old entry.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, closeSync, readdirSync, rmSync, utimesSync, writeFileSync, writeSync, existsSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVCache } from '../../src/cache/kv-cache.js';
import { createOrtBackend } from '../../src/model/ort-backend.js';
import { modelFileIdentity, onnxCacheRoot } from '../../src/model/ort/onnx-cache.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { quantizedWeightSource } from '../helpers/random-quantized.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-onnx-cache-'));
const root = join(dir, 'cache');
const saved = process.env.KVMERGER_ONNX_CACHE;
process.env.KVMERGER_ONNX_CACHE = root;
after(() => {
  if (saved === undefined) delete process.env.KVMERGER_ONNX_CACHE;
  else process.env.KVMERGER_ONNX_CACHE = saved;
  rmSync(dir, { recursive: true, force: true });
});

const config = smallConfig({ embeddingLength: 256, headCount: 4, feedForwardLength: 512, vocabSize: 96 });
const weights = quantizedWeightSource(randomWeightSource(config, 3, { scale: 1 }), 4, (_n, shape) => (shape.length === 2 ? 'Q4_0' : undefined));
const identity = 'random-q4_0#seed-3-4';

/** Logits of a prefill and a decode step, and where the session's weights came from. */
async function run(options: { cacheIdentity?: string } = {}): Promise<{ logits: Float32Array[]; origin: string; notes: string[] }> {
  const notes: string[] = [];
  const b = await createOrtBackend(weights, { threads: 1, ...options, note: (l) => notes.push(l) });
  try {
    const cache = new KVCache(config.blockCount, config.headCountKv, config.headDim);
    const logits: Float32Array[] = [];
    for (const toks of [Int32Array.from({ length: 9 }, (_, i) => (i * 31 + 2) % config.vocabSize), Int32Array.of(17)]) {
      logits.push((await b.forward(toks, cache, { logits: 'all' })).logits.slice());
    }
    return { logits, origin: (b as unknown as { origin: string }).origin, notes };
  } finally {
    await b.dispose();
  }
}

const entries = () => readdirSync(root).filter((n) => /^[0-9a-f]{32}$/.test(n));

test('the cached path gives the in-memory logits bit for bit, built or mapped; a damaged entry is rebuilt', async () => {
  const memory = await run();
  assert.equal(memory.origin, 'memory');
  const built = await run({ cacheIdentity: identity });
  assert.equal(built.origin, 'built');
  assert.deepEqual(built.notes, []);
  assert.deepEqual(built.logits, memory.logits);
  assert.equal(entries().length, 1);
  const entry = join(root, entries()[0]!);
  assert.deepEqual(readdirSync(entry).sort(), ['entry.json', 'model.bin', 'model.onnx'], 'the entry holds the compiled model only (the written source is removed)');
  const mapped = await run({ cacheIdentity: identity });
  assert.equal(mapped.origin, 'cache');
  assert.deepEqual(mapped.logits, memory.logits);

  // overwritten weights (same size), a truncated weight file, a damaged graph, a missing record: each is rebuilt
  const damage: [string, () => void][] = [
    ['overwritten weights', () => {
      const fd = openSync(join(entry, 'model.bin'), 'r+');
      writeSync(fd, new Uint8Array(4096).fill(0x5a), 0, 4096, 0);
      closeSync(fd);
    }],
    ['truncated weights', () => truncateSync(join(entry, 'model.bin'), statSync(join(entry, 'model.bin')).size - 1)],
    ['damaged graph', () => writeFileSync(join(entry, 'model.onnx'), new Uint8Array(statSync(join(entry, 'model.onnx')).size).fill(7))],
    ['missing record', () => rmSync(join(entry, 'entry.json'))],
  ];
  for (const [what, hurt] of damage) {
    hurt();
    const again = await run({ cacheIdentity: identity });
    assert.equal(again.origin, 'built', `${what}: rebuilt`);
    assert.deepEqual(again.logits, memory.logits, `${what}: same logits after the rebuild`);
    assert.equal((await run({ cacheIdentity: identity })).origin, 'cache', `${what}: the rebuilt entry is used`);
  }
});

test('a cache folder that cannot be written falls back to memory with one note', async () => {
  const blocked = join(dir, 'not-a-folder');
  writeFileSync(blocked, 'a file where the cache folder should be');
  process.env.KVMERGER_ONNX_CACHE = join(blocked, 'cache');
  try {
    const r = await run({ cacheIdentity: identity });
    assert.equal(r.origin, 'memory');
    assert.equal(r.notes.length, 1);
    assert.match(r.notes[0]!, /model cache .* cannot be used .*loading the model in memory instead \(set KVMERGER_ONNX_CACHE/);
    assert.ok(!r.notes[0]!.includes('\n'));
    assert.deepEqual(r.logits, (await run()).logits);
  } finally {
    process.env.KVMERGER_ONNX_CACHE = root;
  }
});

test('KVMERGER_ONNX_CACHE moves the folder or turns it off; XDG_CACHE_HOME is the default base', () => {
  assert.equal(onnxCacheRoot({ KVMERGER_ONNX_CACHE: '/x/y' }), '/x/y');
  assert.equal(onnxCacheRoot({ KVMERGER_ONNX_CACHE: 'off' }), undefined);
  assert.equal(onnxCacheRoot({ KVMERGER_ONNX_CACHE: '0' }), undefined);
  assert.equal(onnxCacheRoot({ XDG_CACHE_HOME: '/c' }), '/c/kvmerger/onnx');
});

test('a changed model file has another identity, and its new entry replaces the old one', async () => {
  const file = join(dir, 'weights.gguf');
  writeFileSync(file, new Uint8Array(3 * 2 ** 20).fill(1));
  const a = modelFileIdentity(file);
  assert.equal(modelFileIdentity(file), a, 'the same file, the same identity');
  utimesSync(file, new Date(2020, 1, 1), new Date(2020, 1, 1));
  const b = modelFileIdentity(file);
  assert.notEqual(b, a, 'a new modification time');
  const fd = openSync(file, 'r+');
  writeSync(fd, Uint8Array.of(2), 0, 1, 3 * 2 ** 20 - 1);
  closeSync(fd);
  utimesSync(file, new Date(2020, 1, 1), new Date(2020, 1, 1));
  assert.notEqual(modelFileIdentity(file), b, 'the same time but another last byte');
  assert.equal(modelFileIdentity(file, 'quantize q4_0') === modelFileIdentity(file), false, 'the extra part counts');

  // the same source and options under a new identity: the new entry replaces the old
  rmSync(root, { recursive: true, force: true });
  assert.equal((await run({ cacheIdentity: `${file}#one` })).origin, 'built');
  const first = entries();
  assert.equal((await run({ cacheIdentity: `${file}#two` })).origin, 'built');
  const second = entries();
  assert.equal(second.length, 1);
  assert.notDeepEqual(second, first);
  assert.ok(!existsSync(join(root, first[0]!)));
});
