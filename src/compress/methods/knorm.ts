import { NO_STATS, type CompressionMethod } from '../compression-method.js';
import { bottomIndices } from '../top-indices.js';

/** L2 norm of every key of a head: [slots]. */
export function keyNorms(keys: Float32Array, slots: number, headDim: number): Float64Array {
  const out = new Float64Array(slots);
  for (let j = 0; j < slots; j++) {
    let s = 0;
    for (let c = j * headDim; c < (j + 1) * headDim; c++) s += keys[c]! * keys[c]!;
    out[j] = Math.sqrt(s);
  }
  return out;
}

/** K-norm: keep the tokens whose keys have the smallest L2 norm (no attention statistics needed). */
export const knormMethod: CompressionMethod = {
  name: 'knorm',
  description: 'K-norm: keeps the tokens whose keys have the smallest L2 norm (needs no attention statistics)',
  options: [],
  statsRequest: () => NO_STATS,
  compress({ cache, layerBudgets, reserveSlots }) {
    cache.layers.forEach((layer, l) => {
      for (const head of layer.heads) {
        const b = layerBudgets[l]!;
        if (head.length <= b) continue;
        head.retain(bottomIndices(keyNorms(head.keys, head.length, head.headDim), 0, head.length, b), reserveSlots);
      }
    });
  },
};
