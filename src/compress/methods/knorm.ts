import { NO_STATS, type CompressionMethod } from '../compression-method.js';
import { rowNorms } from '../row-norms.js';
import { bottomIndices } from '../top-indices.js';

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
        head.retain(bottomIndices(rowNorms(head.keys, head.length, head.headDim), 0, head.length, b), reserveSlots);
      }
    });
  },
};
