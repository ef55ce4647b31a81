import { basename, extname } from 'node:path';
import { KvError } from '../../util/errors.js';
import { parseBudgetFlags } from '../../compress/index.js';
import { methodNames } from '../../compress/registry.js';
import { checkCompression } from '../../generate/compression.js';
import type { LoadedModel } from '../../model/load-model.js';
import { parseModelArgs, loadModelFromArgs } from '../model-args.js';
import { CHUNK_OPTION, MODEL_OPTIONS, QUANTIZE_OPTION, OUTPUT_OPTIONS, numberOption, parseOptions, type OptionTable, type OptionValues, SESSION_MODEL_HELP } from '../options.js';
import { DEFAULT_SAMPLING, type EngineModel, type JobDefaults } from '../../server/engine.js';
import type { CompressionSpec } from '../../server/request.js';
import { methodOptionsFor } from './generate.js';

export const summary = 'an OpenAI-compatible HTTP server with per-request KV compression, and a chat page';

export const help = `Usage: kvmerger serve [-m FILE] [--host 127.0.0.1] [--port 8080] [--parallel N]
                      [--method M (--budget B | --budget-tokens N)] [options]

Serve a model (default: the built-in model) over OpenAI's API: POST /v1/chat/completions,
POST /v1/completions, GET /v1/models, GET /health, and a chat page at /. Each request may choose
how its KV cache is compressed ("kv_compression": {"method", "budget" | "budget_tokens",
"options", "during_prefill"}); every response says what its cache kept ("kv_cache"). The
address it listens on is printed on stdout; one line per request goes to stderr.

Model:
${SESSION_MODEL_HELP}

Server:
  --host HOST               address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --port N                  port (default 8080; 0: any free port)
  --parallel N              requests generating at once, each with its own KV cache; they take
                            turns token by token (default 4)
  --queue N                 requests that may wait for a slot; more get 429 with Retry-After
                            (default 32)
  --timeout S               time limit of one request once it runs, in seconds; the reply ends
                            there with finish_reason "length"; 0 = none (default 300)
  --body-limit BYTES        largest request body; larger ones get 413 (default 4194304)

Defaults of requests that do not say:
  -n, --max-tokens N        tokens to generate at most (default 256)
  --temperature T           default 0.8
  --top-k K                 default 40
  --top-p P                 default 0.95
  --min-p P                 default 0 (off)
  --repeat-penalty R        default 1 (off)
  -b, --chunk-size N        prompt tokens per forward pass during prefill (default 512)
  --method NAME             compress every request's KV cache with this method unless the request
                            says otherwise; every method but full needs --budget or --budget-tokens
  --budget B                share of the prompt's KV slots to keep, in (0, 1]
  --budget-tokens N         or: slots to keep per layer and head
  --budget-tokens-per layer|total
  --method-option [M.]K=V   a method option (repeatable)
  --compress-during-prefill compress during the chunked prefill (see kvmerger generate --help)

Output:
  --json                    print the address as one JSON line ({"url", "model", ...}) instead
  -q, --quiet               no line per request on stderr

Examples:
  kvmerger serve --port 8080 --method kvmerger --budget 0.35
  curl -s localhost:8080/v1/chat/completions -d '{"messages":[{"role":"user","content":"Hi"}]}'`;

/** The sampling and compression defaults, shared with `kvmerger chat`. */
export const DEFAULT_OPTIONS = {
  'max-tokens': { type: 'string', short: 'n', aliases: ['n-predict', 'predict'] },
  temperature: { type: 'string', aliases: ['temp'] },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repeat-penalty': { type: 'string' },
  ...CHUNK_OPTION,
  method: { type: 'string' },
  budget: { type: 'string' },
  'budget-tokens': { type: 'string' },
  'budget-tokens-per': { type: 'string' },
  'method-option': { type: 'string', multiple: true },
  'compress-during-prefill': { type: 'boolean' },
} as const satisfies OptionTable;

const OPTIONS = {
  ...MODEL_OPTIONS,
  ...QUANTIZE_OPTION,
  'ctx-size': { type: 'string', short: 'c', aliases: ['context'] },
  host: { type: 'string' },
  port: { type: 'string' },
  parallel: { type: 'string', aliases: ['np', 'n-parallel'] },
  queue: { type: 'string' },
  timeout: { type: 'string' },
  'body-limit': { type: 'string' },
  ...DEFAULT_OPTIONS,
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

/** --method / --budget ... as a request's compression (null: none); KvError on a bad method, option or budget. */
export function compressionDefault(values: OptionValues<typeof DEFAULT_OPTIONS>): CompressionSpec | null {
  const budget = parseBudgetFlags(values.budget, values['budget-tokens'], values['budget-tokens-per']);
  const method = values.method;
  if (method === undefined || method === 'none') {
    if (budget || values['method-option'] || values['compress-during-prefill']) throw new KvError('--budget, --budget-tokens, --method-option and --compress-during-prefill need --method NAME (kvmerger methods lists them)');
    return null;
  }
  if (method !== 'full' && !budget && methodNames().includes(method)) {
    throw new KvError(`--method ${method} needs a budget: add --budget B (the share of the prompt's KV slots to keep, in (0, 1], e.g. --budget 0.35) or --budget-tokens N`);
  }
  const spec: CompressionSpec = {
    method,
    ...(budget ? { budget: 'ratio' in budget ? budget.ratio : budget } : {}),
    options: methodOptionsFor(method, values['method-option'] ?? []),
    duringPrefill: values['compress-during-prefill'] ?? false,
  };
  // checks the method and its options now, before the model loads
  checkCompression({ method, options: spec.options as string[], duringPrefill: spec.duringPrefill });
  return spec;
}

/** The defaults of requests (sampling, max tokens, compression) from the command line. */
export function jobDefaults(values: OptionValues<typeof DEFAULT_OPTIONS>): JobDefaults {
  const num = (name: keyof typeof DEFAULT_OPTIONS, fallback: number, o: Parameters<typeof numberOption>[2] = {}) => numberOption(name, values[name] as string | undefined, o) ?? fallback;
  const chunk = numberOption('chunk-size', values['chunk-size'], { integer: true, min: 1 });
  return {
    maxTokens: num('max-tokens', 256, { integer: true, min: 0 }),
    sampling: {
      temperature: num('temperature', DEFAULT_SAMPLING.temperature, { min: 0 }),
      topK: num('top-k', DEFAULT_SAMPLING.topK, { integer: true, min: 0 }),
      topP: num('top-p', DEFAULT_SAMPLING.topP, { min: 0, minExclusive: true, max: 1 }),
      minP: num('min-p', DEFAULT_SAMPLING.minP, { min: 0, max: 1 }),
      repeatPenalty: num('repeat-penalty', DEFAULT_SAMPLING.repeatPenalty, { min: 0, minExclusive: true }),
    },
    compression: compressionDefault(values),
    ...(chunk !== undefined ? { chunkSize: chunk } : {}),
  };
}

/** The loaded model as the server and chat use it: its id is the file's name, the context as --ctx-size says. */
export function engineModel(model: LoadedModel, ctxSize: number | undefined): EngineModel {
  const modelContext = model.config.contextLength;
  if (ctxSize !== undefined && ctxSize > modelContext) {
    throw new KvError(`--ctx-size ${ctxSize} is above the model's context of ${modelContext} tokens; use at most ${modelContext}`);
  }
  return {
    id: basename(model.path, extname(model.path)),
    config: ctxSize === undefined ? model.config : { ...model.config, contextLength: ctxSize },
    tokenizer: model.tokenizer,
    backend: model.backend,
    ...(model.chatTemplate !== undefined ? { chatTemplate: model.chatTemplate } : {}),
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('serve', argv, OPTIONS);
  const modelArgs = parseModelArgs(values);
  const ctxSize = numberOption('ctx-size', values['ctx-size'], { integer: true, min: 2 });
  const host = values.host ?? '127.0.0.1';
  const port = numberOption('port', values.port, { integer: true, min: 0, max: 65535 }) ?? 8080;
  const parallel = numberOption('parallel', values.parallel, { integer: true, min: 1, max: 256 }) ?? 4;
  const queueSize = numberOption('queue', values.queue, { integer: true, min: 0 }) ?? 32;
  const timeoutS = numberOption('timeout', values.timeout, { min: 0 }) ?? 300;
  const bodyLimit = numberOption('body-limit', values['body-limit'], { integer: true, min: 1024 }) ?? 4 * 1024 * 1024;
  const defaults = jobDefaults(values);
  const quiet = values.quiet ?? false;

  const { model } = await loadModelFromArgs(modelArgs);
  const { startServer } = await import('../../server/app.js');
  let server;
  try {
    server = await startServer({
      model: engineModel(model, ctxSize),
      defaults,
      parallel,
      queueSize,
      timeoutMs: timeoutS * 1000,
      bodyLimit,
      host,
      port,
      ...(quiet ? {} : { log: (line: string) => process.stderr.write(`serve: ${line}\n`) }),
    });
  } catch (err) {
    await model.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new KvError(`--port ${port}: the address ${host}:${port} is already in use; pick another port (or --port 0 for any free one)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new KvError(`--host ${host}: cannot listen on that address (${code}); use 127.0.0.1 or 0.0.0.0`);
    throw err;
  }
  const compression = defaults.compression ? `${defaults.compression.method}${defaults.compression.budget !== undefined ? ` ${JSON.stringify(defaults.compression.budget)}` : ''}` : 'none';
  if (values.json) process.stdout.write(JSON.stringify({ url: server.url, model: basename(model.path), parallel, queue: queueSize, kv_compression: defaults.compression }) + '\n');
  else process.stdout.write(`kvmerger serve: listening on ${server.url} (model ${basename(model.path)}, parallel ${parallel}, queue ${queueSize}, kv compression ${compression})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  if (!quiet) process.stderr.write('serve: shutting down\n');
  await server.close();
  await model.close();
  return 0;
}
