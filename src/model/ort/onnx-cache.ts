/**
 * The folder of compiled models: the ONNX graph kvmerger builds from a model file, with its weights as the graph
 * holds them (packed for MatMulNBits, the rest as F32) in one file at 4 KiB-aligned offsets, so onnxruntime maps them
 * (see cached-session.ts). One entry per key, a folder holding `model.onnx`, `model.bin` and `entry.json`, which
 * records what the entry was built from and the size and hash of both files: an entry that does not match its record
 * is removed and written again, never used.
 *
 * The key covers the model file (real path, size, modification time, inode and a hash of its first and last MiB),
 * the graph kvmerger builds from it (a hash of the serialised graph without its weights, which changes with any
 * change to the graph code or options), kvmerger's and onnxruntime's versions and the CPU.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { version as kvmergerVersion } from '../../version.js';
import { processAlive } from '../../util/process-alive.js';

/** Changes whenever the layout of an entry changes, so older entries are never read. */
const ENTRY_FORMAT = 1;
export const ENTRY_MODEL = 'model.onnx';
export const ENTRY_WEIGHTS = 'model.bin';
const ENTRY_RECORD = 'entry.json';

/**
 * The cache folder: $KVMERGER_ONNX_CACHE, else $XDG_CACHE_HOME/kvmerger/onnx (~/.cache/kvmerger/onnx); undefined
 * when KVMERGER_ONNX_CACHE is `off` (or `0`), which builds every model in memory.
 */
export function onnxCacheRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = env.KVMERGER_ONNX_CACHE;
  if (set === 'off' || set === '0') return undefined;
  if (set) return set;
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kvmerger', 'onnx');
}

/**
 * What identifies the weights of a model file or folder: for each file, its real path, size, modification time,
 * inode and a hash of its first and last MiB. `extra` adds what else decides the weights (a folder's --quantize).
 */
export function modelFileIdentity(path: string, extra = ''): string {
  const real = realpathSync(path);
  const files = statSync(real).isDirectory() ? readdirSync(real).sort().map((f) => join(real, f)).filter((f) => statSync(f).isFile()) : [real];
  const h = createHash('sha256').update(extra);
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      const s = fstatSync(fd);
      h.update(`\0${f}\0${s.size}\0${s.mtimeMs}\0${s.ino}\0`);
      h.update(readAt(fd, 0, Math.min(s.size, 2 ** 20)));
      if (s.size > 2 ** 20) h.update(readAt(fd, Math.max(2 ** 20, s.size - 2 ** 20), Math.min(2 ** 20, s.size - 2 ** 20)));
    } finally {
      closeSync(fd);
    }
  }
  return `${real}#${h.digest('hex').slice(0, 32)}`;
}

export interface CacheKeyParts {
  /** `modelFileIdentity` of the weights. */
  identity: string;
  /** The serialised graph without its weights (GraphBuilder.graphBytes). */
  graph: Uint8Array;
  /** The graph's build options in words (precision, KV type, log-mass inputs). */
  options: string;
  /** onnxruntime's version. */
  runtime: string;
}

/** The entry's folder name: a hash of everything the compiled model depends on. */
export function onnxCacheKey(p: CacheKeyParts): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  const flags = /^flags\s*:(.*)$/m.exec(safeRead('/proc/cpuinfo'))?.[1]?.trim() ?? '';
  const graph = createHash('sha256').update(p.graph).digest('hex');
  const parts = [`format ${ENTRY_FORMAT}`, p.identity, graph, p.options, `kvmerger ${kvmergerVersion}`, `onnxruntime ${p.runtime}`, process.arch, cpu, flags];
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
}

/** What entry.json records. */
interface EntryRecord {
  format: number;
  key: string;
  /** The model file the entry was built from, and the graph options: a newer entry for both replaces this one. */
  source: string;
  options: string;
  files: Record<string, { bytes: number; hash: string }>;
  created: string;
}

/**
 * The model path of the valid entry for `key`, or undefined when there is none. An entry whose files do not match
 * its record (missing, truncated, overwritten) is removed.
 */
export function findEntry(root: string, key: string): string | undefined {
  const dir = join(root, key);
  if (!existsSync(dir)) return undefined;
  if (entryMatches(dir, key)) return join(dir, ENTRY_MODEL);
  removeEntry(root, key);
  return undefined;
}

function entryMatches(dir: string, key: string): boolean {
  let rec: EntryRecord;
  try {
    rec = JSON.parse(readFileSync(join(dir, ENTRY_RECORD), 'utf8')) as EntryRecord;
  } catch {
    return false;
  }
  if (rec.format !== ENTRY_FORMAT || rec.key !== key || typeof rec.files !== 'object') return false;
  for (const name of [ENTRY_MODEL, ENTRY_WEIGHTS]) {
    const want = rec.files[name];
    const path = join(dir, name);
    if (!want || !existsSync(path) || statSync(path).size !== want.bytes || fileHash(path) !== want.hash) return false;
  }
  return true;
}

/** Removes an entry (a broken one, or one that failed to load). */
export function removeEntry(root: string, key: string): void {
  rmSync(join(root, key), { recursive: true, force: true });
}

/**
 * A folder to build an entry in, beside the entries, named so that no other process uses it. Builders that died
 * leave theirs behind: those of processes no longer running are removed first.
 */
export function startEntry(root: string, key: string): string {
  mkdirSync(root, { recursive: true });
  for (const name of readdirSync(root)) {
    const m = /^[0-9a-f]{32}\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (m && !processAlive(Number(m[1]))) rmSync(join(root, name), { recursive: true, force: true });
  }
  const dir = join(root, `${key}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  return dir;
}

/**
 * Records the entry built in `dir` (which holds ENTRY_MODEL and ENTRY_WEIGHTS) and renames it into place, so a
 * reader sees a whole entry or none; returns the entry's model path. Older entries of the same source and options,
 * and entries whose model file no longer exists, are removed. When another process published the same key first, its entry stays and `dir` is removed.
 */
export function publishEntry(root: string, key: string, dir: string, source: string, options: string): string {
  const files: EntryRecord['files'] = {};
  for (const name of [ENTRY_MODEL, ENTRY_WEIGHTS]) files[name] = { bytes: statSync(join(dir, name)).size, hash: fileHash(join(dir, name)) };
  const rec: EntryRecord = { format: ENTRY_FORMAT, key, source, options, files, created: new Date().toISOString() };
  writeFileSync(join(dir, ENTRY_RECORD), JSON.stringify(rec, null, 2) + '\n');
  for (const name of readdirSync(root)) {
    if (name === key || !/^[0-9a-f]{32}$/.test(name)) continue;
    const old = safeRead(join(root, name, ENTRY_RECORD));
    try {
      const r = JSON.parse(old) as EntryRecord;
      // replaced (the same model and options, built anew), or its model file is gone
      if ((r.source === source && r.options === options) || !existsSync(r.source)) removeEntry(root, name);
    } catch {
      // not an entry of ours, or one being removed by another process
    }
  }
  try {
    renameSync(dir, join(root, key));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    if (!existsSync(join(root, key))) throw e;
  }
  return join(root, key, ENTRY_MODEL);
}

/**
 * A hash that tells a file apart from a damaged copy without reading all of it: its size and 16 pieces of 64 KiB
 * spread over it (the whole of a file up to 1 MiB). Truncation, a rewrite or a damaged header shows; a flipped byte
 * between the pieces does not.
 */
function fileHash(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const h = createHash('sha256').update(String(size));
    const piece = 64 * 1024;
    if (size <= 16 * piece) h.update(readAt(fd, 0, size));
    else for (let i = 0; i < 16; i++) h.update(readAt(fd, Math.floor(((size - piece) * i) / 15), piece));
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

function readAt(fd: number, at: number, bytes: number): Uint8Array {
  const buf = new Uint8Array(bytes);
  let got = 0;
  while (got < bytes) {
    const r = readSync(fd, buf, got, bytes - got, at + got);
    if (r === 0) break;
    got += r;
  }
  return buf.subarray(0, got);
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

