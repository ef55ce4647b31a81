import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KvError } from '../../util/errors.js';
import { loadModel } from '../../model/load-model.js';
import { generate, type GenerateOptions, type TruncateMode } from '../../generate/session.js';
import { writeCompressionDump } from '../../cache/cache-dump.js';
import { parseBudgetFlags, type CompressionReport } from '../../compress/index.js';
import { compressionHook } from '../../generate/compression-hook.js';
import { parseBackend } from '../model-args.js';
import { parseNumberFlag } from '../number-flag.js';

export const summary = 'generate text from a prompt (streams tokens; optional KV-cache compression)';

export const help = `Usage: kvmerger generate [--model FILE] [options]

Generate text with a model on disk. Tokens stream to stdout as they are produced.

Model:
  --model FILE            GGUF file or llama2.c checkpoint (.bin); default: the built-in model in models/
  --tokenizer FILE        tokenizer to use instead of the model's own (llama2.c tokenizer.bin, tokenizer.json, GGUF)
  --backend ort|reference ort: onnxruntime, fast (default); reference: plain TypeScript, exact and slow

Prompt:
  --prompt TEXT           the prompt (default: empty, generation starts from BOS)
  --prompt-file FILE      read the prompt from a file
  --chat                  wrap the prompt in the model's chat template (GGUF tokenizer.chat_template)
  --truncate middle|start shorten a prompt longer than the context (default: an error)

Sampling:
  --max-tokens N          tokens to generate at most (default 256)
  --temperature T         0 = greedy (default 0.8)
  --top-k K               keep the K most likely tokens, 0 = off (default 40)
  --top-p P               nucleus sampling, 1 = off (default 0.95)
  --repeat-penalty R      CTRL/llama.cpp repetition penalty over the last 64 tokens, 1 = off (default 1)
  --seed S                seed of the sampler (default 0; the same seed gives the same text)
  --stop TEXT             stop before this string (repeatable)
  --chunk-size N          prompt tokens per forward pass during prefill (default 512)

Compression (kvmerger methods lists the methods and their options):
  --method NAME           compress the KV cache after the prefill with this method (default: none)
  --budget B              share of the prompt's KV slots to keep, in (0, 1]
  --budget-tokens N       or: slots to keep per layer and head (--budget-tokens-per total: over the whole cache)
  --budget-tokens-per layer|total
  --method-option K=V     a method option (repeatable)
  --dump-cache FILE       write the cache before and after compression as JSON
  --compress-during-prefill
                          compress whenever a layer exceeds the budget during the chunked prefill, so the cache
                          never holds more than budget + one chunk (--chunk-size); the full cache never exists.
                          Not for snapkv, pyramidkv, scores=window, kvmerger budgetMode=faithful or --dump-cache

Output:
  --json                  print exactly one JSON object: {"text", "tokens": {"prompt", "generated"}, "timings", "cache"}

Example:
  kvmerger generate --model ../shared/data/models/stories260K.bin --tokenizer ../shared/data/models/tok512.bin \\
    --temperature 0 --max-tokens 200`;

/** A numeric option, `fallback` when absent. */
const num = (name: string, value: string | undefined, fallback: number, integer = false): number => parseNumberFlag(name, value, integer) ?? fallback;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      backend: { type: 'string' },
      prompt: { type: 'string' },
      'prompt-file': { type: 'string' },
      chat: { type: 'boolean' },
      truncate: { type: 'string' },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'repeat-penalty': { type: 'string' },
      seed: { type: 'string' },
      stop: { type: 'string', multiple: true },
      'chunk-size': { type: 'string' },
      json: { type: 'boolean' },
      method: { type: 'string' },
      budget: { type: 'string' },
      'budget-tokens': { type: 'string' },
      'budget-tokens-per': { type: 'string' },
      'method-option': { type: 'string', multiple: true },
      'dump-cache': { type: 'string' },
      'compress-during-prefill': { type: 'boolean' },
    },
  });

  const backend = parseBackend(values.backend);
  const truncate = (values.truncate ?? 'none') as TruncateMode;
  if (!['none', 'middle', 'start'].includes(truncate)) throw new KvError(`--truncate must be 'middle' or 'start' (got '${values.truncate}')`);
  if (values.prompt !== undefined && values['prompt-file'] !== undefined) throw new KvError('give either --prompt or --prompt-file, not both');
  let prompt = values.prompt ?? '';
  if (values['prompt-file'] !== undefined) {
    try {
      prompt = readFileSync(values['prompt-file'], 'utf8');
    } catch (err) {
      throw new KvError(`--prompt-file ${values['prompt-file']}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const options: GenerateOptions = {
    prompt,
    chat: values.chat ?? false,
    truncate,
    maxTokens: num('max-tokens', values['max-tokens'], 256, true),
    chunkSize: num('chunk-size', values['chunk-size'], 512, true),
    stop: values.stop ?? [],
    sampling: {
      temperature: num('temperature', values.temperature, 0.8),
      topK: num('top-k', values['top-k'], 40, true),
      topP: num('top-p', values['top-p'], 0.95),
      repeatPenalty: num('repeat-penalty', values['repeat-penalty'], 1),
      seed: num('seed', values.seed, 0, true),
    },
  };
  if (options.maxTokens! < 0) throw new KvError(`--max-tokens must be ≥ 0 (got ${options.maxTokens})`);
  if (options.chunkSize! < 1) throw new KvError(`--chunk-size must be ≥ 1 (got ${options.chunkSize})`);

  const budget = parseBudgetFlags(values.budget, values['budget-tokens'], values['budget-tokens-per']);
  const methodName = values.method;
  if (!methodName && (budget || values['method-option'] || values['dump-cache'] || values['compress-during-prefill'])) {
    throw new KvError('--budget, --budget-tokens, --method-option, --dump-cache and --compress-during-prefill need --method NAME (kvmerger methods lists them)');
  }
  let report: CompressionReport | undefined;
  if (methodName) {
    const dumpFile = values['dump-cache'];
    // Validates the method and options at once, before the model loads.
    options.prepareCompression = compressionHook(
      {
        method: methodName,
        options: values['method-option'] ?? [],
        budget,
        seed: options.sampling!.seed,
        keepBefore: dumpFile !== undefined,
        duringPrefill: values['compress-during-prefill'] ?? false,
        onCompressed: (after, r, before, aggregated) => {
          report = r;
          if (!dumpFile) return;
          try {
            writeCompressionDump(dumpFile, before!, after, aggregated);
          } catch (err) {
            throw new KvError(`--dump-cache ${dumpFile}: cannot write it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
          }
        },
      },
      options.maxTokens,
    );
  }

  const model = await loadModel(values.model, { tokenizerPath: values.tokenizer, backend });
  try {
    const json = values.json ?? false;
    if (!json) options.onText = (s) => process.stdout.write(s);
    const r = await generate(model, options);
    if (json) {
      const out = {
        text: r.text,
        tokens: { prompt: r.promptTokens.length, generated: r.tokens.length },
        stopReason: r.stopReason,
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
      };
      process.stdout.write(JSON.stringify(out) + '\n');
    } else {
      process.stdout.write('\n');
      if (process.stderr.isTTY) {
        const t = r.timings;
        process.stderr.write(
          `[${r.promptTokens.length} prompt tokens at ${t.prefillTokensPerSecond.toFixed(1)} tok/s, ` +
            `${r.tokens.length} generated at ${t.decodeTokensPerSecond.toFixed(1)} tok/s, stop: ${r.stopReason}, ` +
            `KV cache ${r.cache.slots} slots / ${r.cache.bytes} bytes]\n`,
        );
      }
    }
    return 0;
  } finally {
    await model.close();
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
