import { createInterface } from 'node:readline';
import { KvError } from '../../util/errors.js';
import { methodNames } from '../../compress/registry.js';
import { checkCompression } from '../../generate/compression.js';
import { parseModelArgs, loadModelFromArgs } from '../model-args.js';
import { MODEL_OPTIONS, QUANTIZE_OPTION, OUTPUT_OPTIONS, SEED_OPTION, numberOption, parseOptions, type OptionTable, SESSION_MODEL_HELP } from '../options.js';
import { chatTemplateOf, prepareJob, runJob, type EngineModel, type JobDefaults, type JobOutcome } from '../../server/engine.js';
import { ApiError } from '../../server/errors.js';
import type { CompressionSpec, JobRequest } from '../../server/request.js';
import type { ChatMessage } from '../../generate/chat-template.js';
import { DEFAULT_OPTIONS, engineModel, jobDefaults } from './serve.js';

const COMMANDS_HELP = `Commands:
  /method NAME B [K=V ...]  compress the KV cache of the next replies: B is a share of the prompt's
                            slots in (0, 1] (e.g. /method kvmerger 0.35) or a whole number of slots
                            per layer and head; /method none turns it off
  /stats                    the last reply: tokens, prefill and decode tokens/s, KV cache slots and
                            bytes (full and kept), per layer
  /reset                    forget the conversation (the system prompt stays)
  /system TEXT              set the system prompt (and forget the conversation)
  /help, /quit`;

export const summary = 'chat with a model in the terminal (its chat template, streamed replies, /method, /stats)';

export const help = `Usage: kvmerger chat [-m FILE] [--system TEXT] [--method M --budget B] [options]

Chat with a model (default: the built-in model) in the terminal: each line you type is a user turn,
the whole conversation goes through the model's chat template (a plain User:/Assistant: one when
the file has none) and the reply streams as it is generated. Reads piped stdin too, one turn per
line. Ctrl-C stops the reply (not the program); Ctrl-D or /quit ends it.

${COMMANDS_HELP}

Model:
${SESSION_MODEL_HELP}

Chat:
  --system TEXT             the system prompt (default: none)
  -n, --max-tokens N        tokens per reply at most (default 256)
  --temperature T           default 0.8 (0 = greedy)
  --top-k K                 default 40
  --top-p P                 default 0.95
  --min-p P                 default 0 (off)
  --repeat-penalty R        default 1 (off)
  -s, --seed S              seed of every reply (default: random)
  -b, --chunk-size N        prompt tokens per forward pass during prefill (default 512)
  --method NAME             compress the KV cache of every reply (as /method); needs --budget or
                            --budget-tokens
  --budget B                share of the prompt's KV slots to keep, in (0, 1]
  --budget-tokens N         or: slots to keep per layer and head
  --budget-tokens-per layer|total
  --method-option [M.]K=V   a method option (repeatable)
  --compress-during-prefill compress during the chunked prefill

Output:
  --json                    after each reply, one JSON line {"reply", "usage", "kv_cache"} instead
                            of the streamed text
  -q, --quiet               no banner or notes on stderr

Examples:
  kvmerger chat --method kvmerger --budget 0.35
  printf 'Tell me a story\\n/stats\\n' | kvmerger chat --temperature 0 -n 40`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  ...QUANTIZE_OPTION,
  'ctx-size': { type: 'string', short: 'c', aliases: ['context'] },
  system: { type: 'string' },
  ...DEFAULT_OPTIONS,
  ...SEED_OPTION,
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

/** The lines /stats prints about the last reply. */
export function statsLines(o: JobOutcome | undefined, compression: CompressionSpec | null, turns: number): string[] {
  const now = `compression for the next reply: ${describeCompression(compression)}; ${turns} messages in the conversation`;
  if (!o) return ['no reply yet', now];
  const k = o.kv;
  return [
    `last reply: ${o.promptTokens} prompt tokens (prefill ${o.timings.prefillTokensPerSecond.toFixed(1)} tokens/s), ${o.completionTokens} generated (decode ${o.timings.decodeTokensPerSecond.toFixed(1)} tokens/s), stop: ${o.aborted ? 'interrupted' : o.stopReason}`,
    `KV cache: method ${k.method}${k.method !== 'none' ? `, budget ${k.budget}` : ''}; prompt slots kept ${k.slots_kept} of ${k.slots_full} (${(100 * k.budget_achieved).toFixed(1)}%), ` +
      `bytes kept ${k.bytes_kept} of ${k.bytes_full} (${mib(k.bytes_kept)} of ${mib(k.bytes_full)}); at the end ${k.slots_final} slots, ${k.bytes_final} bytes`,
    `per layer (kept/full slots): ${k.layers.map((l) => `${l.slots_kept}/${l.slots_full}`).join(' ')}`,
    now,
  ];
}

function describeCompression(c: CompressionSpec | null): string {
  if (!c) return 'none';
  const b = c.budget === undefined ? '' : typeof c.budget === 'number' ? ` ${c.budget}` : ` ${'tokens' in c.budget ? `${c.budget.tokens} tokens/${c.budget.per ?? 'layer'}` : ''}`;
  const o = Array.isArray(c.options) && c.options.length > 0 ? ` ${c.options.join(' ')}` : '';
  return `${c.method}${b}${o}${c.duringPrefill ? ' during prefill' : ''}`;
}

/** `/method NAME B [K=V ...]` (or `/method none`) as a compression; KvError with the usage on a bad one. */
export function parseMethodCommand(args: string[]): CompressionSpec | null {
  const [name, budget, ...opts] = args;
  const usage = "usage: /method NAME B [K=V ...], e.g. /method kvmerger 0.35 (B: a share in (0, 1] or slots per layer and head), or /method none";
  if (!name) throw new KvError(usage);
  if (name === 'none' || name === 'off') return null;
  if (!methodNames().includes(name)) throw new KvError(`unknown method '${name}'; methods: none, ${methodNames().join(', ')}`);
  if (budget === undefined) {
    if (name === 'full') return { method: 'full', duringPrefill: false };
    throw new KvError(`/method ${name} needs a budget; ${usage}`);
  }
  const b = Number(budget);
  let spec: CompressionSpec['budget'];
  if (Number.isFinite(b) && b > 0 && b <= 1) spec = b;
  else if (Number.isInteger(b) && b > 1) spec = { tokens: b, per: 'layer' };
  else throw new KvError(`/method ${name} ${budget}: the budget must be a share in (0, 1] or a whole number of slots; ${usage}`);
  for (const o of opts) if (!o.includes('=')) throw new KvError(`/method: '${o}' is not an option K=V; ${usage}`);
  checkCompression({ method: name, options: opts }); // a bad option is an error now, not at the next reply
  return { method: name, budget: spec, options: opts, duringPrefill: false };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('chat', argv, OPTIONS);
  const modelArgs = parseModelArgs(values);
  const ctxSize = numberOption('ctx-size', values['ctx-size'], { integer: true, min: 2 });
  const seedOpt = numberOption('seed', values.seed, { integer: true, min: -1, max: 2 ** 32 - 1 });
  const seed = seedOpt === undefined || seedOpt === -1 ? undefined : seedOpt;
  const defaults: JobDefaults = jobDefaults(values);
  const quiet = values.quiet ?? false;
  const json = values.json ?? false;
  const note = (s: string) => {
    if (!quiet) process.stderr.write(`${s}\n`);
  };

  const { model: loaded, modelPath } = await loadModelFromArgs(modelArgs);
  try {
    const model: EngineModel = engineModel(loaded, ctxSize);
    let compression = defaults.compression;
    let system = values.system;
    let history: ChatMessage[] = [];
    let last: JobOutcome | undefined;
    let current: AbortController | undefined;
    const tty = process.stdin.isTTY === true;
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty, prompt: '> ' });
    const interrupt = () => {
      if (current) current.abort();
      else if (tty) {
        process.stdout.write('\n(Ctrl-D or /quit ends the chat)\n');
        rl.prompt();
      }
    };
    rl.on('SIGINT', interrupt);
    process.on('SIGINT', interrupt);
    const { fallback } = chatTemplateOf(model);
    note(
      `kvmerger chat: ${modelPath} (${fallback ? 'no chat template in the file: plain User:/Assistant: turns' : "the model's chat template"}), ` +
        `KV compression ${describeCompression(compression)}. /help for commands; Ctrl-C stops a reply, Ctrl-D or /quit ends.`,
    );

    const reply = async (text: string) => {
      history.push({ role: 'user', content: text });
      const messages = () => [...(system ? [{ role: 'system', content: system }] : []), ...history];
      const request = (): JobRequest => ({ kind: 'chat', model: undefined, messages: messages(), sampling: {}, stop: [], stream: false, includeUsage: false, compression, ...(seed !== undefined ? { seed } : {}) });
      let job;
      for (;;) {
        try {
          job = prepareJob(model, request(), defaults);
          break;
        } catch (err) {
          // the conversation outgrew the context: forget the oldest turns
          if (err instanceof ApiError && err.code === 'context_length_exceeded' && history.length > 1) {
            history = history.slice(2);
            note('(the conversation is longer than the context: the oldest turn was dropped)');
            continue;
          }
          history.pop();
          throw err;
        }
      }
      current = new AbortController();
      try {
        const o = await runJob(model, job, { signal: current.signal, ...(json ? {} : { onText: (s: string) => void process.stdout.write(s) }) });
        last = o;
        history.push({ role: 'assistant', content: o.text });
        if (json) process.stdout.write(JSON.stringify({ reply: o.text, usage: { prompt_tokens: o.promptTokens, completion_tokens: o.completionTokens }, finish_reason: o.aborted ? 'interrupted' : o.finishReason, kv_cache: o.kv }) + '\n');
        else process.stdout.write(o.aborted ? ' [stopped]\n' : '\n');
      } finally {
        current = undefined;
      }
    };

    const command = (line: string): boolean => {
      const [cmd, ...args] = line.trim().split(/\s+/);
      switch (cmd) {
        case '/quit':
        case '/exit':
          return false;
        case '/help':
          process.stdout.write(COMMANDS_HELP + '\n');
          break;
        case '/reset':
          history = [];
          last = undefined;
          process.stdout.write('(conversation cleared)\n');
          break;
        case '/system':
          system = line.trim().slice('/system'.length).trim() || undefined;
          history = [];
          process.stdout.write(system ? '(system prompt set; conversation cleared)\n' : '(system prompt removed; conversation cleared)\n');
          break;
        case '/stats':
          process.stdout.write(statsLines(last, compression, history.length).join('\n') + '\n');
          break;
        case '/method':
          compression = parseMethodCommand(args);
          process.stdout.write(`(KV compression: ${describeCompression(compression)})\n`);
          break;
        default:
          throw new KvError(`unknown command ${cmd}; /help lists them`);
      }
      return true;
    };

    if (tty) rl.prompt();
    for await (const raw of rl) {
      const line = raw.trim();
      try {
        if (line.startsWith('/')) {
          if (!command(line)) break;
        } else if (line !== '') await reply(line);
      } catch (err) {
        if (err instanceof KvError || err instanceof ApiError) process.stderr.write(`chat: ${err.message}\n`);
        else throw err;
      }
      if (tty) rl.prompt();
    }
    rl.close();
    process.off('SIGINT', interrupt);
    return 0;
  } finally {
    await loaded.close();
  }
}
