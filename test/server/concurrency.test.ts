// Concurrency of `kvmerger serve`: parallel sessions take turns token by token, a full queue answers 429 with
// Retry-After, a client that disconnects (waiting or running) stops its generation and frees its slot, and the time
// limit ends a reply with finish_reason "length".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeModel, http, testServer, until, type TestServer } from './server-helpers.js';

after(async () => {
  await closeModel();
});

const LONG = { prompt: 'The king walked and walked and walked. '.repeat(4), temperature: 0, max_tokens: 3000 };

/** Reads a streaming response, calling `onData` with each `data:` payload. */
async function readStream(res: Response, onData: (d: string) => void): Promise<void> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, at);
      buf = buf.slice(at + 2);
      if (event.startsWith('data: ')) onData(event.slice(6));
    }
  }
}

const health = async (s: TestServer) => (await http(`${s.url}/health`)).json().slots as { running: number; waiting: number };

test('two streams with --parallel 2 are interleaved token by token', async () => {
  const s = await testServer({ parallel: 2 });
  try {
    const order: string[] = [];
    const one = async (name: string) => {
      const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ ...LONG, max_tokens: 30, stream: true }) });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /text\/event-stream/);
      let done = false;
      await readStream(res, (d) => {
        if (d === '[DONE]') done = true;
        else if (JSON.parse(d).choices[0]?.text) order.push(name);
      });
      assert.ok(done);
    };
    await Promise.all([one('a'), one('b')]);
    const firstB = order.indexOf('b');
    const lastA = order.lastIndexOf('a');
    assert.ok(firstB >= 0 && firstB < lastA, `not interleaved: ${order.join('')}`);
    // fair: neither got far ahead (each turn is one token; text pieces may merge a few)
    const switches = order.slice(1).filter((x, i) => x !== order[i]).length;
    assert.ok(switches >= 10, `${switches} switches: ${order.join('')}`);
  } finally {
    await s.close();
  }
});

test('a full queue answers 429 with Retry-After; a waiting client that leaves frees its place', async () => {
  const s = await testServer({ parallel: 1, queueSize: 1 });
  try {
    const a = new AbortController();
    const running = fetch(`${s.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ ...LONG, stream: true }), signal: a.signal }).then((r) => readStream(r, () => {})).catch(() => {});
    await until(async () => (await health(s)).running === 1);
    const b = new AbortController();
    const waiting = fetch(`${s.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ ...LONG, max_tokens: 2 }), signal: b.signal }).catch(() => undefined);
    await until(async () => (await health(s)).waiting === 1);
    const full = await http(`${s.url}/v1/completions`, { json: { prompt: 'x', max_tokens: 1 } });
    assert.equal(full.status, 429);
    assert.equal(full.json().error.code, 'queue_full');
    assert.equal(full.json().error.type, 'rate_limit_error');
    assert.match(full.headers.get('retry-after')!, /^\d+$/);
    b.abort();
    await waiting;
    await until(async () => (await health(s)).waiting === 0);
    assert.equal((await health(s)).running, 1);
    a.abort();
    await running;
    await until(async () => (await health(s)).running === 0);
    const ok = await http(`${s.url}/v1/completions`, { json: { prompt: 'x', max_tokens: 1 } });
    assert.equal(ok.status, 200);
  } finally {
    await s.close();
  }
});

test('a client that disconnects mid-stream or mid-request stops its generation', async () => {
  const s = await testServer({ parallel: 2 });
  try {
    const a = new AbortController();
    const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ ...LONG, stream: true }), signal: a.signal });
    let chunks = 0;
    await readStream(res, () => {
      if (++chunks === 3) a.abort();
    }).catch(() => {});
    await until(async () => (await health(s)).running === 0, 5000);
    // a plain (non-streaming) request whose client goes away
    const b = new AbortController();
    const plain = fetch(`${s.url}/v1/completions`, { method: 'POST', body: JSON.stringify(LONG), signal: b.signal }).catch(() => undefined);
    await until(async () => (await health(s)).running === 1);
    b.abort();
    await plain;
    await until(async () => (await health(s)).running === 0, 5000);
    await until(() => s.lines.filter((l) => l.includes('client closed the connection')).length === 2);
  } finally {
    await s.close();
  }
});

test('the time limit ends a reply with finish_reason length', async () => {
  const s = await testServer({ timeoutMs: 400 });
  try {
    const t0 = Date.now();
    const r = await http(`${s.url}/v1/completions`, { json: LONG });
    assert.equal(r.status, 200);
    const j = r.json();
    assert.equal(j.choices[0].finish_reason, 'length');
    assert.equal(j.timings.time_limit_reached, true);
    assert.ok(j.usage.completion_tokens < 3000);
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    await s.close();
  }
});
