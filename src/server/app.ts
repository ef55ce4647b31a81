/**
 * The HTTP server of `kvmerger serve` (fastify): OpenAI's chat completions, completions and models, /health, and
 * the chat page at `/`. Requests are checked (request.ts), prepared (engine.ts: tokens, sampler, compression), then
 * wait in a bounded queue for one of `parallel` slots (scheduler.ts); each running request has its own session and
 * cache, and the sessions take turns token by token. A client that disconnects stops its generation; every request
 * has a time limit. No numeric work happens here.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { methodNames } from '../compress/registry.js';
import { logprobsContent, type TokenLogprobs } from '../generate/logprobs.js';
import { ApiError } from './errors.js';
import { chatTemplateOf, prepareJob, runJob, tokenText, type EngineModel, type JobDefaults, type JobOutcome, type KvCacheSummary } from './engine.js';
import { parseJobRequest, type JobRequest } from './request.js';
import { Scheduler } from './scheduler.js';
import { chatPage } from './page.js';

export interface ServerOptions {
  model: EngineModel;
  defaults: JobDefaults;
  /** Requests generating at once, each with its own cache (default 4). */
  parallel?: number;
  /** Requests that may wait for a slot; more get 429 with Retry-After (default 32). */
  queueSize?: number;
  /** Time limit of one request once it runs, in ms; 0: none (default 300 000). */
  timeoutMs?: number;
  /** Largest request body in bytes; larger ones get 413 (default 4 MiB). */
  bodyLimit?: number;
  /** One line per request (the serve command prints them on stderr). */
  log?: (line: string) => void;
}

/** Why a running request stops early. */
class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGone';
  }
}
class TimeLimit extends Error {
  constructor(ms: number) {
    super(`the request ran past the server's time limit of ${ms / 1000} s`);
    this.name = 'TimeLimit';
  }
}

/** Lets the other running sessions take a turn (each forward pass is one turn). */
const takeTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;
const round = (x: number) => Math.round(x * 1000) / 1000;

export interface KvServer {
  readonly app: FastifyInstance;
  readonly scheduler: Scheduler;
}

export async function createServer(opts: ServerOptions): Promise<KvServer> {
  const { model, defaults } = opts;
  const parallel = opts.parallel ?? 4;
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const scheduler = new Scheduler(parallel, opts.queueSize ?? 32);
  const created = Math.floor(Date.now() / 1000);
  const log = opts.log ?? (() => {});
  const app = Fastify({ logger: false, bodyLimit: opts.bodyLimit ?? 4 * 1024 * 1024, return503OnClosing: true, forceCloseConnections: true });

  // A body of any content type is read as JSON (curl -d sends application/x-www-form-urlencoded), with fastify's
  // own parser and its prototype-poisoning checks.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, json);

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const e = toApiError(err);
    if (e.status >= 500) log(`${request.method} ${request.url} ${e.status} internal error: ${(err as Error)?.stack ?? String(err)}`);
    void reply.code(e.status).headers(e.headers).send(e.body());
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new ApiError(404, `no route for ${request.method} ${request.url.split('?')[0]}; the routes are POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health and GET /`, 'invalid_request_error', null, 'not_found');
    void reply.code(404).send(e.body());
  });

  const modelCard = () => ({
    id: model.id,
    object: 'model',
    created,
    owned_by: 'kvmerger',
    meta: {
      context_length: model.config.contextLength,
      architecture: model.config.architecture,
      layers: model.config.blockCount,
      kv_heads: model.config.headCountKv,
      chat_template: chatTemplateOf(model).fallback ? 'fallback' : 'model',
      kv_compression: { default: defaults.compression, methods: ['none', ...methodNames()] },
    },
  });

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(chatPage(model.id, defaults.compression)));
  app.get('/health', async () => ({
    status: 'ok',
    model: model.id,
    slots: { parallel, running: scheduler.active, waiting: scheduler.waiting, queue: scheduler.queueSize },
    completed: scheduler.completed,
    rss_bytes: process.memoryUsage().rss,
  }));
  app.get('/v1/models', async () => ({ object: 'list', data: [modelCard()] }));
  app.get<{ Params: { id: string } }>('/v1/models/:id', async (request) => {
    if (!modelMatches(model, request.params.id)) throw modelNotFound(model, request.params.id);
    return modelCard();
  });

  const completions = (kind: 'chat' | 'completion') => async (request: FastifyRequest, reply: FastifyReply) => {
    const t0 = performance.now();
    const req = parseJobRequest(kind, request.body);
    if (req.model !== undefined && req.model !== '' && !modelMatches(model, req.model)) throw modelNotFound(model, req.model);
    const job = prepareJob(model, req, defaults);

    // The client may go away while the request waits or runs: that aborts it and frees its slot and cache.
    const gone = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) gone.abort(new ClientGone());
    };
    reply.raw.on('close', onClose);
    const release = await scheduler.acquire(gone.signal).catch((err: unknown) => {
      reply.raw.off('close', onClose);
      throw err;
    });
    const limit = new AbortController();
    const timer = timeoutMs > 0 ? setTimeout(() => limit.abort(new TimeLimit(timeoutMs)), timeoutMs) : undefined;
    const signal = AbortSignal.any([gone.signal, limit.signal]);
    const id = newId(kind === 'chat' ? 'chatcmpl' : 'cmpl');
    const ctx: Ctx = { id, created: Math.floor(Date.now() / 1000), model, req };
    try {
      const outcome = req.stream ? await streamJob(reply, ctx, job, signal) : await plainJob(reply, ctx, job, signal);
      if (!outcome && gone.signal.aborted) {
        log(`${request.method} ${request.url} client closed the connection after ${round(performance.now() - t0)} ms; generation stopped`);
        if (!reply.sent) reply.hijack(); // nothing is sent to a closed connection
        reply.raw.destroy();
      }
      if (outcome) {
        log(
          `${request.method} ${request.url} 200 ${outcome.promptTokens}+${outcome.completionTokens} tokens, ${round(performance.now() - t0)} ms, ` +
            `kv ${outcome.kv.method} ${outcome.kv.slots_kept}/${outcome.kv.slots_full} slots${outcome.aborted ? ', stopped by the time limit' : ''}`,
        );
      }
      return reply;
    } catch (err) {
      if (gone.signal.aborted) {
        log(`${request.method} ${request.url} client closed the connection after ${round(performance.now() - t0)} ms; generation stopped`);
        if (!reply.sent) reply.hijack();
        reply.raw.destroy();
        return reply;
      }
      if (err instanceof TimeLimit) throw new ApiError(408, `${err.message} before the first token (a long prompt?); shorten the prompt`, 'timeout_error', null, 'request_timeout');
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      reply.raw.off('close', onClose);
      release();
    }
  };

  for (const prefix of ['/v1', '']) {
    app.post(`${prefix}/chat/completions`, completions('chat'));
    app.post(`${prefix}/completions`, completions('completion'));
  }
  await app.ready();
  return { app: app as unknown as FastifyInstance, scheduler };
}

interface Ctx {
  id: string;
  created: number;
  model: EngineModel;
  req: JobRequest;
}

function modelMatches(model: EngineModel, name: string): boolean {
  return name === model.id || name === `${model.id}.gguf` || name === 'default' || name === 'kvmerger';
}

function modelNotFound(model: EngineModel, name: string): ApiError {
  return new ApiError(404, `the model '${name}' does not exist; this server runs '${model.id}' (GET /v1/models)`, 'invalid_request_error', 'model', 'model_not_found');
}

/** Any error as an ApiError: fastify's own (bad JSON 400, body too large 413, ...) keep their status. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request_too_large' : e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (e.statusCode === 400 && /JSON/i.test(e.message ?? '')) ? 'invalid_json' : (e.code ?? null);
    const message =
      e.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `the request body is larger than the server's limit (${e.message ?? ''}); send a smaller one or start the server with a larger --body-limit`
        : code === 'invalid_json'
          ? 'the request body is not valid JSON; send one JSON object (e.g. {"messages": [{"role": "user", "content": "Hi"}]})'
          : (e.message ?? 'bad request');
    return new ApiError(e.statusCode, message, 'invalid_request_error', null, code);
  }
  return new ApiError(500, `internal error: ${e?.message ?? String(err)}`, 'server_error', null, 'internal_error');
}

function usageOf(o: JobOutcome) {
  return { prompt_tokens: o.promptTokens, completion_tokens: o.completionTokens, total_tokens: o.promptTokens + o.completionTokens };
}

function timingsOf(o: JobOutcome) {
  return {
    prompt_n: o.promptTokens,
    prompt_ms: round(o.timings.prefillMs),
    prompt_per_second: round(o.timings.prefillTokensPerSecond),
    predicted_n: o.completionTokens,
    predicted_ms: round(o.timings.decodeMs),
    predicted_per_second: round(o.timings.decodeTokensPerSecond),
    ...(o.aborted ? { time_limit_reached: true } : {}),
  };
}

/** Logprobs of a run of tokens in the response's shape (chat: `content` list; completions: parallel lists). */
function logprobsOf(model: EngineModel, kind: 'chat' | 'completion', items: TokenLogprobs[], offset: number) {
  if (kind === 'chat') {
    return { content: logprobsContent(model.tokenizer, items), refusal: null };
  }
  const tokens: string[] = [];
  const textOffset: number[] = [];
  let at = offset;
  for (const t of items) {
    const s = tokenText(model, t.id).token;
    tokens.push(s);
    textOffset.push(at);
    at += s.length;
  }
  return {
    tokens,
    token_logprobs: items.map((t) => t.logprob),
    top_logprobs: items.map((t) => Object.fromEntries(t.top.map((a) => [tokenText(model, a.id).token, a.logprob]))),
    text_offset: textOffset,
  };
}

/** Non-streaming: one JSON response. */
async function plainJob(reply: FastifyReply, ctx: Ctx, job: ReturnType<typeof prepareJob>, signal: AbortSignal): Promise<JobOutcome | undefined> {
  const items: TokenLogprobs[] = [];
  const engineModel = ctx.model;
  const outcome = await runJob(engineModel, job, {
    signal,
    beforeStep: takeTurn,
    ...(ctx.req.logprobs !== undefined ? { onToken: (_id: number, lp?: TokenLogprobs) => void (lp && items.push(lp)) } : {}),
  });
  if (signal.aborted && signal.reason instanceof ClientGone) return undefined;
  const logprobs = ctx.req.logprobs !== undefined ? logprobsOf(engineModel, ctx.req.kind, items, 0) : null;
  const choice =
    ctx.req.kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: outcome.text, refusal: null }, logprobs, finish_reason: outcome.finishReason }
      : { index: 0, text: outcome.text, logprobs, finish_reason: outcome.finishReason };
  void reply.send({
    id: ctx.id,
    object: ctx.req.kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: ctx.created,
    model: ctx.model.id,
    system_fingerprint: 'kvmerger',
    choices: [choice],
    usage: usageOf(outcome),
    kv_cache: outcome.kv,
    timings: timingsOf(outcome),
  });
  return outcome;
}

/**
 * Streaming: server-sent events. Headers go out with the first event, so errors found during the prefill (a budget
 * that keeps nothing) are still plain HTTP errors; after that an error is one `data: {"error": ...}` event.
 */
async function streamJob(reply: FastifyReply, ctx: Ctx, job: ReturnType<typeof prepareJob>, signal: AbortSignal): Promise<JobOutcome | undefined> {
  const model = ctx.model;
  const raw = reply.raw;
  const chat = ctx.req.kind === 'chat';
  const includeUsage = ctx.req.includeUsage;
  let started = false;
  const send = (obj: unknown) => {
    if (!started) {
      reply.hijack();
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      started = true;
    }
    if (!raw.destroyed) raw.write(`data: ${JSON.stringify(obj)}\n\n`);
  };
  const base = { id: ctx.id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: ctx.created, model: model.id, system_fingerprint: 'kvmerger' };
  const usageNull = includeUsage ? { usage: null } : {};
  const pending: TokenLogprobs[] = [];
  let textSoFar = 0;
  const takeLogprobs = () => {
    if (ctx.req.logprobs === undefined) return null;
    const lp = logprobsOf(model, ctx.req.kind, pending.splice(0), textSoFar);
    return lp;
  };
  const chunk = (text: string | undefined, finish: 'stop' | 'length' | null, extra: Record<string, unknown> = {}) => {
    const logprobs = takeLogprobs();
    const delta = text === undefined ? {} : { content: text };
    const choice = chat ? { index: 0, delta, logprobs, finish_reason: finish } : { index: 0, text: text ?? '', logprobs, finish_reason: finish };
    textSoFar += text?.length ?? 0;
    send({ ...base, choices: [choice], ...usageNull, ...extra });
  };
  let roleSent = false;
  const sendRole = () => {
    if (!chat || roleSent) return;
    roleSent = true;
    send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...usageNull });
  };
  let outcome: JobOutcome;
  try {
    outcome = await runJob(model, job, {
      signal,
      beforeStep: takeTurn,
      onText: (s) => {
        sendRole();
        chunk(s, null);
      },
      ...(ctx.req.logprobs !== undefined ? { onToken: (_id: number, lp?: TokenLogprobs) => void (lp && pending.push(lp)) } : {}),
    });
  } catch (err) {
    if (!started || signal.reason instanceof ClientGone) throw err;
    const e = err instanceof TimeLimit ? new ApiError(408, err.message, 'timeout_error', null, 'request_timeout') : toApiError(err);
    send(e.body());
    raw.end('data: [DONE]\n\n');
    return undefined;
  }
  if (signal.aborted && signal.reason instanceof ClientGone) {
    raw.destroy();
    return undefined;
  }
  sendRole();
  const kv: KvCacheSummary = outcome.kv;
  chunk(undefined, outcome.finishReason, { kv_cache: kv, timings: timingsOf(outcome) });
  if (includeUsage) send({ ...base, choices: [], usage: usageOf(outcome), kv_cache: kv });
  raw.end('data: [DONE]\n\n');
  return outcome;
}

/** Starts the server on host:port (port 0: an ephemeral port); `url` is where it listens. */
export async function startServer(opts: ServerOptions & { host?: string; port?: number }): Promise<KvServer & { url: string; close: () => Promise<void> }> {
  const { app, scheduler } = await createServer(opts);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 8080 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { app, scheduler, url: `http://${shown}:${port}`, close: () => app.close() };
}
