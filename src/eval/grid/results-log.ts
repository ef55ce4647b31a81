/**
 * The append-only `results.jsonl` of a grid run. Each finished cell is one JSON line written with a single
 * synchronous write and fsync, so an interrupted run (Ctrl-C, a crash) leaves whole lines only — except after a
 * hard kill in the middle of the write, which leaves a torn last line: opening the log cuts it off (that cell was
 * not finished and runs again). A write that fails (ENOSPC, EACCES, EIO) is cut back off before the error
 * (a KvError) goes up, so the last complete row stays the last row. The folder is locked while the log is open.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KvError } from '../../util/errors.js';
import { ioReason, lockOutDir, makeOutDir } from './out-dir.js';
import type { ResultRow } from './result-row.js';

/** The file operations append uses (tests put failing ones in their place). */
export interface ResultsLogIo {
  writeSync: (fd: number, buf: Uint8Array, offset: number, length: number, position: number) => number;
  fsyncSync: (fd: number) => void;
}

export interface ResultsLogOpen {
  /** cellKey of every complete row already in the file. */
  done: Set<string>;
  /** Complete rows found. */
  rows: number;
  /** Bytes of a torn last line that were cut off (0 when the file ended cleanly). */
  tornBytes: number;
  /** Lines that were not JSON objects (kept in the file, ignored). */
  badLines: number;
}

export class ResultsLog {
  readonly path: string;
  private fd: number;
  private closed = false;
  readonly opened: ResultsLogOpen;
  private readonly unlock: () => void;
  private readonly io: ResultsLogIo;

  private constructor(path: string, fd: number, opened: ResultsLogOpen, unlock: () => void, io: ResultsLogIo) {
    this.path = path;
    this.fd = fd;
    this.opened = opened;
    this.unlock = unlock;
    this.io = io;
  }

  /**
   * Open (creating the folder and file if needed) `dir/results.jsonl`, reading the keys of finished cells. Takes
   * the folder's lock (a KvError when another run holds it) until `close`.
   */
  static open(dir: string, io: Partial<ResultsLogIo> = {}): ResultsLog {
    makeOutDir(dir);
    const unlock = lockOutDir(dir);
    try {
      return ResultsLog.openLocked(dir, unlock, { writeSync, fsyncSync, ...io });
    } catch (err) {
      unlock();
      throw err;
    }
  }

  private static openLocked(dir: string, unlock: () => void, io: ResultsLogIo): ResultsLog {
    const path = join(dir, 'results.jsonl');
    const opened: ResultsLogOpen = { done: new Set(), rows: 0, tornBytes: 0, badLines: 0 };
    let text = '';
    let exists = false;
    try {
      const st = statSync(path);
      if (!st.isFile()) throw new KvError(`--out ${dir}: ${path} is not a regular file; move it away or pass another folder`);
      exists = true;
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if (err instanceof KvError) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KvError(`--out ${dir}: cannot read ${path} (${ioReason(err)})`);
    }
    // Everything after the last newline is a line whose write did not finish.
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) opened.tornBytes = Buffer.byteLength(text.slice(end));
    for (const line of text.slice(0, end).split('\n')) {
      if (line.trim() === '') continue;
      try {
        const row = JSON.parse(line) as Partial<Record<keyof ResultRow, unknown>> | null;
        if (row && typeof row === 'object' && typeof row.cellKey === 'string') {
          opened.done.add(row.cellKey);
          opened.rows++;
        } else opened.badLines++;
      } catch {
        opened.badLines++;
      }
    }
    let fd: number;
    try {
      fd = openSync(path, exists ? 'r+' : 'w+');
    } catch (err) {
      throw new KvError(`--out ${dir}: cannot open ${path} for writing (${ioReason(err)}); choose a writable folder`);
    }
    try {
      if (opened.tornBytes > 0) {
        ftruncateSync(fd, Buffer.byteLength(text.slice(0, end)));
        fsyncSync(fd);
      }
    } catch (err) {
      closeSync(fd);
      throw new KvError(`--out ${dir}: cannot repair the unfinished last line of ${path} (${ioReason(err)})`);
    }
    return new ResultsLog(path, fd, opened, unlock, io);
  }

  /** Append one row as a whole line. */
  append(row: ResultRow): void {
    if (this.closed) throw new Error('ResultsLog: append after close');
    const buf = Buffer.from(JSON.stringify(row) + '\n', 'utf8');
    const at = fstatSync(this.fd).size;
    let off = 0;
    try {
      while (off < buf.length) off += this.io.writeSync(this.fd, buf, off, buf.length - off, at + off);
      this.io.fsyncSync(this.fd);
    } catch (err) {
      // Cut the partial line off, so the file ends with the last complete row (a reopen would cut it too).
      let kept = true;
      try {
        ftruncateSync(this.fd, at);
        fsyncSync(this.fd);
      } catch {
        kept = false;
      }
      throw new KvError(
        `cannot write ${this.path} (${ioReason(err)}); the run stopped${kept ? ' and the rows written so far are kept' : ''}; ` +
          'fix the cause (free space, permissions, the disk) and run the same command again to resume',
      );
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } finally {
      this.unlock();
    }
  }
}
