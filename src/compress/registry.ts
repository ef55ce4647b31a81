import { KvError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';
import type { CompressionMethod } from './compression-method.js';
import type { ResolvedOptions } from './method-options.js';
import { camMethod, type CaMOptions } from './methods/cam.js';
import { fullMethod } from './methods/full.js';
import { h2oMethod, type H2OOptions } from './methods/h2o.js';
import { knormMethod } from './methods/knorm.js';
import { kvmergerMethod, kvmergerPropMethod, type KVMergerOptions } from './methods/kvmerger/index.js';
import { pyramidkvMethod, type PyramidKVOptions } from './methods/pyramidkv.js';
import { randomMethod } from './methods/random.js';
import { snapkvMethod, type SnapKVOptions } from './methods/snapkv.js';
import { streamingMethod, type StreamingOptions } from './methods/streaming.js';
import { tovaMethod, type TOVAOptions } from './methods/tova.js';

/** Every method, in the order `kvmerger methods` lists them. Add a new method here (one line, and one in MethodOptions). */
const ALL: readonly CompressionMethod[] = [fullMethod, kvmergerMethod, kvmergerPropMethod, h2oMethod, camMethod, streamingMethod, snapkvMethod, pyramidkvMethod, tovaMethod, knormMethod, randomMethod];

/**
 * Every method by name. The map erases each method's option type: the shared code hands a method only the options
 * its own schema parsed (`schema.parse`), which is what makes them typed.
 */
const REGISTRY = new Map<string, CompressionMethod>(ALL.map((m) => [m.name, m]));
export const METHODS: ReadonlyMap<string, CompressionMethod> = REGISTRY;

/**
 * Add a method written with `defineMethod` (a library user's own; docs/library.md): from then on every name-based
 * entry (generate's compression, the pipeline, the grid, the server) can use it. KvError when the name is taken.
 */
export function registerMethod<O extends ResolvedOptions>(method: CompressionMethod<O>): void {
  if (!/^[a-z][a-z0-9-]*$/.test(method.name)) throw new KvError(`registerMethod: method names are lower-case words with dashes (got '${method.name}')`);
  if (REGISTRY.has(method.name)) throw new KvError(`registerMethod: a method called '${method.name}' exists already`);
  REGISTRY.set(method.name, method as unknown as CompressionMethod);
}

/** The parsed options of every method, by name: the type a library user gives `prepareCompression({ method, options })`. */
export interface MethodOptions {
  full: Record<never, never>;
  kvmerger: KVMergerOptions;
  'kvmerger-prop': KVMergerOptions;
  h2o: H2OOptions;
  cam: CaMOptions;
  streaming: StreamingOptions;
  snapkv: SnapKVOptions;
  pyramidkv: PyramidKVOptions;
  tova: TOVAOptions;
  knorm: Record<never, never>;
  random: Record<never, never>;
}

export function methodNames(): string[] {
  return [...METHODS.keys()];
}

/** The method called `name`; throws KvError listing the methods otherwise. */
export function getMethod(name: string): CompressionMethod {
  const m = METHODS.get(name);
  if (!m) throw new KvError(`unknown method '${name}'${didYouMean(name, methodNames())}; methods: ${methodNames().join(', ')}`);
  return m;
}
