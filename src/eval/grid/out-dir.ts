/**
 * The `--out` folder of a grid run: made safely (a path that names a file, or a folder that cannot exist such as
 * /proc/x, is one line, never a retry loop), and held by one run at a time through `DIR/.lock` (the owner's pid,
 * host and start time). A second run on the folder refuses with one line naming the owner; a lock whose owner is
 * a dead process on this host is stale and taken over. The lock is released when the run ends or the process exits.
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { KvError } from '../../util/errors.js';
import { processAlive } from '../../util/process-alive.js';

/** A short reason for a failed file operation: its code and text (`ENOSPC: no space left on device`). */
export function ioReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = (e?.message ?? String(err)).replace(/,\s+\w+(\s+'.*)?$/s, '');
  return e?.code && !text.startsWith(e.code) ? `${e.code}: ${text}` : text;
}

/** Makes `dir` and its parents, one mkdir at a time (node's recursive mkdir loops forever on /proc/x). */
export function makeOutDir(dir: string, flag = '--out'): void {
  const fail = (why: string): never => {
    throw new KvError(`${flag} ${dir}: ${why}`);
  };
  const make = (d: string, depth: number): void => {
    try {
      if (statSync(d).isDirectory()) return;
      fail(d === dir ? 'is a file, not a folder; pass a folder (the results are written inside it)' : `${d} is a file, so the folder cannot be made there`);
    } catch (err) {
      if (err instanceof KvError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') fail(`cannot use it (${ioReason(err)})`);
    }
    const parent = dirname(d);
    if (parent !== d && depth < 256) make(parent, depth + 1);
    try {
      mkdirSync(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(d).isDirectory()) return;
      fail(`cannot create the folder (${ioReason(err)}); choose a writable path`);
    }
  };
  make(resolve(dir), 0);
}

interface LockInfo {
  pid: number;
  host: string;
  started: string;
  command?: string;
}

const held = new Map<string, { count: number; path: string }>();
let exitHook = false;

function readLock(path: string): LockInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? (v as LockInfo) : undefined;
  } catch {
    return undefined;
  }
}


function removeIfOurs(path: string): void {
  const info = readLock(path);
  if (info && info.pid === process.pid && info.host === hostname()) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}

/**
 * Takes the lock of the folder `dir` (which must exist) for this process; reentrant (a process that holds it may
 * take it again). Returns the function that gives it back.
 */
export function lockOutDir(dir: string, flag = '--out'): () => void {
  const key = resolve(dir);
  const mine = held.get(key);
  if (mine) {
    mine.count++;
    return once(() => release(key));
  }
  const path = join(key, '.lock');
  const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command: process.argv.slice(2, 4).join(' ') };
  // Written whole to a private file, then linked into place: link fails if a lock exists, and a reader never sees
  // a half-written lock.
  const tmp = join(key, `.lock.${process.pid}.${Date.now()}`);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeSync(fd, JSON.stringify(info) + '\n');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new KvError(`${flag} ${dir}: cannot write its lock file (${ioReason(err)}); choose a writable folder`);
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new KvError(`${flag} ${dir}: cannot take its lock (${ioReason(err)}); choose a writable folder`);
        }
      }
      const owner = readLock(path);
      const stale = owner !== undefined && owner.host === info.host && !processAlive(owner.pid);
      if (!stale || attempt >= 3) {
        const who = owner
          ? `pid ${owner.pid} on ${owner.host === info.host ? 'this host' : `host ${owner.host}`}, since ${owner.started}`
          : 'an unreadable lock';
        throw new KvError(
          `${flag} ${dir} is in use by another run (${who}); wait for it to finish or pass another folder` +
            (owner && owner.host !== info.host ? `; if that run is gone, delete ${path}` : owner ? '' : `; if no run uses the folder, delete ${path}`),
        );
      }
      // Stale: move it aside, and put it back if a racing run replaced it meanwhile.
      const aside = `${path}.stale.${process.pid}`;
      try {
        renameSync(path, aside);
      } catch {
        continue;
      }
      const moved = readLock(aside);
      if (moved && moved.pid !== owner.pid) {
        try {
          linkSync(aside, path);
        } catch {
          // another run holds the folder now; the next attempt reports it
        }
      }
      try {
        unlinkSync(aside);
      } catch {
        // gone
      }
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // gone
    }
  }
  held.set(key, { count: 1, path });
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const h of held.values()) removeIfOurs(h.path);
      held.clear();
    });
  }
  return once(() => release(key));
}

function release(key: string): void {
  const h = held.get(key);
  if (!h) return;
  if (--h.count > 0) return;
  held.delete(key);
  removeIfOurs(h.path);
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}
