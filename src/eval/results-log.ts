/**
 * The append-only `results.jsonl` of a grid run. Each finished cell is one JSON line written with a single
 * synchronous write and fsync, so an interrupted run (Ctrl-C, a crash) leaves whole lines only — except after a
 * hard kill in the middle of the write, which leaves a torn last line: opening the log cuts it off (that cell was
 * not finished and runs again).
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KvError } from '../util/errors.js';

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

  private constructor(path: string, fd: number, opened: ResultsLogOpen) {
    this.path = path;
    this.fd = fd;
    this.opened = opened;
  }

  /** Open (creating the folder and file if needed) `dir/results.jsonl`, reading the keys of finished cells. */
  static open(dir: string): ResultsLog {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new KvError(`--out ${dir}: cannot create the folder (${(err as Error).message}); choose a writable path`);
    }
    const path = join(dir, 'results.jsonl');
    const opened: ResultsLogOpen = { done: new Set(), rows: 0, tornBytes: 0, badLines: 0 };
    let text = '';
    if (existsSync(path)) text = readFileSync(path, 'utf8');
    // Everything after the last newline is a line whose write did not finish.
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) opened.tornBytes = Buffer.byteLength(text.slice(end));
    for (const line of text.slice(0, end).split('\n')) {
      if (line.trim() === '') continue;
      try {
        const row = JSON.parse(line) as { cellKey?: unknown };
        if (row && typeof row === 'object' && typeof row.cellKey === 'string') {
          opened.done.add(row.cellKey);
          opened.rows++;
        } else opened.badLines++;
      } catch {
        opened.badLines++;
      }
    }
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    if (opened.tornBytes > 0) {
      ftruncateSync(fd, Buffer.byteLength(text.slice(0, end)));
      fsyncSync(fd);
    }
    return new ResultsLog(path, fd, opened);
  }

  /** Append one row as a whole line. */
  append(row: Record<string, unknown>): void {
    if (this.closed) throw new Error('ResultsLog: append after close');
    const buf = Buffer.from(JSON.stringify(row) + '\n', 'utf8');
    const at = fstatSync(this.fd).size;
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off, at + off);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
