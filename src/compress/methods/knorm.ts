import { NO_STATS, defineMethod } from '../compression-method.js';
import { compressByScore } from '../keep-by-score.js';
import { NO_OPTIONS } from '../method-options.js';
import { rowNorms } from '../row-norms.js';

/** K-norm: keep the tokens whose keys have the smallest L2 norm (no attention statistics needed). */
export const knormMethod = defineMethod({
  name: 'knorm',
  description: 'K-norm: keeps the tokens whose keys have the smallest L2 norm (needs no attention statistics)',
  schema: NO_OPTIONS,
  statsRequest: () => NO_STATS,
  compress: (input) => compressByScore(input, { keep: 'lowest', scores: (layer) => layer.heads.map((h) => rowNorms(h.keys, h.length, h.headDim)) }),
});
