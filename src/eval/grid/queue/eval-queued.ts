/** `kvmerger eval --queue`: the planned grid goes to the queue; this process collects the rows (coordinator.ts). */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { ModelArgs } from '../../../cli/model-args.js';
import { exitOnInterrupt } from '../../../cli/grid-args.js';
import { version } from '../../../version.js';
import { createProgress } from '../progress.js';
import type { GridPlan, GridSpec } from '../run-grid.js';
import { runGridOnQueue } from './coordinator.js';
import type { GridSpecJson, JobModel } from './jobs.js';

export interface QueuedEval {
  plan: GridPlan;
  spec: GridSpec;
  model: { path: string };
  modelPath: string;
  modelArgs: ModelArgs;
  out: string;
  url: string;
  queueName: string;
  quiet: boolean;
  json: boolean;
}

/** The grid as plain JSON, for the jobs (workers plan it again with their Task objects). */
export function gridSpecJson(spec: GridSpec): GridSpecJson {
  return {
    model: spec.model,
    backend: spec.backend,
    tasks: spec.tasks.map((t) => ({
      name: t.task.name,
      ...(t.count !== undefined ? { count: t.count } : {}),
      ...(t.lengths ? { lengths: t.lengths } : {}),
      ...(t.depths ? { depths: t.depths } : {}),
      ...(t.options ? { options: t.options } : {}),
    })),
    methods: spec.methods,
    budgets: spec.budgets,
    seed: spec.seed,
    methodOptions: spec.methodOptions ?? [],
    ...(spec.dataRoot !== undefined ? { dataRoot: spec.dataRoot } : {}),
    ...(spec.chunkSize !== undefined ? { chunkSize: spec.chunkSize } : {}),
    ...(spec.chatTemplate !== undefined ? { chatTemplate: spec.chatTemplate } : {}),
  };
}

export async function runQueued(q: QueuedEval): Promise<number> {
  const path = q.model.path || q.modelPath;
  const jobModel: JobModel = {
    name: basename(q.modelPath),
    path,
    bytes: statSync(path).size,
    ...(q.modelArgs.tokenizerPath !== undefined ? { tokenizerPath: q.modelArgs.tokenizerPath } : {}),
    backend: q.modelArgs.backend,
    precision: q.modelArgs.precision,
    kvType: q.modelArgs.kvType,
    ...(q.modelArgs.quantize !== undefined ? { quantize: q.modelArgs.quantize } : {}),
  };
  const release = exitOnInterrupt(q.out, 'kvmerger eval');
  let s;
  try {
    if (!q.quiet && !q.json) process.stderr.write(`eval: cells go to ${q.url} (queue ${q.queueName}); start workers with: kvmerger worker --queue ${q.url}${q.queueName !== 'kvmerger-eval' ? ` --queue-name ${q.queueName}` : ''}\n`);
    s = await runGridOnQueue(q.plan, {
      out: q.out,
      url: q.url,
      queueName: q.queueName,
      job: { format: 1, version, model: jobModel, grid: gridSpecJson(q.spec) },
      progress: createProgress({ quiet: q.quiet || q.json }),
    });
  } finally {
    release();
  }
  if (q.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
  else {
    const workers = Object.entries(s.workers).map(([w, n]) => `${w} ${n}`).join(', ');
    process.stdout.write(
      `eval: ${s.ran} cell(s) collected from the queue, ${s.skipped} already done, ${s.failed.length} failed, ${s.totalCells} in the grid; ${(s.elapsedMs / 1000).toFixed(1)} s\n` +
        (workers ? `  workers: ${workers}\n` : '') +
        (s.reenqueued > 0 ? `  ${s.reenqueued} cell(s) added again after they vanished from Redis\n` : '') +
        s.failed.map((f) => `  failed: ${f.label} (cell ${f.cellKey}): ${f.error}\n`).join('') +
        s.notes.map((n) => `  note: ${n}\n`).join('') +
        `  rows: ${s.resultsPath}\n  report: kvmerger report ${q.out}\n`,
    );
  }
  if (s.failed.length > 0) {
    process.stderr.write(`kvmerger: ${s.failed.length} cell(s) failed (listed above); fix the cause and run the same command again to retry them\n`);
    return 1;
  }
  return 0;
}
