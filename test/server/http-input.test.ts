// Raw HTTP against `kvmerger serve`: malformed and hostile input gets OpenAI-style errors with the right status,
// and the server keeps answering after each.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { closeModel, http, testServer, type TestServer } from './server-helpers.js';

let server: TestServer;
let small: TestServer;
before(async () => {
  server = await testServer({ bodyLimit: 4096 });
  small = await testServer({ ctxSize: 32, bodyLimit: 1 << 20 });
});
after(async () => {
  await server.close();
  await small.close();
  await closeModel();
});

const chatUrl = () => `${server.url}/v1/chat/completions`;
const msgs = [{ role: 'user', content: 'Hi' }];

/** Status and error object of a POST with a raw body. */
async function post(url: string, body: string, contentType = 'application/json') {
  const r = await http(url, { method: 'POST', body, headers: { 'content-type': contentType } });
  return { status: r.status, headers: r.headers, error: r.json().error as { message: string; type: string; param: string | null; code: string | null } };
}

function assertErrorShape(e: { message: string; type: string; param: string | null; code: string | null }) {
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 10);
  assert.equal(typeof e.type, 'string');
  assert.ok(e.param === null || typeof e.param === 'string');
  assert.ok(e.code === null || typeof e.code === 'string');
}

test('malformed bodies: bad JSON, empty, not an object, prototype poisoning → 400', async () => {
  for (const body of ['{"messages":', '', 'null', '[]', '"text"', '42', '{"__proto__": {"x": 1}, "messages": []}', '\u0000\u00ff']) {
    const r = await post(chatUrl(), body);
    assert.equal(r.status, 400, body);
    assertErrorShape(r.error);
    assert.equal(r.error.type, 'invalid_request_error');
  }
  // curl -d sends form-urlencoded: read as JSON all the same
  const form = await http(chatUrl(), { method: 'POST', body: JSON.stringify({ messages: msgs, max_tokens: 1 }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(form.status, 200);
});

test('wrong types and ranges name the field', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ messages: msgs, temperature: 'hot' }, 'temperature'],
    [{ messages: msgs, temperature: -1 }, 'temperature'],
    [{ messages: msgs, top_p: 1.5 }, 'top_p'],
    [{ messages: msgs, top_k: 2.5 }, 'top_k'],
    [{ messages: msgs, min_p: 2 }, 'min_p'],
    [{ messages: msgs, repeat_penalty: 0 }, 'repeat_penalty'],
    [{ messages: msgs, max_tokens: -5 }, 'max_tokens'],
    [{ messages: msgs, max_tokens: '10' }, 'max_tokens'],
    [{ messages: msgs, seed: 1.5 }, 'seed'],
    [{ messages: msgs, stop: [1, 2] }, 'stop'],
    [{ messages: msgs, stream: 'yes' }, 'stream'],
    [{ messages: msgs, stream_options: { include_usage: true } }, 'stream_options'],
    [{ messages: msgs, n: 3 }, 'n'],
    [{ messages: msgs, top_logprobs: 2 }, 'top_logprobs'],
    [{ messages: msgs, logprobs: true, top_logprobs: 50 }, 'top_logprobs'],
    [{ messages: msgs, tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools'],
    [{ messages: msgs, frequency_penalty: 0.5 }, 'frequency_penalty'],
    [{ messages: 'hello' }, 'messages'],
    [{ messages: [] }, 'messages'],
    [{}, 'messages'],
    [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0].type'],
    [{ messages: msgs, model: 7 }, 'model'],
    [{ messages: msgs, kv_compression: 'kvmerger' }, 'kv_compression'],
    [{ messages: msgs, kv_compression: { method: 'zip', budget: 0.5 } }, 'kv_compression.method'],
    [{ messages: msgs, kv_compression: { method: 'kvmerger', budget: 1.5 } }, 'kv_compression.budget'],
    [{ messages: msgs, kv_compression: { method: 'kvmerger', budget: '0.5' } }, 'kv_compression.budget'],
    [{ messages: msgs, kv_compression: { method: 'kvmerger' } }, 'kv_compression.budget'],
    [{ messages: msgs, kv_compression: { method: 'kvmerger', budget: 0.5, budget_tokens: 4 } }, 'kv_compression.budget'],
    [{ messages: msgs, kv_compression: { method: 'kvmerger', budget_tokens: 0 } }, 'kv_compression.budget_tokens'],
    [{ messages: msgs, kv_compression: { method: 'kvmerger', budget: 0.5, options: { sigma: 'wide' } } }, 'kv_compression'],
    [{ messages: msgs, kv_compression: { method: 'kvmerger', budget: 0.5, options: { nosuch: 1 } } }, 'kv_compression'],
    [{ messages: msgs, kv_compression: { method: 'kvmerger', budget: 0.5, options: 5 } }, 'kv_compression.options'],
    [{ messages: msgs, kv_compression: { method: 'snapkv', budget: 0.5, during_prefill: true } }, 'kv_compression'],
  ];
  for (const [body, param] of cases) {
    const r = await post(chatUrl(), JSON.stringify(body));
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.error.param, param, `${JSON.stringify(body)}: ${r.error.message}`);
    assertErrorShape(r.error);
  }
  const c = await post(`${server.url}/v1/completions`, JSON.stringify({ prompt: ['a', 'b'] }));
  assert.equal(c.status, 400);
  assert.equal(c.error.param, 'prompt');
  const ids = await post(`${server.url}/v1/completions`, JSON.stringify({ prompt: [1, 99999] }));
  assert.equal(ids.status, 400);
  assert.match(ids.error.message, /outside the model's vocabulary/);
});

test('a budget that keeps no slot of a short prompt is a 400 naming kv_compression', async () => {
  const r = await post(`${server.url}/v1/completions`, JSON.stringify({ prompt: 'Hi', kv_compression: { method: 'kvmerger', budget: 0.01 } }));
  assert.equal(r.status, 400);
  assert.equal(r.error.param, 'kv_compression');
  assert.match(r.error.message, /keeps no slot/);
});

test('a prompt longer than the context: 400 context_length_exceeded', async () => {
  const long = 'the king and the queen '.repeat(20);
  for (const [path, body] of [
    ['/v1/chat/completions', { messages: [{ role: 'user', content: long }] }],
    ['/v1/completions', { prompt: long }],
  ] as const) {
    const r = await post(`${small.url}${path}`, JSON.stringify(body));
    assert.equal(r.status, 400);
    assert.equal(r.error.code, 'context_length_exceeded');
    assert.match(r.error.message, /context is 32 tokens/);
  }
});

test('max_tokens far past the context is capped by the context; a deeply nested body is a 400', async () => {
  const r = await http(`${small.url}/v1/completions`, { json: { prompt: 'Once upon a time', max_tokens: 1e15, temperature: 0, stop: [] } });
  assert.equal(r.status, 200);
  assert.ok(r.json().usage.total_tokens <= 32);
  const deep = '['.repeat(200_000) + ']'.repeat(200_000);
  const big = await http(`${small.url}/v1/completions`, { method: 'POST', body: `{"prompt": ${deep}}`, headers: { 'content-type': 'application/json' } });
  assert.equal(big.status, 400);
  assert.equal((await http(`${small.url}/health`)).status, 200);
});

test('unknown routes and models: 404; oversized bodies: 413', async () => {
  for (const [method, path] of [['GET', '/v2/nothing'], ['GET', '/v1/chat/completions'], ['DELETE', '/v1/models'], ['POST', '/health']]) {
    const r = await http(`${server.url}${path}`, { method });
    assert.equal(r.status, 404, `${method} ${path}`);
    assertErrorShape(r.json().error);
  }
  const m = await post(chatUrl(), JSON.stringify({ model: 'llama-70b', messages: msgs }));
  assert.equal(m.status, 404);
  assert.equal(m.error.code, 'model_not_found');
  assert.equal((await http(`${server.url}/v1/models/llama-70b`)).status, 404);
  const big = await post(chatUrl(), JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(10_000) }] }));
  assert.equal(big.status, 413);
  assert.equal(big.error.code, 'request_too_large');
});

test('a client that sends half a request and hangs up, and garbage on the socket, do not crash the server', async () => {
  const u = new URL(server.url);
  await new Promise<void>((resolve) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '500' } });
    req.on('error', () => resolve());
    req.write('{"messages": [');
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 100);
  });
  const net = await import('node:net');
  await new Promise<void>((resolve) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.end('NOT HTTP AT ALL\r\n\r\n'));
    s.on('data', () => {});
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
  const h = await http(`${server.url}/health`);
  assert.equal(h.status, 200);
  assert.equal(h.json().status, 'ok');
});

test('fuzz: random values in every known field never give a 5xx, and the server keeps answering', async () => {
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const values = (): unknown =>
    pick<unknown>([null, true, false, 0, -1, 1, 0.5, 1.5, 2, 3, 1e300, -1e300, 2 ** 53, 'x', '', '1', 'none', 'kvmerger', [], [1], ['a'], {}, { method: 'kvmerger' }, { method: 'h2o', budget: 0.5 }, { method: 'kvmerger', budget_tokens: 3, options: { sigma: 2 } }, [{ role: 'user', content: 'hi' }], [{ role: 'user' }], [{ content: 'x' }], { include_usage: true }]);
  const fields = ['model', 'messages', 'prompt', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'repeat_penalty', 'seed', 'stop', 'stream', 'stream_options', 'n', 'logprobs', 'top_logprobs', 'kv_compression', 'echo', 'tools', 'response_format', 'frequency_penalty'];
  const statuses = new Map<number, number>();
  for (let i = 0; i < 150; i++) {
    const body: Record<string, unknown> = i % 2 === 0 ? { messages: [{ role: 'user', content: 'hello' }] } : { prompt: 'hello' };
    for (const f of fields) if (rand() < 0.08) body[f] = values();
    if (typeof body.max_tokens !== 'number') body.max_tokens = 2;
    const path = i % 2 === 0 ? '/v1/chat/completions' : '/v1/completions';
    const r = await http(`${small.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    assert.ok(r.status < 500, `${r.status} for ${JSON.stringify(body)}: ${r.text.slice(0, 300)}`);
    if (r.status !== 200) assertErrorShape(r.json().error);
    else if (body.stream === true) assert.ok(r.text.trimEnd().endsWith('data: [DONE]'), r.text.slice(-200));
    else assert.ok(r.json().kv_cache);
  }
  assert.ok((statuses.get(200) ?? 0) > 5, JSON.stringify([...statuses]));
  assert.ok((statuses.get(400) ?? 0) > 50, JSON.stringify([...statuses]));
});
