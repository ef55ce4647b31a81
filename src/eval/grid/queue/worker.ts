/**
 * A grid worker: takes cell jobs from the queue (BullMQ on Redis), runs each as the local runner would, and returns
 * its row. One job is one cell (its id the cell key: a rerun adds nothing twice, a retry repeats one cell only), so
 * the worker caches what cells share:
 * - loaded models, by file and load options (kept for the worker's life: a worker rarely serves more than one model);
 * - the planned grid, by the job's grid and model (planning is deterministic, so the worker's cell is the cell the
 *   coordinator planned; the key is checked);
 * - prefilled samples, the last few (the queue hands cells out in the coordinator's order, sample by sample, so a
 *   worker's consecutive jobs mostly share one prefill). A prefill asks for the union of the statistics of all the
 *   sample's cells of its window group, as the local runner's prefill of a whole sample does.
 *
 * A cell that fails for its own reasons (a KvError: a bad option, a model this worker lacks, non-finite logits) fails
 * its job at once, without retries (BullMQ's UnrecoverableError); other errors get one more attempt. A worker killed
 * mid-cell leaves its job locked until the lock expires; another worker's stalled-job check then puts it back in the
 * queue (`stalledIntervalMs` for both the lock and the check).
 */
import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { createHash } from 'node:crypto';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { KvError } from '../../../util/errors.js';
import { version } from '../../../version.js';
import { getTask } from '../../tasks/registry.js';
import { planGrid, resultRow, type GridPlan, type GridSpec } from '../run-grid.js';
import { prefillSampleGroup, runPrefilledCell, sampleCellGroups, type SamplePrefill } from '../run-sample.js';
import type { LoadedModel } from '../../../model/load-model.js';
import { connectionOptions, reachRedis, type CellJobData, type CellJobResult, type JobModel } from './jobs.js';

export interface GridWorkerOptions {
  url: string;
  queueName: string;
  /** Jobs run at once (default 1; cells are CPU-bound, so more helps only with spare cores). */
  concurrency?: number;
  /** Model files this worker may use, matched to a job's model by base name. */
  models?: string[];
  tokenizer?: string;
  threads?: number;
  /** The data folder here (default: the job's, else ../shared/data or KVMERGER_SHARED_DATA). */
  dataRoot?: string;
  /** This worker's name in rows (default host:pid). */
  name?: string;
  /** Lock duration and stalled-job check interval in ms (default 30000). */
  stalledIntervalMs?: number;
  /** Prefilled samples kept (default concurrency + 1, at least 2). */
  prefillCache?: number;
  log?: (line: string) => void;
}

export interface GridWorker {
  name: string;
  /** Cells finished and failed, prefills run, cells in progress, when the last cell ended (performance.now()). */
  stats: { cells: number; failed: number; prefills: number; active: number; lastActive: number };
  /** Waits for the cells in progress, then disconnects. */
  close(): Promise<void>;
}

/** A small least-recently-used map of promises (concurrent jobs of one sample wait on the same prefill). */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}
  get(key: string, make: () => V): V {
    const had = this.map.get(key);
    if (had !== undefined) {
      this.map.delete(key);
      this.map.set(key, had);
      return had;
    }
    const v = make();
    this.map.set(key, v);
    while (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
    return v;
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

/** The file this worker loads for a job's model: a --model of that base name, else the coordinator's path if the same file is here. */
export function resolveModelFile(m: JobModel, given: readonly string[], builtin?: string): string {
  const named = given.find((p) => basename(p) === m.name);
  const candidates = named ? [named] : [m.path, ...(builtin && basename(builtin) === m.name ? [builtin] : [])];
  for (const p of candidates) {
    if (!existsSync(p)) continue;
    const bytes = statSync(p).size;
    if (bytes === m.bytes) return p;
    if (p === named) throw new KvError(`worker: --model ${p} has ${bytes} bytes, the coordinator's ${m.name} has ${m.bytes}; give this worker the same file`);
  }
  throw new KvError(`worker: no model file ${m.name} of ${m.bytes} bytes here (the coordinator's is ${m.path}); start the worker with --model PATH/${m.name}`);
}

export async function startGridWorker(options: GridWorkerOptions): Promise<GridWorker> {
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const concurrency = options.concurrency ?? 1;
  const stalled = options.stalledIntervalMs ?? 30_000;
  const log = options.log ?? (() => {});
  const stats = { cells: 0, failed: 0, prefills: 0, active: 0, lastActive: performance.now() };
  const models = new Map<string, Promise<LoadedModel>>();
  const plans = new Lru<Promise<GridPlan>>(4);
  const prefills = new Lru<Promise<SamplePrefill>>(options.prefillCache ?? Math.max(2, concurrency + 1));
  const { defaultModelPath, loadModel } = await import('../../../model/load-model.js');
  let builtin: string | undefined;
  try {
    builtin = defaultModelPath();
  } catch {
    builtin = undefined;
  }

  const modelFor = (m: JobModel): Promise<LoadedModel> => {
    const path = resolveModelFile(m, options.models ?? [], builtin);
    const tokenizerPath = options.tokenizer ?? m.tokenizerPath;
    if (tokenizerPath !== undefined && !existsSync(tokenizerPath)) {
      throw new KvError(`worker: the tokenizer ${tokenizerPath} is not here; start the worker with --tokenizer FILE`);
    }
    const key = JSON.stringify([path, tokenizerPath, m.backend, m.precision, m.kvType, m.quantize]);
    let p = models.get(key);
    if (!p) {
      p = loadModel(path, { backend: m.backend, tokenizerPath, threads: options.threads, precision: m.precision, kvType: m.kvType, ...(m.quantize !== undefined ? { quantize: m.quantize } : {}) });
      p.catch(() => models.delete(key));
      models.set(key, p);
    }
    return p;
  };

  const planFor = (data: CellJobData, model: LoadedModel, planKey: string): Promise<GridPlan> =>
    plans.get(planKey, () => {
      const g = data.grid;
      const dataRoot = options.dataRoot ?? g.dataRoot;
      const spec: GridSpec = {
        model: data.model.quantize !== undefined ? `${data.model.name}@${data.model.quantize}` : data.model.name,
        backend: g.backend,
        tasks: g.tasks.map((t) => ({
          task: getTask(t.name),
          ...(t.count !== undefined ? { count: t.count } : {}),
          ...(t.lengths ? { lengths: t.lengths } : {}),
          ...(t.depths ? { depths: t.depths } : {}),
          ...(t.options ? { options: t.options } : {}),
        })),
        methods: g.methods,
        budgets: g.budgets,
        seed: g.seed,
        methodOptions: g.methodOptions ?? [],
        ...(dataRoot !== undefined ? { dataRoot } : {}),
        ...(g.chunkSize !== undefined ? { chunkSize: g.chunkSize } : {}),
        ...(g.chatTemplate !== undefined ? { chatTemplate: g.chatTemplate } : {}),
      };
      const p = Promise.resolve().then(() => planGrid(model, spec));
      p.catch(() => plans.delete(planKey));
      return p;
    });

  const runCell = async (data: CellJobData): Promise<CellJobResult> => {
    if (data.format !== 1) throw new KvError(`worker: a job of format ${String(data.format)}; this worker (kvmerger ${version}) reads format 1`);
    if (data.version !== version) throw new KvError(`worker: the coordinator runs kvmerger ${data.version}, this worker ${version}; run the same version everywhere (the numbers may differ)`);
    const model = await modelFor(data.model);
    const planKey = createHash('sha256').update(JSON.stringify([data.grid, data.model, options.dataRoot ?? null])).digest('hex').slice(0, 16);
    const plan = await planFor(data, model, planKey);
    const at = plan.samples.findIndex((s) => s.cells.some((c) => c.cellKey === data.cellKey));
    if (at < 0) throw new KvError(`worker: cell ${data.cellKey} (${data.label}) is not in the grid as planned here; the model, data or version differ from the coordinator's`);
    const ps = plan.samples[at]!;
    const groups = sampleCellGroups(model, ps.sample, ps.cells, plan.spec.seed);
    const g = groups.findIndex((gr) => gr.some((i) => i.cell.cellKey === data.cellKey));
    const group = groups[g]!;
    const item = group.find((i) => i.cell.cellKey === data.cellKey)!;
    const chunkSize = plan.spec.chunkSize ?? 512;
    const pfKey = `${planKey}/${at}/${g}`;
    const pf = prefills.get(pfKey, () => {
      stats.prefills++;
      const p = prefillSampleGroup(model, ps.sample, group, chunkSize);
      p.catch(() => prefills.delete(pfKey));
      return p;
    });
    const outcome = await runPrefilledCell(model, await pf, item, { seed: plan.spec.seed, chunkSize });
    return { row: resultRow(plan.spec, outcome, data.outputChars), worker: name };
  };

  const processor = async (job: Job<CellJobData, CellJobResult>): Promise<CellJobResult> => {
    const t0 = performance.now();
    stats.active++;
    log(`worker ${name}: start ${job.data.cellKey} ${job.data.label}${job.attemptsStarted > 1 ? ` (attempt ${job.attemptsStarted})` : ''}`);
    try {
      const r = await runCell(job.data);
      stats.cells++;
      log(`worker ${name}: done ${job.data.cellKey} ${job.data.label} (${((performance.now() - t0) / 1000).toFixed(2)} s)`);
      return r;
    } catch (err) {
      stats.failed++;
      const message = err instanceof Error ? err.message : String(err);
      log(`worker ${name}: failed ${job.data.cellKey} ${job.data.label}: ${message}`);
      // The cell's own fault: retrying it gives the same error.
      if (err instanceof KvError) throw new UnrecoverableError(message);
      throw err;
    } finally {
      stats.active--;
      stats.lastActive = performance.now();
    }
  };

  const worker = new Worker<CellJobData, CellJobResult>(options.queueName, processor, {
    connection: connectionOptions(options.url),
    concurrency,
    name,
    lockDuration: stalled,
    stalledInterval: stalled,
    // A job whose worker died goes back to the queue up to this many times before it counts as failed.
    maxStalledCount: 3,
    autorun: false,
  });
  // Connection losses (Redis restarting) are reported, not fatal: the client reconnects.
  let lastError = '';
  worker.on('error', (err) => {
    const m = err instanceof Error ? err.message : String(err);
    if (m !== lastError) log(`worker ${name}: ${m}`);
    lastError = m;
  });
  try {
    await reachRedis(worker.waitUntilReady(), options.url);
  } catch (err) {
    await worker.close(true).catch(() => {});
    throw err;
  }
  void worker.run();
  log(`worker ${name}: waiting for cells on ${options.url} (queue ${options.queueName}, concurrency ${concurrency})`);
  return {
    name,
    stats,
    close: async () => {
      // Waits for the cells in progress; without one, or when Redis is gone, it does not wait on the connection.
      const closing = worker.close(stats.active === 0);
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 5000))),
      ]);
      clearTimeout(timer);
      if (gaveUp) {
        if (stats.active > 0) await closing;
        else void worker.close(true).catch(() => {});
      }
      for (const p of models.values()) await p.then((m) => m.close(), () => {});
    },
  };
}
