/**
 * The onnxruntime session of a model graph, through the folder of compiled models (onnx-cache.ts) when the weights
 * come from a file:
 * - the first load writes the graph and its weights (tensor by tensor, each at a 4 KiB-aligned offset, so
 *   JavaScript never holds them all) into an entry of the cache; every load then opens the entry by path, and
 *   onnxruntime maps the weights instead of copying them: its prepacked MatMulNBits buffers are the only copy held,
 *   and later loads skip reading and packing the model file;
 * - without a file, with the cache turned off, or when the folder cannot be written (no space, no permission), the
 *   weights are handed over in memory (three copies at once while onnxruntime prepacks).
 * onnxruntime can also save its optimised graph with the prepacked weights (session.save_external_prepacked_
 * constant_initializers) for later loads to map; with onnxruntime-node 1.30 such a model gave other logits than the
 * one it was saved from (a random 2-layer Q4_0 model, up to 5.3 apart), so it is not used. Measured in
 * docs/benchmarks.md ("Load memory and time").
 */
import { rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { GraphBuilder } from './graph-builder.js';
import { ENTRY_MODEL, ENTRY_WEIGHTS, findEntry, onnxCacheKey, publishEntry, removeEntry, startEntry } from './onnx-cache.js';

export interface SessionCache {
  /** The cache folder (onnxCacheRoot()), or undefined to build in memory. */
  root: string | undefined;
  /** modelFileIdentity() of the weights, or undefined when they do not come from a file. */
  identity: string | undefined;
  /** The graph's build options in words, part of the key. */
  options: string;
}

/** Where the session's weights came from: a cached entry, an entry written by this load, or memory. */
export type SessionOrigin = 'cache' | 'built' | 'memory';

/** Free disk the first load wants, per byte of weights (the entry is the weights, aligned, and the graph). */
const BUILD_DISK_FACTOR = 1.1;

/**
 * A session over `graph`. `inMemory` is called before the in-memory path (to check memory first); `note` gets one
 * line when the cache could not be used or written.
 */
export async function createModelSession(
  graph: GraphBuilder,
  options: ort.InferenceSession.SessionOptions,
  cache: SessionCache,
  hooks: { inMemory: () => void; note: (line: string) => void },
): Promise<{ session: ort.InferenceSession; origin: SessionOrigin }> {
  const { root, identity } = cache;
  if (root !== undefined && identity !== undefined) {
    const key = onnxCacheKey({ identity, graph: graph.graphBytes(), options: cache.options, runtime: ort.env.versions.node ?? 'unknown' });
    const found = findEntry(root, key);
    if (found) {
      try {
        return { session: await ort.InferenceSession.create(found, options), origin: 'cache' };
      } catch (e) {
        hooks.note(`the cached model in ${join(root, key)} did not load (${firstLine(e)}); writing it again`);
        removeEntry(root, key);
      }
    }
    const written = writeEntry(graph, root, key, identity, cache.options, hooks.note);
    if (written) {
      try {
        return { session: await ort.InferenceSession.create(written, options), origin: 'built' };
      } catch (e) {
        removeEntry(root, key); // a graph onnxruntime refuses: keep nothing of it
        throw e;
      }
    }
  }
  hooks.inMemory();
  const m = graph.build();
  return { session: await ort.InferenceSession.create(m.bytes, { ...options, externalData: m.externalData }), origin: 'memory' };
}

/** Writes and publishes the entry; its model path, or undefined (after one note) when the folder cannot take it. */
function writeEntry(graph: GraphBuilder, root: string, key: string, identity: string, graphOptions: string, note: (line: string) => void): string | undefined {
  let dir: string | undefined;
  try {
    dir = startEntry(root, key);
    const s = statfsSync(dir);
    const need = graph.weightByteCount() * BUILD_DISK_FACTOR;
    if (s.bavail * s.bsize < need) throw new Error(`${gib(s.bavail * s.bsize)} free, the model needs about ${gib(need)}`);
    graph.writeFiles(dir, ENTRY_MODEL, ENTRY_WEIGHTS);
    return publishEntry(root, key, dir, identity.split('#')[0]!, graphOptions);
  } catch (e) {
    note(`the model cache ${root} cannot be used (${firstLine(e)}); loading the model in memory instead (set KVMERGER_ONNX_CACHE to another folder, or to off)`);
    if (dir) rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

function firstLine(e: unknown): string {
  return String((e as Error).message ?? e).split('\n')[0]!;
}

function gib(b: number): string {
  return `${(b / 2 ** 30).toFixed(1)} GiB`;
}
