/** `kvmerger eval`: a tasks × methods × budgets grid, one result row per cell in DIR/results.jsonl (resumable). */
import { KvError } from '../../util/errors.js';
import { describeTasks, parseTaskList } from '../../eval/tasks/registry.js';
import { exitOnInterrupt, modelName, parseIntFlag, parseNameList, parseNumberList, taskOptionsBy } from '../grid-args.js';
import { loadModelFromArgs, parseModelArgs } from '../model-args.js';
import { drawnSeedNote, parseSeed } from '../seed.js';
import {
  CHUNK_OPTION,
  DATA_OPTION,
  GRID_OPTIONS,
  LENGTHS_OPTION,
  MODEL_OPTIONS,
  QUANTIZE_OPTION,
  OUTPUT_OPTIONS,
  OUT_OPTION,
  SEED_OPTION,
  parseOptions,
  wrapText,
  type OptionTable,
} from '../options.js';

export const summary = 'run a tasks × methods × budgets grid; rows go to DIR/results.jsonl (resumable)';

export const help = `Usage: kvmerger eval --tasks T1,T2 -o DIR [-m FILE] [options]

Runs every (task, sample, method, budget) cell once and appends its row to DIR/results.jsonl as soon
as it is done. Running the same command again skips the finished cells (Ctrl-C loses at most the
cell in progress). Each sample is prefilled once; every method compresses a copy of that cache to
the same number of kept slots, then decodes greedily (generation tasks) or teacher-forces the
continuation (fidelity tasks, compared with the full cache). 'full' runs once per sample (budget 1).
Then: kvmerger report DIR.

Model:
  -m, --model FILE          GGUF or llama2.c checkpoint (default: the built-in model)
  --tokenizer FILE          tokenizer file, for models without their own vocabulary (tokenizer.bin)
  --backend ort|reference   forward pass (default ort)
  -t, --threads N           onnxruntime threads
  --precision int8|fp32     products with quantised weights: int8 (default, as llama.cpp) or fp32
  --kv-type f16|f32         how the KV cache stores keys and values (default f16, as llama.cpp)
  --quantize q8_0|q4_0|q4_k_m  a Hugging Face folder's weights quantised as they load (rows name the
                            model NAME@TYPE)
  -b, --chunk-size N        prompt tokens per forward call (default 512)

Grid:
  --tasks LIST              comma-separated task names (list below)
  --methods LIST            default full,h2o,cam,kvmerger (kvmerger methods lists them all)
  --budgets LIST            shares of the prompt's KV slots to keep, in (0, 1]; default 0.5,0.35
  --samples N               samples per length (× depth), default 1; file-backed tasks: first N rows
  --lengths LIST            prompt lengths in tokens (default: each task's; docs/eval-tasks.md)
  --depths LIST             needle depths in percent (needle tasks)
  -s, --seed S              seeds the samples, CaM's gate and 'random' (default 0, so a run
                            resumes; -1: a random seed, printed)
  --method-option [M.]K=V   a method's option (repeatable), e.g. kvmerger.budgetMode=faithful,
                            h2o.recentShare=0.5; K=V alone applies to the one method that has K.
                            KVMerger runs in budgetMode=exact (equal kept slots) unless this says so
  --task-option [T.]K=V     a task's option (repeatable), e.g. fidelity.k=128; K=V applies to every
                            task that has K
  --data DIR                the offline data folder (default ../shared/data or KVMERGER_SHARED_DATA)
  --chat-template MODE      auto (default): LongBench's chat datasets are wrapped in the model's
                            chat template (GGUF tokenizer.chat_template) when it has one, as
                            LongBench does for chat models; none: plain prompts. Rows of those
                            datasets record options.chatTemplate (applied|none)

Queue (several processes or machines, docs/grid-runner.md):
  --queue redis://H:P       add the missing cells as jobs to a BullMQ queue on that Redis and collect
                            the rows that 'kvmerger worker --queue redis://H:P' processes return
                            (rows also name their worker); without it the grid runs here
  --queue-name NAME         the queue (default kvmerger-eval; the workers' must be the same)

Output:
  -o, --out DIR             where results.jsonl and run.json go (required)
  --json                    print a JSON summary at the end
  -q, --quiet               no progress display

Rows (one JSON object per line): model, task, sample, method, options (the method's configuration,
defaults included, 'auto' as given), resolvedOptions (the values used: 'auto' resolved, ppl-stream's
when=decode), budgetRequested, budgetAchieved (kept slots / (promptTokens · layers · kvHeads),
measured), score, metrics, kvBytes, kvBytesFull, slotsPerLayer, promptTokens (BOS included),
contextLength, depth, prefillMs, compressMs, decodeMs, newTokens, stopReason, output (truncated),
expected, seed, backend, version, cellKey.

Tasks:
${wrapText(describeTasks())}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  ...QUANTIZE_OPTION,
  ...CHUNK_OPTION,
  tasks: { type: 'string', aliases: ['task'] },
  ...GRID_OPTIONS,
  samples: { type: 'string' },
  ...LENGTHS_OPTION,
  depths: { type: 'string' },
  ...SEED_OPTION,
  'task-option': { type: 'string', multiple: true },
  ...DATA_OPTION,
  'chat-template': { type: 'string' },
  queue: { type: 'string' },
  'queue-name': { type: 'string' },
  ...OUT_OPTION,
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

export const DEFAULT_METHODS = ['full', 'h2o', 'cam', 'kvmerger'];
export const DEFAULT_BUDGETS = [0.5, 0.35];

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('eval', argv, OPTIONS);
  if (values.tasks === undefined) throw new KvError('eval: --tasks is required, e.g. --tasks fidelity,passkey (kvmerger eval --help lists the tasks)');
  if (values.out === undefined) throw new KvError('eval: --out DIR is required (the folder for results.jsonl)');
  const modelArgs = parseModelArgs(values);
  const backend = modelArgs.backend;
  const tasks = parseTaskList(values.tasks);
  const methods = parseNameList(values.methods ?? DEFAULT_METHODS.join(','));
  const budgets = parseNumberList('--budgets', values.budgets) ?? DEFAULT_BUDGETS;
  const count = parseIntFlag('--samples', values.samples, 1, 1);
  const lengths = parseNumberList('--lengths', values.lengths, true);
  const depths = parseNumberList('--depths', values.depths);
  const { seed, random: randomSeed } = parseSeed(values.seed, 0);
  if (randomSeed) process.stderr.write(drawnSeedNote('eval', seed));
  const chunkSize = parseIntFlag('--chunk-size', values['chunk-size'], 512, 1);
  const taskOptions = taskOptionsBy(tasks, values['task-option'] ?? []);
  const chatArg = values['chat-template'] ?? 'auto';
  if (chatArg !== 'auto' && chatArg !== 'none') {
    throw new KvError(`--chat-template must be 'auto' (apply the model's chat template when it has one) or 'none'; got '${chatArg}'`);
  }
  const chatTemplate: 'auto' | 'none' = chatArg;
  const queue = values.queue === undefined ? undefined : await queueTarget(values.queue, values['queue-name']);
  if (values.queue === undefined && values['queue-name'] !== undefined) throw new KvError('eval: --queue-name needs --queue redis://HOST:PORT');

  // The folder is made and locked before the model loads: a second run on it refuses at once.
  const { lockOutDir, makeOutDir } = await import('../../eval/grid/out-dir.js');
  makeOutDir(values.out);
  const unlock = lockOutDir(values.out);
  let model: Awaited<ReturnType<typeof loadModelFromArgs>>['model'];
  let modelPath: string;
  try {
    ({ model, modelPath } = await loadModelFromArgs(modelArgs));
  } catch (err) {
    unlock();
    throw err;
  }
  try {
    const { planGrid, runGrid } = await import('../../eval/grid/run-grid.js');
    const { createProgress } = await import('../../eval/grid/progress.js');
    const { writeRunInfo } = await import('../../eval/grid/run-info.js');
    const spec = {
      model: modelName(modelPath, modelArgs.quantize),
      backend,
      tasks: tasks.map((task) => ({
        task,
        count,
        ...(lengths ? { lengths } : {}),
        ...(depths ? { depths } : {}),
        ...(taskOptions.has(task.name) ? { options: taskOptions.get(task.name)! } : {}),
      })),
      methods,
      budgets,
      seed,
      methodOptions: values['method-option'] ?? [],
      ...(values.data !== undefined ? { dataRoot: values.data } : {}),
      chunkSize,
      chatTemplate,
    };
    const plan = planGrid(model, spec);
    writeRunInfo(values.out, {
      command: ['kvmerger', 'eval', ...argv],
      model: spec.model,
      modelPath: model.path,
      ...(values.tokenizer !== undefined ? { tokenizerPath: values.tokenizer } : {}),
      ...(modelArgs.quantize !== undefined ? { quantize: modelArgs.quantize } : {}),
      backend,
      grid: gridDescription(spec, plan.totalCells),
    });
    if (queue) {
      const { runQueued } = await import('../../eval/grid/queue/eval-queued.js');
      return await runQueued({ plan, spec, model, modelPath, modelArgs, out: values.out, ...queue, quiet: values.quiet ?? false, json: values.json ?? false });
    }
    const release = exitOnInterrupt(values.out, 'kvmerger eval');
    let s;
    try {
      s = await runGrid(model, plan, { out: values.out, progress: createProgress({ quiet: (values.quiet ?? false) || (values.json ?? false) }) });
    } finally {
      release();
    }
    if (values.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    else {
      process.stdout.write(
        `eval: ${s.ran} cell(s) run, ${s.skipped} already done, ${s.totalCells} in the grid; ${s.prefills} prefill(s); ${(s.elapsedMs / 1000).toFixed(1)} s\n` +
          s.notes.map((n) => `  note: ${n}\n`).join('') +
          `  rows: ${s.resultsPath}\n  report: kvmerger report ${values.out}\n`,
      );
    }
    return 0;
  } finally {
    unlock();
    await model.close();
  }
}

/** --queue and --queue-name, checked before the model loads (the queue modules, and bullmq, load only here). */
async function queueTarget(url: string, name: string | undefined): Promise<{ url: string; queueName: string }> {
  const { DEFAULT_QUEUE_NAME, parseQueueUrl } = await import('../../eval/grid/queue/jobs.js');
  if (name !== undefined && !/^[A-Za-z0-9_.-]+$/.test(name)) throw new KvError(`--queue-name '${name}': use letters, digits, '-', '_' and '.'`);
  return { url: parseQueueUrl(url), queueName: name ?? DEFAULT_QUEUE_NAME };
}

/** The grid as run.json records it (tasks with their settings; names only, no objects). */
export function gridDescription(
  spec: { tasks: { task: { name: string }; count?: number; lengths?: number[]; depths?: number[]; options?: Record<string, unknown> }[]; methods: string[]; budgets: number[]; seed: number; methodOptions?: string[]; dataRoot?: string; chunkSize?: number; chatTemplate?: string },
  totalCells: number,
): Record<string, unknown> {
  return {
    tasks: spec.tasks.map((t) => ({ name: t.task.name, count: t.count ?? 1, lengths: t.lengths ?? null, depths: t.depths ?? null, options: t.options ?? {} })),
    methods: spec.methods,
    budgets: spec.budgets,
    seed: spec.seed,
    methodOptions: spec.methodOptions ?? [],
    dataRoot: spec.dataRoot ?? null,
    chunkSize: spec.chunkSize ?? 512,
    chatTemplate: spec.chatTemplate ?? 'auto',
    totalCells,
  };
}
