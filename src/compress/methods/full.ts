import { NO_STATS, type CompressionMethod } from '../compression-method.js';

/** No compression: the ceiling every method is measured against. */
export const fullMethod: CompressionMethod = {
  name: 'full',
  description: 'no compression: keeps every slot (the quality ceiling)',
  options: [],
  statsRequest: () => NO_STATS,
  compress: () => undefined,
};
