// `kvmerger chat` through piped stdin: streamed replies, /method, /stats, /reset, errors that do not end it, and
// Ctrl-C (SIGINT) that stops the reply and not the program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { parseMethodCommand, statsLines } from '../../src/cli/commands/chat.js';

function startChat(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'chat', '-t', '1', '--temperature', '0', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

test('piped turns: replies stream, /stats shows the cache, /method compresses the next reply, /reset forgets', async () => {
  const c = startChat(['-n', '12']);
  c.child.stdin.end(['Tell me a story about a king', '/stats', '/method kvmerger 0.35', 'And then what happened?', '/stats', '/method zip 0.5', '/method kvmerger 1.5', '/nosuch', '/reset', '/stats', '/quit', 'never read'].join('\n') + '\n');
  assert.equal(await c.exited, 0, c.err());
  const out = c.out();
  const stats = out.split('\n').filter((l) => l.startsWith('KV cache:'));
  assert.equal(stats.length, 2, out);
  assert.match(stats[0]!, /method none; prompt slots kept (\d+) of \1 \(100\.0%\)/);
  assert.match(stats[1]!, /method kvmerger, budget 0\.35; prompt slots kept \d+ of \d+ \(3\d\.\d%\)/);
  assert.match(out, /decode [\d.]+ tokens\/s/);
  assert.match(out, /per layer \(kept\/full slots\): (\d+\/\d+ ){5}\d+\/\d+/);
  assert.match(out, /\(KV compression: kvmerger 0\.35\)/);
  assert.match(out, /\(conversation cleared\)\nno reply yet/);
  // the second turn's prompt holds the first turn: more prompt tokens
  const prompts = [...out.matchAll(/last reply: (\d+) prompt tokens/g)].map((m) => Number(m[1]));
  assert.ok(prompts[1]! > prompts[0]! + 10, String(prompts));
  const err = c.err();
  assert.match(err, /chat: unknown method 'zip'/);
  assert.match(err, /chat: \/method kvmerger 1\.5: the budget must be a share in \(0, 1\]/);
  assert.match(err, /chat: unknown command \/nosuch/);
});

test('Ctrl-C (SIGINT) stops the reply, not the program', async () => {
  const c = startChat(['-n', '100000', '--ctx-size', '4096']);
  c.child.stdin.write('Once upon a time there was a king who\n');
  const end = Date.now() + 60_000;
  while (c.out().length < 20) {
    if (Date.now() > end || c.child.exitCode !== null) throw new Error(`no reply: ${c.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  c.child.kill('SIGINT');
  while (!c.out().includes('[stopped]')) {
    if (Date.now() > end || c.child.exitCode !== null) throw new Error(`not stopped: ${c.out()} ${c.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  c.child.stdin.end('/stats\n');
  assert.equal(await c.exited, 0, c.err());
  assert.match(c.out(), /stop: interrupted/);
});

test('/method parsing: a share, slots per head, none, options', () => {
  assert.deepEqual(parseMethodCommand(['kvmerger', '0.35']), { method: 'kvmerger', budget: 0.35, options: [], duringPrefill: false });
  assert.deepEqual(parseMethodCommand(['h2o', '64']), { method: 'h2o', budget: { tokens: 64, per: 'layer' }, options: [], duringPrefill: false });
  assert.equal(parseMethodCommand(['none']), null);
  assert.deepEqual(parseMethodCommand(['kvmerger', '0.5', 'sigma=5'])?.options, ['sigma=5']);
  assert.throws(() => parseMethodCommand(['kvmerger']), /needs a budget/);
  assert.throws(() => parseMethodCommand(['kvmerger', '0.5', 'nosuch=1']), /nosuch/);
  assert.deepEqual(statsLines(undefined, null, 0), ['no reply yet', 'compression for the next reply: none; 0 messages in the conversation']);
});
