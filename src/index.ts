// The library entry point: `import { ... } from 'kvmerger'`. Each layer exports its public API here.
export { KvError } from './util/errors.js';
export type { ModelConfig, Architecture, RopeStyle, RopeScaling } from './model/model-config.js';
export { KVCache } from './cache/kv-cache.js';
export { LayerCache } from './cache/layer-cache.js';
export { HeadCache } from './cache/head-cache.js';
export type { AttentionStats, StatsRequest } from './cache/attention-stats.js';
// Engine: forward passes, sampling, generation sessions.
export type { ForwardBackend, ForwardOptions, ForwardResult } from './model/backend.js';
export type { WeightSource } from './model/weights.js';
export { ReferenceBackend } from './model/reference-backend.js';
export { createOrtBackend, type OrtBackendOptions } from './model/ort-backend.js';
export { ropeInverseFrequencies, applyRope } from './model/rope.js';
export { Sampler, argmax, type SamplerOptions, type Candidates } from './generate/sampler.js';
export {
  generate,
  truncatePrompt,
  type GenerateOptions,
  type GenerateResult,
  type SessionModel,
  type PrefillCompression,
  type StopReason,
  type TruncateMode,
} from './generate/session.js';
export { applyChatTemplate, type ChatMessage, type ChatTemplateOptions } from './generate/chat-template.js';
export { Rng } from './util/rng.js';
