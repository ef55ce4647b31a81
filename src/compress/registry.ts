import { KvError } from '../util/errors.js';
import type { CompressionMethod } from './compression-method.js';
import { camMethod } from './methods/cam.js';
import { fullMethod } from './methods/full.js';
import { h2oMethod } from './methods/h2o.js';
import { knormMethod } from './methods/knorm.js';
import { kvmergerMethod } from './methods/kvmerger.js';
import { pyramidkvMethod } from './methods/pyramidkv.js';
import { randomMethod } from './methods/random.js';
import { snapkvMethod } from './methods/snapkv.js';
import { streamingMethod } from './methods/streaming.js';
import { tovaMethod } from './methods/tova.js';

/** Every method, by name, in the order `kvmerger methods` lists them. Add a new method here (one line). */
export const METHODS: ReadonlyMap<string, CompressionMethod> = new Map(
  [fullMethod, kvmergerMethod, h2oMethod, camMethod, streamingMethod, snapkvMethod, pyramidkvMethod, tovaMethod, knormMethod, randomMethod].map((m) => [m.name, m]),
);

export function methodNames(): string[] {
  return [...METHODS.keys()];
}

/** The method called `name`; throws KvError listing the methods otherwise. */
export function getMethod(name: string): CompressionMethod {
  const m = METHODS.get(name);
  if (!m) throw new KvError(`unknown method '${name}'; methods: ${methodNames().join(', ')}`);
  return m;
}
