import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import type { AttentionStats } from '../../src/cache/attention-stats.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { generate, truncatePrompt } from '../../src/generate/session.js';
import type { SessionModel } from '../../src/generate/session-model.js';
import { chunkedPrefill } from '../../src/generate/chunked-prefill.js';
import { argmax } from '../../src/generate/sampler.js';
import { defineMethod, type CompressionMethod } from '../../src/compress/compression-method.js';
import { defineOptions } from '../../src/compress/method-options.js';
import { registerMethod } from '../../src/compress/registry.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { letterTokenizer } from '../helpers/letter-tokenizer.js';

/** A method of this test's own, registered under `name`: the session reaches it only through `compression`. */
function testMethod(name: string, parts: Pick<CompressionMethod, 'statsRequest' | 'compress' | 'decodePolicy'>): string {
  registerMethod(defineMethod({ name, description: 'a test probe', schema: defineOptions({}), ...parts }));
  return name;
}

function model(over = {}, seed = 1): SessionModel {
  const config = smallConfig({ contextLength: 64, ...over });
  return { config, tokenizer: letterTokenizer(config.vocabSize), backend: new ReferenceBackend(randomWeightSource(config, seed, { scale: 2 })) };
}

test('greedy generation equals argmax of the forward pass, step by step', async () => {
  const m = model();
  const r = await generate(m, { prompt: 'hello', maxTokens: 8, stopAtEos: false });
  assert.equal(r.promptTokens.length, 6); // BOS + 5
  assert.equal(r.tokens.length, 8);
  assert.equal(r.stopReason, 'length');
  const cache = new KVCache(m.config.blockCount, m.config.headCountKv, m.config.headDim);
  let logits = (await m.backend.forward(Int32Array.from(r.promptTokens), cache, { logits: 'last' })).logits;
  for (const id of r.tokens) {
    assert.equal(id, argmax(logits));
    logits = (await m.backend.forward(Int32Array.of(id), cache, { logits: 'last' })).logits;
  }
  assert.equal(r.text, m.tokenizer.decode(r.tokens));
  // the last token is not run through the model: 6 + 7 slots per head
  assert.equal(r.kvCache.nextPosition, 13);
  assert.equal(r.cache.slots, 13 * m.config.blockCount * m.config.headCountKv);
  assert.equal(r.cache.bytes, r.cache.slots * m.config.headDim * 2 * 4);
});

test('chunked prefill gives the same generation and the same accumulated statistics', async () => {
  const m = model();
  const request = { columnSums: true, window: 4, lastRow: true };
  // A method that asks for every statistic and keeps every slot (a budget just under 1 makes the session call it).
  const method = testMethod('stats-probe', { statsRequest: () => request, compress: () => ({ ok: true }) });
  const compression = { method, budget: 0.99 };
  const prompt = 'abcdefghijklmnopq';
  const a = await generate(m, { prompt, maxTokens: 5, chunkSize: 512, compression, stopAtEos: false });
  const b = await generate(m, { prompt, maxTokens: 5, chunkSize: 5, compression, stopAtEos: false });
  assert.deepEqual(a.tokens, b.tokens);
  assert.deepEqual(b.compression?.details, { ok: true });
  // the statistics per query head, as the session's prefill accumulates them over chunks of 512 and of 5
  const seen: AttentionStats[] = [];
  for (const chunk of [512, 5]) seen.push((await chunkedPrefill(m, a.promptTokens, request, 0, chunk)).stats!);
  const [sa, sb] = seen;
  assert.equal(sb!.window, 4);
  for (let l = 0; l < m.config.blockCount; l++) {
    for (let h = 0; h < m.config.headCount; h++) {
      for (const key of ['columnSums', 'windowSums', 'lastRow'] as const) {
        const x = sa![key]![l]![h]!;
        const y = sb![key]![l]![h]!;
        assert.equal(x.length, 18);
        for (let j = 0; j < 18; j++) assert.ok(Math.abs(x[j]! - y[j]!) < 1e-5, `${key} ${l} ${h} ${j}`);
      }
      // the window holds the last 4 queries: its sums total 4
      assert.ok(Math.abs(sb!.windowSums![l]![h]!.reduce((s, v) => s + v, 0) - 4) < 1e-4);
    }
  }
});

test('compression: slots removed, positions continue at the true next position, decode never reallocates', async () => {
  const m = model();
  const keysSeen = new Set<Float32Array>();
  const method = testMethod('retain-probe', {
    statsRequest: () => ({ columnSums: false, window: 0, lastRow: false }),
    compress: ({ cache }) => {
      for (const l of cache.layers) l.heads.forEach((h, i) => h.retain(i === 0 ? [0, 5, 10] : [0, 1, 2, 3, 9, 10]));
    },
    decodePolicy: () => ({
      stats: { columnSums: false, window: 0, lastRow: true },
      evicted: 0,
      afterDecodeStep: (cache, stats) => {
        const lastRow = stats?.lastRow;
        keysSeen.add(cache.layers[0]!.heads[0]!.keys);
        const h0 = cache.layers[0]!.heads[0]!;
        assert.equal(lastRow![0]![0]!.length, h0.length);
        assert.equal(h0.positions[h0.length - 1], cache.nextPosition - 1);
      },
    }),
  });
  const r = await generate(m, {
    prompt: 'abcdefghij', // 11 tokens with BOS
    maxTokens: 6,
    stopAtEos: false,
    compression: { method, budget: 0.5 },
  });
  assert.equal(keysSeen.size, 1, 'decode appended into reserved room');
  assert.deepEqual(r.kvCache.layers[0]!.lengths(), [3 + 5, 6 + 5]);
  assert.deepEqual([...r.kvCache.layers[0]!.heads[0]!.positions.subarray(0, 8)], [0, 5, 10, 11, 12, 13, 14, 15]);
});

test('stop strings cut the text and the stream; EOS stops', async () => {
  const m = model();
  const full = await generate(m, { prompt: 'abc', maxTokens: 12, stopAtEos: false });
  const stop = full.text.slice(3, 5);
  const streamed: string[] = [];
  const cut = await generate(m, { prompt: 'abc', maxTokens: 12, stop: [stop], stopAtEos: false, onText: (s) => streamed.push(s) });
  const at = full.text.indexOf(stop);
  assert.equal(cut.text, full.text.slice(0, at));
  assert.equal(streamed.join(''), cut.text);
  assert.equal(cut.stopReason, 'stop');
  // make the first generated token the EOS: stop with no text
  const eosModel = { ...m, tokenizer: { ...m.tokenizer, stopIds: [full.tokens[0]!] } };
  const e = await generate(eosModel, { prompt: 'abc', maxTokens: 12 });
  assert.equal(e.stopReason, 'eos');
  assert.deepEqual(e.tokens, []);
});

test('a prompt longer than the context is an error naming both numbers, or is truncated', async () => {
  const m = model({ contextLength: 16 });
  const long = 'abcdefghijklmnopqrstuvwxyz';
  await assert.rejects(generate(m, { prompt: long, maxTokens: 4 }), /prompt has 27 tokens but the model's context is 16; shorten it or pass --truncate middle\|start/);
  const r = await generate(m, { prompt: long, maxTokens: 4, truncate: 'start', stopAtEos: false });
  assert.equal(r.truncatedFrom, 27);
  assert.equal(r.promptTokens.length, 12);
  assert.equal(r.promptTokens[0], 0);
  assert.equal(m.tokenizer.decode(r.promptTokens), 'pqrstuvwxyz');
  // generation stops at the context
  const c = await generate(m, { prompt: 'abcdefghijkl', maxTokens: 50, stopAtEos: false });
  assert.equal(c.stopReason, 'context');
  assert.equal(c.promptTokens.length + c.tokens.length, 17);
});

test('truncatePrompt keeps BOS and the chosen parts', () => {
  assert.deepEqual(truncatePrompt([0, 1, 2, 3, 4, 5, 6, 7], 5, 'start', 0), [0, 4, 5, 6, 7]);
  assert.deepEqual(truncatePrompt([0, 1, 2, 3, 4, 5, 6, 7], 5, 'middle', 0), [0, 1, 2, 6, 7]);
  assert.deepEqual(truncatePrompt([1, 2, 3, 4, 5, 6, 7], 4, 'middle'), [1, 2, 6, 7]);
});

test('sampling with a seed is reproducible', async () => {
  const m = model();
  const opts = { prompt: 'xyz', maxTokens: 10, stopAtEos: false, sampling: { temperature: 1, topP: 0.9, seed: 5 } };
  const a = await generate(m, opts);
  const b = await generate(m, opts);
  const c = await generate(m, { ...opts, sampling: { ...opts.sampling, seed: 6 } });
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
});

test('--chat renders the chat template', async () => {
  const m = { ...model(), chatTemplate: "{{ bos_token }}{% for m in messages %}U{{ m.content }}E{% endfor %}{% if add_generation_prompt %}A{% endif %}" };
  const r = await generate(m, { prompt: 'hi', chat: true, maxTokens: 1 });
  assert.deepEqual(r.promptTokens, [0, ...m.tokenizer.encode('UhiEA', { addSpecial: false })]);
  await assert.rejects(generate(model(), { prompt: 'hi', chat: true }), /no chat template/);
});

test("compress/ plugs in through generate's compression option: prefill compression and a decode-time policy keep the budget", async () => {
  const m = model();
  const compression = (method: string, options: string[]) => ({ method, options, budget: { tokens: 6, per: 'layer' as const } });
  const once = await generate(m, { prompt: 'abcdefghijklmnop', maxTokens: 8, stopAtEos: false, compression: compression('h2o', []) });
  const report = once.compression!;
  assert.ok(report.bytesKept < report.bytesFull);
  // compressed once to 6 slots per head, then 7 decoded tokens appended
  for (const l of once.kvCache.layers) assert.deepEqual(l.lengths(), [13, 13]);
  assert.equal(once.kvCache.nextPosition, 17 + 7);
  // every decode-time mode, through the session: each head stays at 6 slots and keeps the newest token at its position
  for (const method of ['h2o', 'cam', 'streaming', 'tova']) {
    const decode = await generate(m, { prompt: 'abcdefghijklmnop', maxTokens: 8, stopAtEos: false, compression: compression(method, ['when=decode']) });
    for (const l of decode.kvCache.layers) {
      for (const h of l.heads) {
        assert.equal(h.length, 6, `${method}: head holds ${h.length} slots`);
        assert.equal(h.positions[h.length - 1], 17 + 6, `${method}: the newest token is kept at its true position`);
      }
    }
    assert.equal(decode.kvCache.nextPosition, 17 + 7, method);
  }
});
