import { NO_STATS, defineMethod } from '../compression-method.js';
import { NO_OPTIONS } from '../method-options.js';

/** No compression: the ceiling every method is measured against. */
export const fullMethod = defineMethod({
  name: 'full',
  description: 'no compression: keeps every slot (the quality ceiling)',
  schema: NO_OPTIONS,
  statsRequest: () => NO_STATS,
  compress: () => undefined,
});
