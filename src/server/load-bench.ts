/**
 * Load benchmark of `kvmerger serve` (loopback only, bounded in count and time, stops by itself): starts the server
 * as a child process on 127.0.0.1 with an ephemeral port (the built-in model by default), sends `--requests`
 * completions `--concurrency` at a time, and prints throughput, p50/p99 latency, errors and the server's RSS before
 * and after (from /health). With `--llama-server` it runs the same load against llama.cpp's llama-server on the same
 * model file (where `npm run build:llama-cpp` built it), for comparison.
 *
 *   npx tsx src/server/load-bench.ts [--requests 200] [--concurrency 8] [--max-tokens 32] [--parallel 4]
 *       [--kv kvmerger:0.35] [--stream-share 0.25] [--deadline 600] [--llama-server] [--llama-server-args "..."]
 *       [--model FILE] [--threads N] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface RunStats {
  server: string;
  kv: string;
  requests: number;
  concurrency: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  completionTokens: number;
  completionTokensPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  rssBeforeMiB?: number;
  rssAfterMiB?: number;
  rssPeakMiB?: number;
  /** RSS after each tenth of the requests: flat when memory does not grow with the number of requests. */
  rssTrailMiB: number[];
  firstErrors: string[];
}

const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitFor(url: string, child: ChildProcess, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (code ${child.exitCode}) before answering ${url}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`no answer from ${url} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** RSS of a process in bytes, from /proc (Linux), for servers whose /health does not say. */
function rssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The prompt of request i: a few sentences, different per request so no two are the same. */
const promptOf = (i: number) => `Request ${i}. The old king walked through the garden of the castle, and the queen followed him. ${'The birds sang in the trees. '.repeat(8)}Then the king said`;

async function runLoad(
  base: string,
  opts: { requests: number; concurrency: number; maxTokens: number; kv: string; streamShare: number; deadlineMs: number; extension: boolean },
  rss: () => Promise<number | undefined>,
  label: string,
): Promise<RunStats> {
  const [method, budget] = opts.kv === 'none' ? [undefined, undefined] : opts.kv.split(':');
  const latencies: number[] = [];
  const firstErrors: string[] = [];
  let errors = 0;
  let tokens = 0;
  let next = 0;
  const deadline = Date.now() + opts.deadlineMs;
  // one warm-up request, then RSS "before"
  await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: promptOf(-1), max_tokens: 4 }) });
  const before = await rss();
  let peak = before ?? 0;
  const sampler = setInterval(() => {
    void rss().then((v) => {
      if (v !== undefined && v > peak) peak = v;
    });
  }, 500);
  const trail: number[] = [];
  let finished = 0;
  const tenth = Math.max(1, Math.floor(opts.requests / 10));
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= opts.requests || Date.now() > deadline) return;
      if (finished > 0 && finished % tenth === 0 && trail.length < finished / tenth) {
        const v = await rss();
        if (v !== undefined) trail.push(mib(v));
      }
      const stream = (i * 7919) % 100 < opts.streamShare * 100;
      const body: Record<string, unknown> = { model: 'default', prompt: promptOf(i), max_tokens: opts.maxTokens, temperature: 0.8, seed: i, stream };
      if (method && opts.extension) body.kv_compression = { method, budget: Number(budget) };
      const s0 = performance.now();
      try {
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), Math.max(1000, deadline - Date.now()));
        const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: ac.signal });
        const text = await res.text();
        clearTimeout(timer);
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
        if (stream) {
          if (!text.trimEnd().endsWith('data: [DONE]')) throw new Error('stream without [DONE]');
          tokens += text.split('\n').filter((l) => l.startsWith('data: {') && /"text":"[^"]/.test(l)).length;
        } else {
          const j = JSON.parse(text) as { usage?: { completion_tokens: number } };
          tokens += j.usage?.completion_tokens ?? 0;
        }
        latencies.push(performance.now() - s0);
      } catch (err) {
        errors++;
        if (firstErrors.length < 5) firstErrors.push(`${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}`);
      }
      finished++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const after = await rss();
  if (after !== undefined && after > peak) peak = after;
  const sorted = [...latencies].sort((a, b) => a - b);
  const done = latencies.length + errors;
  return {
    server: label,
    kv: method && opts.extension ? `${method} ${budget}` : 'none',
    requests: done,
    concurrency: opts.concurrency,
    errors: errors + (opts.requests - done),
    seconds: Math.round(seconds * 100) / 100,
    requestsPerSecond: Math.round((latencies.length / seconds) * 100) / 100,
    completionTokens: tokens,
    completionTokensPerSecond: Math.round((tokens / seconds) * 10) / 10,
    latencyMs: { p50: Math.round(quantile(sorted, 0.5)), p90: Math.round(quantile(sorted, 0.9)), p99: Math.round(quantile(sorted, 0.99)), max: Math.round(sorted[sorted.length - 1] ?? 0) },
    ...(before !== undefined ? { rssBeforeMiB: mib(before) } : {}),
    ...(after !== undefined ? { rssAfterMiB: mib(after), rssPeakMiB: mib(peak) } : {}),
    rssTrailMiB: trail,
    firstErrors,
  };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function benchKvmerger(o: { model?: string; parallel: number; threads?: string }, load: Parameters<typeof runLoad>[1]): Promise<RunStats> {
  const port = await freePort();
  const args = ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--parallel', String(o.parallel), '--queue', '256', '-q'];
  if (o.model) args.push('--model', o.model);
  if (o.threads) args.push('--threads', o.threads);
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${base}/health`, child, 120_000);
    const rss = async () => ((await (await fetch(`${base}/health`)).json()) as { rss_bytes: number }).rss_bytes;
    return await runLoad(base, load, rss, `kvmerger serve --parallel ${o.parallel}`);
  } finally {
    await stop(child);
  }
}

async function benchLlamaServer(o: { model: string; parallel: number; threads?: string; extra: string[] }, load: Parameters<typeof runLoad>[1]): Promise<RunStats | string> {
  const { findNativeLlamaCpp } = await import('../bench/native-llama-cpp.js');
  const native = findNativeLlamaCpp();
  const bin = native?.tools['llama-server'];
  if (!bin || !existsSync(bin)) return 'llama-server is not built here (npm run build:llama-cpp builds it)';
  const port = await freePort();
  const args = ['-m', o.model, '--host', '127.0.0.1', '--port', String(port), '--parallel', String(o.parallel), '-c', String(4096 * o.parallel), '--no-webui', '--log-disable'];
  if (o.threads) args.push('-t', o.threads);
  args.push(...o.extra);
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${base}/health`, child, 120_000);
    return await runLoad(base, { ...load, extension: false }, async () => rssOf(child.pid), `llama-server --parallel ${o.parallel}${o.extra.length ? ` ${o.extra.join(' ')}` : ''}`);
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '8' },
      'max-tokens': { type: 'string', default: '32' },
      parallel: { type: 'string', default: '4' },
      kv: { type: 'string', multiple: true },
      'stream-share': { type: 'string', default: '0.25' },
      deadline: { type: 'string', default: '600' },
      'llama-server': { type: 'boolean', default: false },
      'llama-server-args': { type: 'string', default: '' },
      model: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const requests = Math.min(10_000, Math.max(1, Number(values.requests)));
  const concurrency = Math.min(64, Math.max(1, Number(values.concurrency)));
  const load = {
    requests,
    concurrency,
    maxTokens: Number(values['max-tokens']),
    kv: 'none',
    streamShare: Number(values['stream-share']),
    deadlineMs: Math.min(1800, Number(values.deadline)) * 1000,
    extension: true,
  };
  const parallel = Number(values.parallel);
  const model = values.model ?? join(root, 'models', 'kvmerger-default.gguf');
  const rows: (RunStats | string)[] = [];
  for (const kv of values.kv ?? ['none', 'kvmerger:0.35']) {
    const r = await benchKvmerger({ model, parallel, ...(values.threads ? { threads: values.threads } : {}) }, { ...load, kv });
    rows.push(r);
    if (!values.json) process.stderr.write(`${JSON.stringify(r)}\n`);
  }
  if (values['llama-server']) {
    const extra = values['llama-server-args'].split(/\s+/).filter(Boolean);
    const r = await benchLlamaServer({ model, parallel, extra, ...(values.threads ? { threads: values.threads } : {}) }, load);
    rows.push(r);
    if (!values.json) process.stderr.write(`${JSON.stringify(r)}\n`);
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  const lines = [
    `| server | KV compression | requests (errors) | wall s | req/s | completion tok/s | p50 ms | p99 ms | RSS before → after (peak) MiB |`,
    `|---|---|---|---|---|---|---|---|---|`,
  ];
  for (const r of rows) {
    if (typeof r === 'string') {
      lines.push(`| llama-server | - | ${r} | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.server} | ${r.kv} | ${r.requests} (${r.errors}) | ${r.seconds} | ${r.requestsPerSecond} | ${r.completionTokensPerSecond} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.rssBeforeMiB ?? '-'} → ${r.rssAfterMiB ?? '-'} (${r.rssPeakMiB ?? '-'}) |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  const errors = rows.reduce((a, r) => a + (typeof r === 'string' ? 0 : r.errors), 0);
  if (errors > 0) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`load-bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 2;
  });
}
