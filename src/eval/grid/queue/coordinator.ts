/**
 * `kvmerger eval --queue redis://…`: the grid's coordinator. It adds every cell that `results.jsonl` lacks as a
 * BullMQ job whose id is the cell key (BullMQ ignores an id it already has, so a rerun adds nothing twice), then
 * collects finished jobs into `results.jsonl` with the rows a local run writes plus `worker`, and removes them from
 * Redis. Only the coordinator writes the file (it holds the folder's lock), and a key already in the file is never
 * written again, so no cell is written twice.
 *
 * Faults:
 * - a worker killed mid-cell: its job's lock expires and another worker's stalled check puts it back (worker.ts);
 * - the coordinator restarted: it reads results.jsonl, finds the jobs still in Redis (finished ones are collected at
 *   once) and adds the missing;
 * - Redis restarted without persistence: every few seconds the coordinator checks that each outstanding cell still
 *   has a job, and adds again those that vanished;
 * - a cell that fails (its job `failed`: the cell's own KvError, or errors on every attempt) is reported once with
 *   its error and left out of results.jsonl; the job stays in Redis for inspection, and the next coordinator run on
 *   the folder tries it again, once.
 */
import { Queue, type Job } from 'bullmq';
import type { GridProgress } from '../progress.js';
import type { ResultRow } from '../result-row.js';
import { ResultsLog } from '../results-log.js';
import type { GridPlan } from '../run-grid.js';
import { cellLabel, connectionOptions, reachRedis, type CellJobData, type CellJobResult } from './jobs.js';

export interface QueueGridOptions {
  out: string;
  url: string;
  queueName: string;
  /** Everything of a job but the cell (model, grid, version). */
  job: Omit<CellJobData, 'cellKey' | 'label'>;
  progress?: GridProgress;
  signal?: AbortSignal;
  /** How often finished jobs are looked for (ms, default 250). */
  pollMs?: number;
  /** How often every outstanding cell's job is checked, and re-added when it vanished (ms, default 3000). */
  sweepMs?: number;
  /** Tests: change a cell's job before it is added. */
  editJob?: (data: CellJobData) => CellJobData;
}

export interface QueueGridSummary {
  totalCells: number;
  /** Rows collected by this call. */
  ran: number;
  /** Cells found finished in results.jsonl. */
  skipped: number;
  /** Cells whose job failed, with the error (not written). */
  failed: { cellKey: string; label: string; error: string }[];
  /** Jobs added by this call (first adds and re-adds). */
  enqueued: number;
  /** Jobs added again because they had vanished from Redis (a restart without persistence). */
  reenqueued: number;
  /** Rows per worker. */
  workers: Record<string, number>;
  interrupted: boolean;
  notes: string[];
  resultsPath: string;
  tornBytes: number;
  elapsedMs: number;
}

const JOB_OPTIONS = { attempts: 2, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false } as const;

/** Adds the grid's missing cells to the queue and collects their rows until every cell is written or failed. */
export async function runGridOnQueue(plan: GridPlan, options: QueueGridOptions): Promise<QueueGridSummary> {
  const t0 = performance.now();
  const progress = options.progress;
  const pollMs = options.pollMs ?? 250;
  const sweepMs = options.sweepMs ?? 3000;
  const log = ResultsLog.open(options.out);
  const done = log.opened.done;
  const jobs = new Map<string, CellJobData>();
  let skipped = 0;
  for (const p of plan.samples) {
    for (const c of p.cells) {
      if (done.has(c.cellKey)) {
        skipped++;
        continue;
      }
      const data: CellJobData = { ...options.job, cellKey: c.cellKey, label: cellLabel(p.task.name, p.sample.id, c.method, c.budget) };
      jobs.set(c.cellKey, options.editJob ? options.editJob(data) : data);
    }
  }
  const gridKeys = new Set<string>(plan.samples.flatMap((p) => p.cells.map((c) => c.cellKey)));
  const pending = new Set(jobs.keys());
  const summary: QueueGridSummary = {
    totalCells: plan.totalCells,
    ran: 0,
    skipped,
    failed: [],
    enqueued: 0,
    reenqueued: 0,
    workers: {},
    interrupted: false,
    notes: plan.notes,
    resultsPath: log.path,
    tornBytes: log.opened.tornBytes,
    elapsedMs: 0,
  };
  progress?.start(plan.totalCells, skipped);
  if (log.opened.tornBytes > 0) progress?.note(`results.jsonl: cut off an unfinished last line (${log.opened.tornBytes} bytes); that cell runs again`);
  for (const n of plan.notes) progress?.note(`note: ${n}`);

  const queue = new Queue<CellJobData, CellJobResult>(options.queueName, { connection: connectionOptions(options.url) });
  let redisError = '';
  queue.on('error', (err) => {
    const m = err instanceof Error ? err.message : String(err);
    if (m !== redisError) progress?.note(`queue: ${m} (retrying)`);
    redisError = m;
  });
  try {
    await reachRedis(queue.waitUntilReady(), options.url);

    const add = async (keys: string[]) => {
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        await queue.addBulk(chunk.map((k) => ({ name: 'cell', data: jobs.get(k)!, opts: { jobId: k, ...JOB_OPTIONS } })));
        summary.enqueued += chunk.length;
      }
    };
    const fail = (key: string, label: string, reason: string) => {
      pending.delete(key);
      summary.failed.push({ cellKey: key, label, error: reason });
      progress?.note(`failed: ${label} (cell ${key}): ${reason}`);
    };
    const collect = async (job: Job<CellJobData, CellJobResult>) => {
      const key = job.id!;
      if (!pending.has(key)) {
        // A job of this grid whose row is already written (the coordinator stopped between writing and removing).
        if (gridKeys.has(key) && done.has(key)) await job.remove().catch(() => {});
        return;
      }
      const r = job.returnvalue;
      if (!r || typeof r !== 'object' || !r.row || r.row.cellKey !== key) {
        fail(key, job.data.label, 'the job finished without its row (a worker of another kvmerger version?)');
        return;
      }
      const row: ResultRow = { ...r.row, worker: r.worker };
      log.append(row);
      done.add(key);
      pending.delete(key);
      summary.ran++;
      summary.workers[r.worker] = (summary.workers[r.worker] ?? 0) + 1;
      // The row came over the network from another process: checked, not trusted.
      const score = typeof row.score === 'number' ? row.score : NaN;
      const kept = typeof row.budgetAchieved === 'number' ? row.budgetAchieved : NaN;
      progress?.cell(job.data.label, `score ${score.toFixed(3)}, kept ${(kept * 100).toFixed(1)}% (${r.worker})`);
      await job.remove().catch(() => {});
    };
    /** Checks every outstanding cell's job; the first sweep also retries jobs that failed in an earlier run. */
    const sweep = async (first: boolean) => {
      const keys = [...pending];
      const missing: string[] = [];
      for (let i = 0; i < keys.length; i += 200) {
        const chunk = keys.slice(i, i + 200);
        const states = await Promise.all(chunk.map((k) => queue.getJobState(k)));
        for (let j = 0; j < chunk.length; j++) {
          const key = chunk[j]!;
          const state = states[j]!;
          if (state === 'unknown') missing.push(key);
          else if (state === 'completed') {
            const job = await queue.getJob(key);
            if (job) await collect(job);
            else missing.push(key);
          } else if (state === 'failed') {
            const job = await queue.getJob(key);
            if (first) {
              await job?.remove();
              missing.push(key);
            } else fail(key, job?.data.label ?? jobs.get(key)!.label, job?.failedReason ?? 'failed');
          }
        }
      }
      if (missing.length === 0) return;
      if (!first) {
        summary.reenqueued += missing.length;
        progress?.note(`queue: ${missing.length} cell(s) had no job in Redis any more (restarted without persistence?); added again`);
      }
      await add(missing);
    };

    await sweep(true);
    let lastSweep = performance.now();
    while (pending.size > 0) {
      if (options.signal?.aborted) break;
      for (const job of await queue.getJobs(['completed'], 0, 199, true)) {
        if (job?.id && gridKeys.has(job.id)) await collect(job as Job<CellJobData, CellJobResult>);
      }
      for (const job of await queue.getJobs(['failed'], 0, 199, true)) {
        if (job?.id && pending.has(job.id)) fail(job.id, (job.data as CellJobData).label, job.failedReason);
      }
      if (pending.size === 0) break;
      if (performance.now() - lastSweep >= sweepMs) {
        await sweep(false);
        lastSweep = performance.now();
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    summary.interrupted = pending.size > 0;
    log.close();
    progress?.finish();
    await queue.close().catch(() => {});
  }
  summary.elapsedMs = performance.now() - t0;
  return summary;
}
