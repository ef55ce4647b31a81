/**
 * `kvmerger demo`: the README's first command. Long prompts on the built-in model (passkeys and a needle at the
 * model's context, one Gutenberg passage for fidelity), every method at 50% and 35% of the KV cache, and one table:
 * correct answers, KL from the full cache, KV memory and time. Sized to finish in under two minutes on a 2-core
 * machine; it prints the elapsed time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvError } from '../../util/errors.js';
import type { ResultRow } from '../../eval/grid/result-row.js';
import { modelName, parseIntFlag, parseNameList, parseNumberList } from '../grid-args.js';
import { loadModelFromArgs, parseModelArgs } from '../model-args.js';
import { drawnSeedNote, parseSeed } from '../seed.js';
import {
  CHUNK_OPTION,
  DATA_OPTION,
  GRID_OPTIONS,
  LENGTH_OPTION,
  MODEL_OPTIONS,
  QUANTIZE_OPTION,
  OUTPUT_OPTIONS,
  OUT_OPTION,
  SEED_OPTION,
  parseOptions,
  type OptionTable,
} from '../options.js';

export const summary = 'every compression method on long prompts of the built-in model: answers, KL, memory, time';

export const help = `Usage: kvmerger demo [-m FILE] [--length N] [-o DIR] [--json]

Prefills a few long prompts once each (two passkeys and a needle in a haystack at the model's
context, and a Gutenberg passage), then compresses a copy of each cache with every method to 50% and
35% of its slots (the same number of kept slots for every method) and answers greedily. Prints, per
method and budget: correct answers, the KL divergence from the full cache on the passage's next
tokens (nats per token), top-1 agreement, KV memory, and time. About 20 s on 2 cores with the
built-in model.

Options:
  -m, --model FILE          default: the built-in model
  --tokenizer FILE          for models without their own vocabulary (llama2.c: tokenizer.bin)
  --backend ort|reference   forward pass (default ort)
  -t, --threads N           onnxruntime threads
  --precision int8|fp32     products with quantised weights: int8 (default, as llama.cpp) or fp32
  --kv-type f16|f32         how the KV cache stores keys and values (default f16, as llama.cpp)
  --quantize q8_0|q4_0|q4_k_m  a Hugging Face folder's weights quantised as they load
  -b, --chunk-size N        prompt tokens per forward call (default 512)
  --length N                prompt length in tokens (default: the model's context, at most 2048)
  --methods LIST            default: every method
  --budgets LIST            default 0.5,0.35
  --method-option [M.]K=V   a method's option (repeatable), as in kvmerger eval
  -s, --seed S              seeds the prompts and the methods' random choices (default 0; -1: a
                            random seed, printed)
  --data DIR                the offline data folder (default ../shared/data, or
                            KVMERGER_SHARED_DATA; without it the built-in excerpts)
  -o, --out DIR             keep the result rows there (default: a temporary folder, removed
                            afterwards)
  --json                    print the table's numbers as JSON
  -q, --quiet               nothing on stderr but errors`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  ...QUANTIZE_OPTION,
  ...CHUNK_OPTION,
  ...LENGTH_OPTION,
  ...GRID_OPTIONS,
  ...SEED_OPTION,
  ...DATA_OPTION,
  ...OUT_OPTION,
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

interface DemoRow {
  method: string;
  budget: number;
  correct: number;
  answered: number;
  kl: number | null;
  top1: number | null;
  kvBytes: number;
  kvBytesFull: number;
  ms: number;
}

/** The fields of a result row the demo's table reads. */
export type DemoTableInput = Pick<ResultRow, 'task' | 'method' | 'budgetRequested' | 'score' | 'metrics' | 'kvBytes' | 'kvBytesFull' | 'compressMs' | 'decodeMs'>;

/** Mean per (method, budget) over the rows of a demo run. */
export function demoTable(rows: readonly DemoTableInput[]): DemoRow[] {
  const by = new Map<string, DemoTableInput[]>();
  for (const r of rows) {
    const k = `${r.method}\u0000${r.budgetRequested}`;
    by.set(k, [...(by.get(k) ?? []), r]);
  }
  const out: DemoRow[] = [];
  for (const list of by.values()) {
    const gen = list.filter((r) => r.task !== 'fidelity');
    const fid = list.filter((r) => r.task === 'fidelity');
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
    const metric = (r: DemoTableInput, k: string) => r.metrics[k]!;
    out.push({
      method: list[0]!.method,
      budget: list[0]!.budgetRequested,
      correct: gen.filter((r) => r.score === 1).length,
      answered: gen.length,
      kl: mean(fid.map((r) => metric(r, 'meanKL'))),
      top1: mean(fid.map((r) => metric(r, 'top1Agreement'))),
      kvBytes: mean(list.map((r) => r.kvBytes))!,
      kvBytesFull: mean(list.map((r) => r.kvBytesFull))!,
      ms: mean(list.map((r) => r.compressMs + r.decodeMs))!,
    });
  }
  return out;
}

const size = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);

export function formatDemoTable(rows: DemoRow[]): string {
  const head = ['method', 'budget', 'correct', 'KL (nats/tok)', 'top-1', 'KV memory', 'ms/prompt'];
  const body = rows.map((r) => [
    r.method,
    r.method === 'full' ? '100%' : `${Math.round(r.budget * 100)}%`,
    `${r.correct}/${r.answered}`,
    r.kl === null ? '—' : r.kl.toFixed(4),
    r.top1 === null ? '—' : `${(r.top1 * 100).toFixed(1)}%`,
    size(r.kvBytes),
    r.ms.toFixed(0),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i <= 1 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), w.map((x) => '-'.repeat(x)).join('  '), ...body.map(line)].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const { values } = parseOptions('demo', argv, OPTIONS);
  const modelArgs = parseModelArgs(values);
  const backend = modelArgs.backend;
  const budgets = parseNumberList('--budgets', values.budgets) ?? [0.5, 0.35];
  const { methodNames } = await import('../../compress/registry.js');
  const methods = values.methods ? parseNameList(values.methods) : ['full', ...methodNames().filter((m) => m !== 'full')];
  const { seed, random: randomSeed } = parseSeed(values.seed, 0);
  if (randomSeed) process.stderr.write(drawnSeedNote('demo', seed));
  const chunkSize = parseIntFlag('--chunk-size', values['chunk-size'], 512, 1);

  const { model, modelPath } = await loadModelFromArgs(modelArgs);
  const out = values.out ?? mkdtempSync(join(tmpdir(), 'kvmerger-demo-'));
  try {
    const { getTask } = await import('../../eval/tasks/registry.js');
    const { planGrid, runGrid } = await import('../../eval/grid/run-grid.js');
    const { createProgress } = await import('../../eval/grid/progress.js');
    const bos = model.tokenizer.addBos && model.tokenizer.bos !== undefined ? 1 : 0;
    const C = model.config.contextLength - bos;
    const L = parseIntFlag('--length', values.length, Math.min(C, 2048), 64);
    if (L > C) throw new KvError(`--length ${L} is above the model's context of ${model.config.contextLength}${bos ? ' (less 1 for BOS)' : ''}; use at most ${C}`);
    // Needle prompts leave room for their answers (passkey 8 tokens, niah 32); the passage leaves room for k.
    const k = Math.min(64, Math.floor(L / 4));
    const spec = {
      model: modelName(modelPath),
      backend,
      tasks: [
        { task: getTask('passkey'), lengths: [L - 8], depths: [25, 75] },
        { task: getTask('niah'), lengths: [L - 32], depths: [50] },
        { task: getTask('fidelity'), lengths: [L - k], options: { k } },
      ],
      methods,
      budgets,
      seed,
      methodOptions: values['method-option'] ?? [],
      ...(values.data !== undefined ? { dataRoot: values.data } : {}),
      chunkSize,
    };
    const plan = planGrid(model, spec);
    const rows: ResultRow[] = [];
    const tty = process.stderr.isTTY && !values.json && !values.quiet;
    if (!values.json && !values.quiet) process.stderr.write(`demo: ${spec.model}, ${L}-token prompts, ${methods.length} methods × ${budgets.map((b) => `${b * 100}%`).join(', ')}\n`);
    const s = await runGrid(model, plan, { out, progress: createProgress({ quiet: !tty }), onRow: (r) => rows.push(r) });
    if (s.skipped > 0) {
      // Rows kept from an earlier run into the same --out.
      const { readFileSync } = await import('node:fs');
      rows.length = 0;
      for (const l of readFileSync(s.resultsPath, 'utf8').split('\n')) if (l.trim()) rows.push(JSON.parse(l) as ResultRow);
    }
    const table = demoTable(rows);
    const prefillMs = rows.length ? Math.max(...rows.map((r) => r.prefillMs)) : 0;
    const elapsed = (performance.now() - t0) / 1000;
    if (values.json) {
      process.stdout.write(JSON.stringify({ model: spec.model, length: L, prompts: plan.samples.length, prefillMs, rows: table, elapsedSeconds: elapsed }, null, 2) + '\n');
    } else {
      process.stdout.write(
        [
          '',
          formatDemoTable(table),
          '',
          `correct: passkeys and needle answered (of ${plan.samples.length - 1} prompts); KL and top-1: the passage's next ${k - 1} tokens vs the full cache.`,
          `KV memory: keys and values the compressed cache holds (the full cache: ${size(table.find((r) => r.method === 'full')?.kvBytes ?? 0)}); every method keeps the same number of slots per budget.`,
          `ms/prompt: compression + answer; each prompt's prefill (up to ${(prefillMs / 1000).toFixed(1)} s) is shared by every method.`,
          `elapsed: ${elapsed.toFixed(1)} s`,
        ].join('\n') + '\n',
      );
    }
    return 0;
  } finally {
    await model.close();
    if (values.out === undefined) rmSync(out, { recursive: true, force: true });
  }
}
