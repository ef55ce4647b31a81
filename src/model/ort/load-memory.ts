/**
 * What loading a model into the fast path costs in memory, estimated from the tensor table alone (no weight is
 * read), so a model that cannot fit fails before anything large is allocated.
 *
 * Measured (onnxruntime-node 1.30, docs/benchmarks.md "Load memory and time"): through the model cache the process
 * peaks at 1.27× (TinyLlama Q4_0) to 1.40× (Llama-2-7B Q4_0) the weights the graph holds plus ~300 MiB of runtime:
 * onnxruntime maps the written weights and its prepacked MatMulNBits buffers are the one copy it keeps. In memory it
 * peaks at 3.4× (SmolLM2-135M Q8_0): our packed copy, onnxruntime's initializers and its prepacked buffers at once.
 */
import { freemem } from 'node:os';
import type { WeightSource } from '../../core/weight-source.js';
import { KvError } from '../../util/errors.js';
import type { ComputePrecision } from './linear-layers.js';
import { matMulNBitsLayout } from './matmul-nbits-packing.js';

/**
 * How the session gets its weights: 'cached' through the model cache (cached-session.ts: written once to a file that
 * onnxruntime maps and prepacks), 'memory' handed over in memory.
 */
export type LoadPath = 'cached' | 'memory';

/** Peak bytes per byte of weights the graph holds, while the session is created. */
export const LOAD_PEAK_FACTOR: Record<LoadPath, number> = { cached: 1.45, memory: 3.5 };
const RUNTIME_BYTES = 300 * 2 ** 20;

/** Bytes of weights the fast path holds for a model: packed quantised matrices, everything else as F32. */
export function fastPathWeightBytes(weights: WeightSource, tensorNames: readonly string[], precision: ComputePrecision): number {
  let total = 0;
  for (const name of tensorNames) {
    const shape = weights.shapeOf(name);
    const elements = shape.reduce((a, b) => a * b, 1);
    const l = shape.length === 2 && weights.readBytes ? matMulNBitsLayout(weights.typeOf(name)) : undefined;
    if (l && !(precision === 'fp32' && l.bits === 8)) total += (elements * l.bits) / 8 + (elements / l.group) * 4 * (l.offset ? 2 : 1);
    else total += elements * 4;
  }
  return total;
}

/** Throws a one-line KvError when loading would need more memory than the machine has available. */
export function checkLoadMemory(what: string, weightBytes: number, path: LoadPath, available = freemem()): void {
  if (process.env.KVMERGER_NO_MEMORY_CHECK === '1') return;
  const factor = LOAD_PEAK_FACTOR[path];
  const need = weightBytes * factor + RUNTIME_BYTES;
  if (need <= available) return;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const how = path === 'cached' ? 'while onnxruntime prepares them' : 'while onnxruntime prepares them in memory, without the model cache';
  throw new KvError(
    `${what} needs about ${gib(need)} of memory to load (${gib(weightBytes)} of weights as the fast path holds them, ×${factor} ${how}) but ${gib(available)} is available; use a smaller quantisation (e.g. Q4_0), free memory, or set KVMERGER_NO_MEMORY_CHECK=1 to try anyway`,
  );
}
