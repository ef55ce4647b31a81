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
  small = await testServer({ ctxSize: 32 });
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
