import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { NO_STATS, defineMethod, type MethodInput } from '../../src/compress/compression-method.js';
import { evictionPolicy } from '../../src/compress/eviction-policy.js';
import { compressByScore, keepByScore } from '../../src/compress/keep-by-score.js';
import { defineOptions, option, type OptionsOf } from '../../src/compress/method-options.js';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { resolveBudget } from '../../src/compress/budget.js';
import { methodNames } from '../../src/compress/registry.js';
import { KvError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { randomCache } from './fixture.js';

test('keepByScore: sinks, the best scores between, the recent window; ties keep the later slot', () => {
  const s = [9, 1, 5, 5, 0, 7, 2, 3];
  assert.deepEqual(keepByScore(s, 8, 3), [0, 3, 5], 'slots 2 and 3 tie at 5: the later is kept');
  assert.deepEqual(keepByScore(s, 8, 4, 1, 2), [0, 5, 6, 7]);
  assert.deepEqual(keepByScore(s, 8, 4, 0, 0, 'lowest'), [1, 4, 6, 7]);
  assert.deepEqual(keepByScore(s, 8, 3, 5, 5), [0, 1, 2], 'sinks are capped at the budget, recent at what is left');
  assert.deepEqual(keepByScore(s, 3, 4, 1, 1), [0, 1, 2], 'a head within budget keeps everything');
});

/** The example of docs/methods.md: the most recent tokens plus the slots whose values have the largest norm. */
const VNORM = { recent: option.integer({ min: 0, default: 8, description: 'most recent tokens always kept' }) } as const;
const vnormMethod = defineMethod<OptionsOf<typeof VNORM>>({
  name: 'vnorm',
  description: 'keeps the most recent tokens plus the slots whose values have the largest L2 norm',
  schema: defineOptions(VNORM),
  statsRequest: () => NO_STATS,
  compress: (input) =>
    compressByScore(input, {
      recent: () => input.options.recent,
      scores: (layer) => layer.heads.map((head) => Array.from({ length: head.length }, (_, j) => Math.hypot(...head.value(j)))),
    }),
});

test('a new score-based method is its options and its score: the shared loop budgets and compacts every head', () => {
  const cache = randomCache(2, 2, 4, 20, 3);
  const norms = cache.layers.map((l) => l.heads.map((h) => Array.from({ length: h.length }, (_, j) => Math.hypot(...h.value(j)))));
  const options = vnormMethod.schema.parse('vnorm', ['recent=3']);
  assert.deepEqual(vnormMethod.options.map((o) => o.name), ['recent']);
  const input: MethodInput<typeof options> = { cache, options, budget: resolveBudget({ ratio: 0.5 }, 20, 2, 2), layerBudgets: [10, 6], stats: {}, promptLength: 20, rng: new Rng(1), reserveSlots: 2 };
  vnormMethod.compress(input);
  cache.layers.forEach((layer, l) =>
    layer.heads.forEach((head, h) => {
      const b = [10, 6][l]!;
      assert.equal(head.length, b);
      assert.equal(head.capacity, b + 2);
      assert.deepEqual(Array.from(head.positions.subarray(0, b)), keepByScore(norms[l]![h]!, 20, b, 0, 3));
    }),
  );
});

test('evictionPolicy: evicts each head down to its layer budget, counts removals, stops on -1', () => {
  const cache = randomCache(2, 1, 4, 6, 1);
  const budgets: number[] = [];
  let begun = 0;
  const policy = evictionPolicy(budgets, { stats: NO_STATS, begin: () => void begun++, victim: (head, _b, l) => (l === 0 ? 0 : -1) });
  budgets.push(4, 4); // filled after creation, as prepareCompression does
  policy.afterDecodeStep(cache, undefined);
  assert.equal(begun, 1);
  assert.deepEqual(cache.slotsPerLayer(), [4, 6]);
  assert.deepEqual(Array.from(cache.layers[0]!.heads[0]!.positions.subarray(0, 4)), [2, 3, 4, 5]);
  assert.equal(policy.evicted, 2);
});

test('typed options: one declaration gives the listing, the defaults and the errors', () => {
  const schema = defineOptions({
    mode: option.enum(['a', 'b'], { default: 'a', description: 'mode' }),
    k: option.integer({ min: 1, max: 9, default: 3, description: 'k' }),
    sigma: option.enumOrNumber(['auto'], { min: 0, minExclusive: true, default: 'auto', description: 's' }),
  });
  assert.deepEqual(schema.specs.map((s) => [s.name, s.type, s.default]), [['mode', 'enum', 'a'], ['k', 'integer', 3], ['sigma', 'enumOrNumber', 'auto']]);
  const o = schema.parse('m', ['k=4', 'sigma=2.5']);
  const typed: { mode: 'a' | 'b'; k: number; sigma: 'auto' | number } = o;
  assert.deepEqual(typed, { k: 4, sigma: 2.5, mode: 'a' });
  const kv = (fn: () => unknown, message: string) => assert.throws(fn, (e: unknown) => e instanceof KvError && e.message === message);
  kv(() => schema.parse('m', ['zzz=1']), "unknown option 'zzz' for method m; options: mode, k, sigma");
  kv(() => schema.parse('m', ['sigm=1']), "unknown option 'sigm' for method m (did you mean sigma?); options: mode, k, sigma");
  kv(() => schema.parse('m', ['k=10']), "option k expects an integer ≥ 1 and ≤ 9; got '10'");
  kv(() => schema.parse('m', { sigma: 0 }), "option sigma expects auto or a positive number; got '0'");
});

test('a plan\'s options are typed by its method', () => {
  const p = prepareCompression({ method: 'kvmerger', options: { sigma: 5, granularity: 'headShared' }, budget: 0.5, promptLength: 10 });
  assert.equal(p.options['sigma'], 5);
  assert.deepEqual(p.budgetSpec, { ratio: 0.5 });
  // @ts-expect-error: 'wide' is not a granularity of kvmerger
  assert.throws(() => prepareCompression({ method: 'kvmerger', options: { granularity: 'wide' }, promptLength: 10 }), KvError);
});

test('no shared code asks for a method by name: what differs is a capability the method declares', () => {
  const dir = new URL('../../src/compress/', import.meta.url);
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(new URL(f, dir), 'utf8');
    for (const m of methodNames()) assert.ok(!new RegExp(`[=!]==\\s*'${m}'|'${m}'\\s*[=!]==`).test(text), `${f} compares a name with '${m}'`);
  }
});
