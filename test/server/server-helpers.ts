/** The built-in model behind a server started in the test, on 127.0.0.1 with an ephemeral port. */
import { loadModel, type LoadedModel } from '../../src/model/load-model.js';
import { startServer, type ServerOptions } from '../../src/server/app.js';
import { DEFAULT_SAMPLING, type JobDefaults } from '../../src/server/engine.js';
import { engineModel } from '../../src/cli/commands/serve.js';

export const DEFAULTS: JobDefaults = { maxTokens: 16, sampling: { ...DEFAULT_SAMPLING }, compression: null };

let loaded: Promise<LoadedModel> | undefined;
/** One built-in model per test file (ort backend, one thread: the machine is shared). */
export function builtinModel(): Promise<LoadedModel> {
  loaded ??= loadModel(undefined, { backend: 'ort', threads: 1 });
  return loaded;
}

export async function closeModel(): Promise<void> {
  if (loaded) await (await loaded).close();
  loaded = undefined;
}

export type TestServer = Awaited<ReturnType<typeof startServer>> & { lines: string[] };

/** A server over the built-in model; `ctxSize` shortens the context (as --ctx-size does). */
export async function testServer(over: Partial<ServerOptions> & { ctxSize?: number } = {}): Promise<TestServer> {
  const m = await builtinModel();
  const lines: string[] = [];
  const { ctxSize, ...rest } = over;
  const s = await startServer({ model: engineModel(m, ctxSize), defaults: DEFAULTS, host: '127.0.0.1', port: 0, log: (l) => lines.push(l), ...rest });
  return Object.assign(s, { lines });
}

/** A raw HTTP request: status, headers and the body as text. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON of any shape, read by the tests
export async function http(url: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const { json, ...rest } = init;
  const res = await fetch(url, {
    ...rest,
    ...(json !== undefined ? { method: rest.method ?? 'POST', body: JSON.stringify(json), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

export const until = async (cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};
