/**
 * `DIR/run.json`: how a grid run was made — the command, the model, the version, the date and the machine — so a
 * result folder says how to regenerate it. A resumed run rewrites it and keeps the earlier invocations' dates and
 * commands under `previous`.
 */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { KvError } from '../../util/errors.js';
import { version } from '../../version.js';
import { ioReason, makeOutDir } from './out-dir.js';

export interface RunInfo {
  command: string[];
  model: string;
  modelPath: string;
  tokenizerPath?: string;
  /** A Hugging Face folder's --quantize type. */
  quantize?: string;
  backend: string;
  /** The grid as run: tasks with their settings, methods, budgets, seed, options. */
  grid: Record<string, unknown>;
}

export function machineInfo(): Record<string, unknown> {
  const c = cpus();
  return {
    hostname: hostname(),
    platform: process.platform,
    arch: process.arch,
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryBytes: totalmem(),
    node: process.version,
  };
}

export function writeRunInfo(dir: string, info: RunInfo): string {
  makeOutDir(dir);
  const path = join(dir, 'run.json');
  let previous: unknown[] = [];
  if (existsSync(path)) {
    try {
      const old = JSON.parse(readFileSync(path, 'utf8')) as { date?: string; command?: string[]; previous?: unknown[] };
      previous = [...(Array.isArray(old.previous) ? old.previous : []), { date: old.date, command: old.command }].slice(-20);
    } catch {
      // An unreadable run.json is replaced.
    }
  }
  const body = { ...info, version, date: new Date().toISOString(), machine: machineInfo(), ...(previous.length ? { previous } : {}) };
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(body, null, 2) + '\n');
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // not there
    }
    throw new KvError(`--out ${dir}: cannot write ${path} (${ioReason(err)}); choose a writable folder with free space`);
  }
  return path;
}
