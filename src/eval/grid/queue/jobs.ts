/**
 * What travels through the grid queue (BullMQ on Redis): one job per cell, its job id the cell key, so adding a
 * grid twice adds nothing twice. A job carries what a worker needs to rebuild its cell: the grid as the eval command
 * was given it (task names and settings, methods, budgets, seed, options: plain JSON, no objects), the model's name,
 * path and size, and the version. The worker plans the same grid with the same model (deterministic: seeded
 * samples), finds the cell by its key, and returns the row a local run would write.
 *
 * This module imports nothing from bullmq: the eval command loads the queue modules only with --queue.
 */
import { KvError } from '../../../util/errors.js';
import type { LoadQuantType } from '../../../formats/hf-folder.js';
import type { ResultRow } from '../result-row.js';
import type { GridSpec, GridTaskPlan } from '../run-grid.js';

/** The queue's default name (`--queue-name`). */
export const DEFAULT_QUEUE_NAME = 'kvmerger-eval';

/** The grid as the command line gave it: GridSpec with each task by name instead of its Task object. */
export type GridSpecJson = Omit<GridSpec, 'tasks'> & { tasks: (Omit<GridTaskPlan, 'task'> & { name: string })[] };

/** The model a cell runs on, as the coordinator loaded it. */
export interface JobModel {
  /** Base name of the file (the rows' `model`, part of the cell key). */
  name: string;
  /** The coordinator's path: used by a worker that has no --model of this name and finds the same file there. */
  path: string;
  /** File size in bytes: a worker's file of the same name must have it too. */
  bytes: number;
  tokenizerPath?: string;
  backend: 'ort' | 'reference';
  precision: 'int8' | 'fp32';
  kvType: 'f16' | 'f32';
  /** A Hugging Face folder quantised at load (--quantize): workers load it so too; rows name the model `name@TYPE`. */
  quantize?: LoadQuantType;
}

export interface CellJobData {
  /** Format of this object. */
  format: 1;
  cellKey: string;
  /** `task sample method b=…`, for progress lines. */
  label: string;
  version: string;
  model: JobModel;
  grid: GridSpecJson;
  outputChars?: number;
}

/** What a worker returns: the row (as a local run writes it) and who ran it. */
export interface CellJobResult {
  row: ResultRow;
  worker: string;
}

/** Checks a `--queue` value: redis://[user:password@]host:port[/db] (or rediss:// for TLS). */
export function parseQueueUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new KvError(`--queue '${url}' is not a URL; give redis://HOST:PORT (e.g. redis://127.0.0.1:6379)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new KvError(`--queue '${url}': the scheme must be redis:// (or rediss:// for TLS); e.g. redis://127.0.0.1:6379`);
  if (u.hostname === '') throw new KvError(`--queue '${url}' names no host; e.g. redis://127.0.0.1:6379`);
  return url;
}

/** BullMQ connection options: workers must not give up on commands while Redis restarts. */
export function connectionOptions(url: string): { url: string; maxRetriesPerRequest: null; retryStrategy: (times: number) => number } {
  return { url, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(200 * times, 2000) };
}

/** Waits until `ready` settles, or fails with a line naming the URL after `ms`. */
export async function reachRedis<T>(ready: Promise<T>, url: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new KvError(`--queue ${url}: no Redis answered within ${ms / 1000} s; start redis-server there or fix the address`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `task sample method b=0.5` (full: `full`), as the local runner's progress lines. */
export function cellLabel(task: string, sample: string, method: string, budget: number): string {
  return `${task} ${sample} ${method} ${method === 'full' ? 'full' : `b=${budget}`}`;
}
