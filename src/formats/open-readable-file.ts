import { closeSync, fstatSync, openSync } from 'node:fs';
import { KvError } from '../util/errors.js';

/**
 * Opens a model file for reading: its descriptor and size, or a KvError naming the file when it is missing, a
 * directory or cannot be opened. The caller must `closeSync(fd)`.
 */
export function openReadableFile(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw new KvError(`${path}: no such file; check the path`);
    if (code === 'EISDIR') throw new KvError(`${path}: is a directory, not a model file`);
    throw new KvError(`${path}: cannot open (${(err as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new KvError(`${path}: is a directory, not a model file`);
    return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
