// `kvmerger serve` as a command: it prints where it listens, answers, and stops cleanly on SIGTERM; bad options
// fail before the model loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { run } from '../../src/cli/commands/serve.js';

test('serve --port 0 --json: the address on stdout, /health answers, SIGTERM exits 0', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--json', '-t', '1', '--method', 'kvmerger', '--budget', '0.5'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const end = Date.now() + 60_000;
    while (!out.includes('\n')) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`serve did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const info = JSON.parse(out.split('\n')[0]!) as { url: string; model: string; kv_compression: { method: string; budget: number } };
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.model, 'kvmerger-default.gguf');
    assert.equal(info.kv_compression.method, 'kvmerger');
    const h = (await (await fetch(`${info.url}/health`)).json()) as { status: string };
    assert.equal(h.status, 'ok');
    // the server's --method/--budget is the default of a request that does not say
    const r = (await (await fetch(`${info.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'Once upon a time, in a land far away, there lived a king', max_tokens: 2 }) })).json()) as {
      kv_cache: { method: string; budget: number };
    };
    assert.equal(r.kv_cache.method, 'kvmerger');
    assert.equal(r.kv_cache.budget, 0.5);
    // ... and a request may turn it off
    const none = (await (await fetch(`${info.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'Once', max_tokens: 1, kv_compression: null }) })).json()) as { kv_cache: { method: string } };
    assert.equal(none.kv_cache.method, 'none');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  assert.match(err, /serve: POST \/v1\/completions 200/);
});

test('bad options fail before the model loads', async () => {
  await assert.rejects(run(['--method', 'kvmerger']), /--method kvmerger needs a budget/);
  await assert.rejects(run(['--port', '70000']), /--port must be an integer in \[0, 65535\]/);
  await assert.rejects(run(['--parallel', '0']), /--parallel must be an integer/);
  await assert.rejects(run(['--method', 'zip', '--budget', '0.5']), /unknown method 'zip'/);
  await assert.rejects(run(['--budget', '0.5']), /need --method/);
});
