// The official openai npm client against `kvmerger serve` (in-process, 127.0.0.1, ephemeral port): chat,
// completion, streaming, logprobs, per-request KV compression, errors.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { closeModel, testServer, type TestServer } from './server-helpers.js';

let server: TestServer;
let client: OpenAI;
before(async () => {
  server = await testServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
});
after(async () => {
  await server.close();
  await closeModel();
});

type WithKv = { kv_cache: { method: string; budget: number; slots_full: number; slots_kept: number; bytes_full: number; bytes_kept: number; layers: { slots_full: number; slots_kept: number }[] } };

test('models: the built-in model is listed under its file name', async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['kvmerger-default']);
  const one = await client.models.retrieve('kvmerger-default');
  assert.equal(one.id, 'kvmerger-default');
});

test('chat completion: the reply, usage and kv_cache; greedy is deterministic', async () => {
  const ask = () =>
    client.chat.completions.create({
      model: 'kvmerger-default',
      messages: [
        { role: 'system', content: 'A story.' },
        { role: 'user', content: 'Once upon a time there was a king.' },
      ],
      max_tokens: 12,
      temperature: 0,
    });
  const r = await ask();
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0]!.message.role, 'assistant');
  assert.ok(typeof r.choices[0]!.message.content === 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0]!.finish_reason));
  assert.ok(r.usage!.prompt_tokens > 5);
  assert.ok(r.usage!.completion_tokens <= 12);
  assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  const kv = (r as unknown as WithKv).kv_cache;
  assert.equal(kv.method, 'none');
  assert.equal(kv.slots_kept, kv.slots_full);
  assert.equal(kv.slots_full, r.usage!.prompt_tokens * 6 * 2); // 6 layers × 2 KV heads
  assert.equal(kv.bytes_full, kv.slots_full * 64 * 2 * 2); // K and V, 64 dims, f16
  assert.deepEqual((await ask()).choices[0]!.message.content, r.choices[0]!.message.content);
});

test('completion with per-request kv_compression: kvmerger at 35% keeps 35% of the prompt slots', async () => {
  const prompt = 'The pass key is 48213. Remember it. The grass is green and the sky is blue. '.repeat(8);
  const r = await client.completions.create({
    model: 'kvmerger-default',
    prompt,
    max_tokens: 8,
    temperature: 0,
    // @ts-expect-error the extension field
    kv_compression: { method: 'kvmerger', budget: 0.35 },
  });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0]!.text, 'string');
  const kv = (r as unknown as WithKv).kv_cache;
  assert.equal(kv.method, 'kvmerger');
  assert.equal(kv.budget, 0.35);
  assert.ok(Math.abs(kv.slots_kept / kv.slots_full - 0.35) < 0.02, `${kv.slots_kept}/${kv.slots_full}`);
  assert.ok(kv.bytes_kept < kv.bytes_full * 0.4);
  assert.equal(kv.layers.length, 6);
  assert.equal(kv.layers.reduce((a, l) => a + l.slots_kept, 0), kv.slots_kept);
  // a token budget per layer and head
  const t = await client.completions.create({
    model: 'kvmerger-default',
    prompt,
    max_tokens: 2,
    // @ts-expect-error the extension field
    kv_compression: { method: 'h2o', budget_tokens: 20 },
  });
  assert.deepEqual((t as unknown as WithKv).kv_cache.layers.map((l) => l.slots_kept), [40, 40, 40, 40, 40, 40]);
});

test('streaming chat: deltas add up to the non-streamed reply; usage and kv_cache at the end', async () => {
  const body = { model: 'kvmerger-default', messages: [{ role: 'user' as const, content: 'Tell me about the sea.' }], max_tokens: 15, temperature: 0 };
  const whole = await client.chat.completions.create(body);
  const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish: string | null = null;
  let usage;
  let chunks = 0;
  let kv: WithKv['kv_cache'] | undefined;
  for await (const c of stream) {
    chunks++;
    if (c.choices[0]?.delta.content) text += c.choices[0].delta.content;
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    if (c.usage) usage = c.usage;
    kv ??= (c as unknown as WithKv).kv_cache;
  }
  assert.equal(text, whole.choices[0]!.message.content);
  assert.equal(finish, whole.choices[0]!.finish_reason);
  assert.deepEqual(usage, whole.usage);
  assert.ok(chunks >= 3);
  assert.equal(kv!.slots_full, whole.usage!.prompt_tokens * 12);
  // a streamed completion too
  const cs = await client.completions.create({ model: 'kvmerger-default', prompt: 'Once upon a time', max_tokens: 6, temperature: 0, stream: true });
  let ctext = '';
  for await (const c of cs) ctext += c.choices[0]?.text ?? '';
  const cw = await client.completions.create({ model: 'kvmerger-default', prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
  assert.equal(ctext, cw.choices[0]!.text);
});

test('logprobs: each token with its log-probability and the top alternatives', async () => {
  const r = await client.chat.completions.create({
    model: 'kvmerger-default',
    messages: [{ role: 'user', content: 'Hello' }],
    max_tokens: 5,
    temperature: 0,
    logprobs: true,
    top_logprobs: 3,
  });
  const content = r.choices[0]!.logprobs!.content!;
  assert.equal(content.length, r.usage!.completion_tokens);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    // greedy: the chosen token is the most likely one
    assert.equal(t.top_logprobs[0]!.token, t.token);
    assert.ok(Math.abs(t.top_logprobs[0]!.logprob - t.logprob) < 1e-9);
    assert.ok(t.top_logprobs[0]!.logprob >= t.top_logprobs[1]!.logprob);
    assert.deepEqual(Buffer.from(t.bytes!).toString('utf8'), t.token);
  }
  const c = await client.completions.create({ model: 'kvmerger-default', prompt: 'Once', max_tokens: 3, temperature: 0, logprobs: 2 });
  const lp = c.choices[0]!.logprobs!;
  assert.equal(lp.tokens!.length, 3);
  assert.equal(lp.tokens!.join(''), c.choices[0]!.text);
  assert.equal(Object.keys(lp.top_logprobs![0]!).length, 2);
});

test('errors come back as the client\'s typed errors with OpenAI\'s error object', async () => {
  await assert.rejects(
    // @ts-expect-error a wrong type on purpose
    client.chat.completions.create({ model: 'kvmerger-default', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }),
    (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.status, 400);
      assert.equal(err.param, 'temperature');
      assert.equal((err.error as { type: string }).type, 'invalid_request_error');
      return true;
    },
  );
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.code, 'model_not_found');
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model: 'kvmerger-default', messages: [{ role: 'user', content: 'x' }], n: 2 }), /n must be 1/);
  // the stream form reports an error before it starts as the same typed error
  await assert.rejects(
    client.chat.completions.create({
      model: 'kvmerger-default',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      kv_compression: { method: 'kvmerger', budget: 1.5 },
    } as OpenAI.ChatCompletionCreateParamsStreaming),
    (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'kv_compression.budget',
  );
});
