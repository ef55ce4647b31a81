/** `kvmerger worker`: runs the cells that `kvmerger eval --queue` adds to a queue on Redis (src/eval/grid/queue/worker.ts). */
import { KvError } from '../../util/errors.js';
import { OUTPUT_OPTIONS, numberOption, parseOptions, type OptionTable } from '../options.js';

export const summary = "run the cells of grids queued by 'eval --queue' (BullMQ on Redis), on this machine";

export const help = `Usage: kvmerger worker --queue redis://HOST:PORT [options]

Takes cells from the queue that 'kvmerger eval --queue redis://HOST:PORT' fills, runs each as a local
eval would (same rows, same numbers) and hands its row back to the coordinator, which writes
results.jsonl. Start as many workers as there are machines or spare cores; each caches the model,
the planned grid and the last prefilled samples. A worker killed mid-cell loses nothing: its cell
goes back to the queue when its lock expires (--stalled-interval) and another worker runs it.
Ctrl-C (or SIGTERM) finishes the cell in progress and stops; a second Ctrl-C stops at once.

Options:
  --queue redis://H:P       the Redis that holds the queue (required)
  --queue-name NAME         the queue (default kvmerger-eval, as eval's)
  --concurrency N           cells at once (default 1; cells use the cores of --threads)
  -m, --model FILE          a model file for the jobs whose model has this base name (repeatable);
                            without it, the coordinator's path when the same file is there
  --tokenizer FILE          the tokenizer file, when the coordinator's path is not valid here
  -t, --threads N           onnxruntime threads
  --data DIR                the data folder here (default: the coordinator's --data, else
                            ../shared/data or KVMERGER_SHARED_DATA)
  --name NAME               this worker's name in the rows (default host:pid)
  --stalled-interval MS     lock time of a cell and the check for cells of dead workers (default 30000;
                            a dead worker's cell runs again after at most about twice this)
  --idle-exit S             stop after S seconds without a cell (default: run until stopped)
  --json                    print the worker's counts as JSON on stdout when it stops
  -q, --quiet               no line per cell on stderr`;

const OPTIONS = {
  queue: { type: 'string' },
  'queue-name': { type: 'string' },
  concurrency: { type: 'string' },
  model: { type: 'string', short: 'm', multiple: true },
  tokenizer: { type: 'string' },
  threads: { type: 'string', short: 't', aliases: ['n-threads'] },
  data: { type: 'string' },
  name: { type: 'string' },
  'stalled-interval': { type: 'string' },
  'idle-exit': { type: 'string' },
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('worker', argv, OPTIONS);
  if (values.queue === undefined) throw new KvError("worker: --queue redis://HOST:PORT is required (the Redis that 'kvmerger eval --queue' uses)");
  const { DEFAULT_QUEUE_NAME, parseQueueUrl } = await import('../../eval/grid/queue/jobs.js');
  const url = parseQueueUrl(values.queue);
  const concurrency = numberOption('concurrency', values.concurrency, { integer: true, min: 1 }) ?? 1;
  const threads = numberOption('threads', values.threads, { integer: true, min: 1 });
  const stalled = numberOption('stalled-interval', values['stalled-interval'], { integer: true, min: 100 }) ?? 30_000;
  const idleExit = numberOption('idle-exit', values['idle-exit'], { min: 0 });
  const { existsSync } = await import('node:fs');
  for (const m of values.model ?? []) if (!existsSync(m)) throw new KvError(`--model ${m}: no such file; check the path`);
  const quiet = values.quiet ?? false;
  const { startGridWorker } = await import('../../eval/grid/queue/worker.js');
  const worker = await startGridWorker({
    url,
    queueName: values['queue-name'] ?? DEFAULT_QUEUE_NAME,
    concurrency,
    models: values.model ?? [],
    ...(values.tokenizer !== undefined ? { tokenizer: values.tokenizer } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(values.data !== undefined ? { dataRoot: values.data } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    stalledIntervalMs: stalled,
    log: (line) => {
      if (!quiet || !/: (start|done) /.test(line)) process.stderr.write(line + '\n');
    },
  });
  const stopped = new Promise<string>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) process.exit(130);
      process.stderr.write(`worker ${worker.name}: ${sig}: finishing the cell in progress (again to stop at once)\n`);
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (idleExit !== undefined) {
      const timer = setInterval(() => {
        if (worker.stats.active === 0 && performance.now() - worker.stats.lastActive >= idleExit * 1000) {
          clearInterval(timer);
          resolve('idle');
        }
      }, 200);
    }
  });
  const why = await stopped;
  await worker.close();
  const s = worker.stats;
  process.stderr.write(`worker ${worker.name}: stopped (${why}); ${s.cells} cell(s) run, ${s.failed} failed, ${s.prefills} prefill(s)\n`);
  if (values.json) process.stdout.write(JSON.stringify({ worker: worker.name, stopped: why, cells: s.cells, failed: s.failed, prefills: s.prefills }) + '\n');
  return why === 'idle' ? 0 : 130;
}
