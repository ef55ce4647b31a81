import { logprobsContent, type TokenLogprobs } from '../../generate/logprobs.js';
import { KvError } from '../../util/errors.js';
import { loadModel } from '../../model/load-model.js';
import { generate, type GenerateOptions, type GenerateResult } from '../../generate/session.js';
import type { StopReason } from '../../generate/stop-reason.js';
import { writeCompressionDump } from '../../cache/cache-dump.js';
import { parseBudgetFlags } from '../../compress/index.js';
import { methodNames } from '../../compress/registry.js';
import { checkCompression, type Compression } from '../../generate/compression.js';
import { parseModelArgs } from '../model-args.js';
import { parseSeed } from '../seed.js';
import {
  CHUNK_OPTION,
  MODEL_OPTIONS,
  QUANTIZE_OPTION,
  OUTPUT_OPTIONS,
  PROMPT_OPTIONS,
  SEED_OPTION,
  choiceOption,
  numberOption,
  parseOptions,
  promptText,
  type OptionTable,
  SESSION_MODEL_HELP,
} from '../options.js';

export const summary = 'generate text from a prompt (streams tokens; optional KV-cache compression)';

export const help = `Usage: kvmerger generate [-m FILE] [-p TEXT | -f FILE] [options]

Generate text with a model (default: the built-in model). Tokens stream to stdout as they are
produced; then one line on stderr: prompt tokens and prefill speed, generated tokens and decode
speed, why it stopped, and the seed.

Model:
${SESSION_MODEL_HELP}

Prompt:
  -p, --prompt TEXT         the prompt (default: empty, generation starts from BOS)
  -f, --prompt-file FILE    read the prompt from a file; - reads stdin
  --chat                    wrap the prompt in the model's chat template (tokenizer.chat_template) as
                            a user turn, the assistant's turn opened; stops at the template's end of
                            turn (<|eot_id|>, <|im_end|>, <end_of_turn>, <|end|>, </s>)
  --system TEXT             with --chat (implies it): a system turn before the prompt
  --chat-template-kwargs JSON
                            more template variables, e.g. '{"enable_thinking": false}' (Qwen3)
  --truncate middle|start   shorten a prompt longer than the context (default: an error)

Sampling:
  -n, --max-tokens N        tokens to generate at most (default 256); also stops at the context
  --temperature T           0 = greedy (default 0.8)
  --top-k K                 keep the K most likely tokens, 0 = off (default 40)
  --top-p P                 nucleus sampling, in (0, 1]; 1 = off (default 0.95)
  --repeat-penalty R        repetition penalty over the last 64 tokens, 1 = off (default 1)
  -s, --seed S              seed of the sampler and of the method's random choices; default (or -1):
                            a random seed, printed on stderr and in --json; the same seed gives the
                            same text
  --stop TEXT               stop before this string (repeatable)
  -b, --chunk-size N        prompt tokens per forward pass during prefill (default 512)

Compression (kvmerger methods lists the methods and their options):
  --method NAME             compress the KV cache after the prefill with this method (default:
                            none); every method but full needs --budget or --budget-tokens
  --budget B                share of the prompt's KV slots to keep, in (0, 1]
  --budget-tokens N         or: slots to keep per layer and head
  --budget-tokens-per layer|total
                            --budget-tokens per layer and head (default) or over the whole cache
  --method-option [M.]K=V   a method option (repeatable), e.g. sigma=5 or kvmerger.sigma=5
  --dump-cache FILE         write the cache before and after compression as JSON
  --compress-during-prefill
                            compress whenever a layer exceeds the budget during the chunked prefill,
                            so the cache never holds more than budget + one chunk (--chunk-size);
                            the full cache never exists. Not for snapkv, pyramidkv, scores=window,
                            kvmerger budgetMode=faithful or --dump-cache
  --compress-sliding-layers models with sliding-window layers (gemma2/3): compress those too
                            (default: only the global layers; a sliding layer keeps its window)

Output:
  --json                    print exactly one JSON object: {"text", "tokens": {"prompt",
                            "generated"}, "stopReason", "seed", "timings", "cache", "model"};
                            nothing streams
  --logprobs N              with --json: each generated token's log-probability and the N (0-20)
                            most likely alternatives, as OpenAI's "logprobs": {"content": [...]}
  -q, --quiet               nothing on stderr but errors (no summary line, no notes)

llama.cpp's spellings work too: --n-predict, --temp, --ctx-size, --batch-size, --file.

Examples:
  kvmerger generate -p "Once upon a time" -n 100
  kvmerger generate -m ../shared/data/models/stories260K.bin \\
    --tokenizer ../shared/data/models/tok512.bin --temperature 0 -n 200`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  ...QUANTIZE_OPTION,
  'ctx-size': { type: 'string', short: 'c', aliases: ['context'] },
  ...PROMPT_OPTIONS,
  chat: { type: 'boolean' },
  system: { type: 'string', aliases: ['system-prompt'] },
  'chat-template-kwargs': { type: 'string' },
  truncate: { type: 'string' },
  'max-tokens': { type: 'string', short: 'n', aliases: ['n-predict', 'predict'] },
  logprobs: { type: 'string' },
  temperature: { type: 'string', aliases: ['temp'] },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'repeat-penalty': { type: 'string' },
  ...SEED_OPTION,
  stop: { type: 'string', multiple: true },
  ...CHUNK_OPTION,
  method: { type: 'string' },
  budget: { type: 'string' },
  'budget-tokens': { type: 'string' },
  'budget-tokens-per': { type: 'string' },
  'method-option': { type: 'string', multiple: true },
  'dump-cache': { type: 'string' },
  'compress-during-prefill': { type: 'boolean' },
  'compress-sliding-layers': { type: 'boolean' },
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

/** A numeric option, `fallback` when absent. */
const num = (name: string, value: string | undefined, fallback: number, o: Parameters<typeof numberOption>[2] = {}): number =>
  numberOption(name, value, o) ?? fallback;

/** The seed: the given one, or (absent or -1) a random one, as llama.cpp does. */
export function resolveSeed(value: string | undefined): number {
  return parseSeed(value, 'random').seed;
}

/**
 * --method-option items for one method: `K=V`, or `M.K=V` where M is that method (as eval writes them); an M that
 * is another method is an error.
 */
export function methodOptionsFor(method: string, items: readonly string[]): string[] {
  const known = methodNames();
  return items.map((item) => {
    const eq = item.indexOf('=');
    const dot = item.indexOf('.');
    if (dot > 0 && (eq < 0 || dot < eq)) {
      const m = item.slice(0, dot);
      if (m === method) return item.slice(dot + 1);
      if (known.includes(m)) throw new KvError(`--method-option '${item}' is an option of ${m}, but --method is ${method}; drop it or write it for ${method}`);
    }
    return item;
  });
}

/** --chat-template-kwargs: a JSON object of template variables. */
export function parseTemplateKwargs(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new KvError(`--chat-template-kwargs: not JSON (${(err as Error).message}); give an object, e.g. '{"enable_thinking": false}'`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new KvError(`--chat-template-kwargs: give a JSON object, e.g. '{"enable_thinking": false}'`);
  return v as Record<string, unknown>;
}

const STOP_WORDS: Record<StopReason, string> = {
  eos: 'end of text',
  stop: 'stop string',
  length: 'max tokens',
  context: 'context full',
};

/** The line printed on stderr after the text. */
export function summaryLine(r: GenerateResult, seed: number): string {
  const t = r.timings;
  const rate = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  return (
    `[${r.promptTokens.length} prompt tokens, prefill ${rate(t.prefillTokensPerSecond)} t/s | ` +
    `${r.tokens.length} generated, decode ${rate(t.decodeTokensPerSecond)} t/s | stop: ${STOP_WORDS[r.stopReason]} | ` +
    `seed ${seed} | KV cache ${r.cache.slots} slots, ${r.cache.bytes} bytes]`
  );
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('generate', argv, OPTIONS);
  const modelArgs = parseModelArgs(values);
  // 'none' (the default: an error) is accepted but not offered
  const truncate = values.truncate === 'none' ? 'none' : choiceOption('truncate', values.truncate, ['middle', 'start'] as const, 'none');
  const ctxSize = numberOption('ctx-size', values['ctx-size'], { integer: true, min: 2 });
  const prompt = promptText(values) ?? '';
  const seed = resolveSeed(values.seed);
  const topLogprobs = numberOption('logprobs', values.logprobs, { integer: true, min: 0, max: 20 });
  if (topLogprobs !== undefined && !values.json) throw new KvError('--logprobs needs --json (the log-probabilities are part of the JSON output)');
  const system = values.system;
  const kwargs = values['chat-template-kwargs'] !== undefined ? parseTemplateKwargs(values['chat-template-kwargs']) : undefined;
  const chat = values.chat === true || system !== undefined || kwargs !== undefined;
  const options: GenerateOptions = {
    prompt,
    chat: chat && system !== undefined ? [{ role: 'system', content: system }, { role: 'user', content: prompt }] : chat,
    ...(kwargs ? { chatTemplateContext: kwargs } : {}),
    truncate,
    maxTokens: num('max-tokens', values['max-tokens'], 256, { integer: true, min: 0 }),
    chunkSize: num('chunk-size', values['chunk-size'], 512, { integer: true, min: 1 }),
    stop: values.stop ?? [],
    sampling: {
      temperature: num('temperature', values.temperature, 0.8, { min: 0 }),
      topK: num('top-k', values['top-k'], 40, { integer: true, min: 0 }),
      topP: num('top-p', values['top-p'], 0.95, { min: 0, minExclusive: true, max: 1 }),
      repeatPenalty: num('repeat-penalty', values['repeat-penalty'], 1, { min: 0, minExclusive: true }),
      seed,
    },
  };
  const quiet = values.quiet ?? false;
  const note = (s: string) => {
    if (!quiet) process.stderr.write(`generate: ${s}\n`);
  };

  const budget = parseBudgetFlags(values.budget, values['budget-tokens'], values['budget-tokens-per']);
  const methodName = values.method;
  if (!methodName && (budget || values['method-option'] || values['dump-cache'] || values['compress-during-prefill'] || values['compress-sliding-layers'])) {
    throw new KvError('--budget, --budget-tokens, --method-option, --dump-cache, --compress-during-prefill and --compress-sliding-layers need --method NAME (kvmerger methods lists them)');
  }
  if (methodName && methodName !== 'full' && !budget && methodNames().includes(methodName)) {
    // Without a budget a method keeps every slot: the run would look compressed and be the full cache.
    throw new KvError(
      `--method ${methodName} needs a budget: add --budget B (the share of the prompt's KV slots to keep, in (0, 1], e.g. --budget 0.5) or --budget-tokens N`,
    );
  }
  if (methodName) {
    const dumpFile = values['dump-cache'];
    const compression: Compression = {
      method: methodName,
      options: methodOptionsFor(methodName, values['method-option'] ?? []),
      budget,
      seed,
      duringPrefill: values['compress-during-prefill'] ?? false,
      ...(values['compress-sliding-layers'] ? { slidingLayers: true } : {}),
      ...(dumpFile !== undefined
        ? {
            keepBefore: true,
            onCompressed: (after, _report, before, aggregated) => {
              try {
                writeCompressionDump(dumpFile, before!, after, aggregated);
              } catch (err) {
                throw new KvError(`--dump-cache ${dumpFile}: cannot write it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
              }
            },
          }
        : {}),
    };
    checkCompression(compression); // the method and its options, before the model loads
    options.compression = compression;
  }

  const model = await loadModel(modelArgs.path, { tokenizerPath: modelArgs.tokenizerPath, backend: modelArgs.backend, threads: modelArgs.threads, precision: modelArgs.precision, kvType: modelArgs.kvType, ...(modelArgs.quantize !== undefined ? { quantize: modelArgs.quantize } : {}) });
  try {
    const modelContext = model.config.contextLength;
    if (ctxSize !== undefined && ctxSize > modelContext) {
      throw new KvError(`--ctx-size ${ctxSize} is above the model's context of ${modelContext} tokens; use at most ${modelContext}`);
    }
    const context = ctxSize ?? modelContext;
    const session = ctxSize === undefined ? model : { config: { ...model.config, contextLength: ctxSize }, tokenizer: model.tokenizer, backend: model.backend, ...(model.chatTemplate !== undefined ? { chatTemplate: model.chatTemplate } : {}) };
    const json = values.json ?? false;
    if (!json) options.onText = (s) => process.stdout.write(s);
    const logprobs: TokenLogprobs[] = [];
    if (topLogprobs !== undefined) {
      options.logprobs = topLogprobs;
      options.onToken = (_id, lp) => {
        if (lp) logprobs.push(lp);
      };
    }
    const r = await generate(session, options);
    const report = r.compression;
    if (json) {
      const out = {
        text: r.text,
        tokens: { prompt: r.promptTokens.length, generated: r.tokens.length },
        stopReason: r.stopReason,
        seed,
        ...(r.truncatedFrom !== undefined ? { truncatedFrom: r.truncatedFrom } : {}),
        timings: {
          prefillMs: round(r.timings.prefillMs),
          compressMs: round(r.timings.compressMs),
          decodeMs: round(r.timings.decodeMs),
          prefillTokensPerSecond: round(r.timings.prefillTokensPerSecond),
          decodeTokensPerSecond: round(r.timings.decodeTokensPerSecond),
        },
        cache: {
          slots: r.cache.slots,
          bytes: r.cache.bytes,
          allocatedBytes: r.cache.allocatedBytes,
          ...(report
            ? {
                method: report.method,
                options: report.options,
                budgetRequested: report.budgetRequested,
                budgetAchieved: report.budgetAchieved,
                bytesFull: report.bytesFull,
                bytesKept: report.bytesKept,
                compressMs: round(report.compressMs),
                ...(report.details ? { details: report.details } : {}),
                ...(report.duringPrefill ? { duringPrefill: report.duringPrefill } : {}),
              }
            : {}),
          slotsPerLayer: r.cache.slotsPerLayer,
        },
        model: { path: model.path, architecture: model.config.architecture, backend: model.backend.name },
        ...(topLogprobs !== undefined ? { logprobs: { content: logprobsContent(model.tokenizer, logprobs) } } : {}),
      };
      process.stdout.write(JSON.stringify(out) + '\n');
    } else {
      process.stdout.write('\n');
      if (!quiet) process.stderr.write(summaryLine(r, seed) + '\n');
    }
    if (r.stopReason === 'context') {
      const asked = options.maxTokens!;
      note(
        `stopped after ${r.tokens.length} of --max-tokens ${asked} tokens: the context of ${context} tokens is full ` +
          `(a ${r.promptTokens.length}-token prompt); a shorter prompt leaves more room`,
      );
    }
    return 0;
  } finally {
    await model.close();
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
