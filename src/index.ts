// The library entry point: `import { ... } from 'kvmerger'`. Each layer exports its public API here.
export { KvError } from './util/errors.js';
export type { ModelConfig, Architecture, RopeStyle, RopeScaling } from './model/model-config.js';
export { KVCache } from './cache/kv-cache.js';
export { LayerCache } from './cache/layer-cache.js';
export { HeadCache } from './cache/head-cache.js';
export type { AttentionStats, StatsRequest } from './cache/attention-stats.js';
