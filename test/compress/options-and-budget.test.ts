import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { parseBudgetFlags, resolveBudget, validateBudget } from '../../src/compress/budget.js';
import { parseMethodOptions } from '../../src/compress/method-options.js';
import { getMethod, methodNames } from '../../src/compress/registry.js';
import { KvError } from '../../src/util/errors.js';

const kv = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => e instanceof KvError && e.message === message, `expected KvError: ${message}`);

test('unknown methods and options, ill-typed values: clear KvErrors naming the allowed values', () => {
  kv(() => getMethod('x'), `unknown method 'x'; methods: ${methodNames().join(', ')}`);
  kv(
    () => prepareCompression({ method: 'kvmerger', options: ['foo=1'], promptLength: 10 }),
    "unknown option 'foo' for method kvmerger; options: granularity, budgetMode, thresholdScope, epsilon, sigma, valueScale, weighting, recentRatio, attnRatio, sinkTokens, proportional, sets, pivot, when, decodeWindow, scores, window, gqaReduce",
  );
  kv(() => prepareCompression({ method: 'kvmerger', options: ['sigma=abc'], promptLength: 10 }), "option sigma expects meanDistance, rmsDistance or a positive number; got 'abc'");
  kv(() => prepareCompression({ method: 'kvmerger', options: ['sigma=0'], promptLength: 10 }), "option sigma expects meanDistance, rmsDistance or a positive number; got '0'");
  kv(() => prepareCompression({ method: 'kvmerger', options: ['granularity=perLayer'], promptLength: 10 }), "option granularity expects perHead or headShared; got 'perLayer'");
  kv(() => prepareCompression({ method: 'kvmerger', options: ['epsilon=1.5'], promptLength: 10 }), "option epsilon expects a number ≥ -1 and ≤ 1; got '1.5'");
  kv(() => prepareCompression({ method: 'kvmerger', options: ['recentRatio=lots'], promptLength: 10 }), "option recentRatio expects auto or a number ≥ 0 and ≤ 1; got 'lots'");
  kv(() => prepareCompression({ method: 'snapkv', options: ['window=2.5'], promptLength: 10 }), "option window expects an integer ≥ 1; got '2.5'");
  kv(() => prepareCompression({ method: 'cam', options: ['mergeWindow'], promptLength: 10 }), "--method-option 'mergeWindow' must be name=value (e.g. epsilon=0.8); see 'kvmerger methods'");
  kv(() => prepareCompression({ method: 'h2o', options: ['when=decode', 'when=prefill'], promptLength: 10 }), 'option when given twice for method h2o; give it once');
  kv(() => prepareCompression({ method: 'random', options: ['k=1'], promptLength: 10 }), "unknown option 'k' for method random; options: (none)");
});

test('options parse with types and defaults', () => {
  const spec = getMethod('kvmerger').options;
  const o = parseMethodOptions('kvmerger', spec, ['sigma=5', 'epsilon=0.8', 'granularity=headShared']);
  assert.equal(o['sigma'], 5);
  assert.equal(o['epsilon'], 0.8);
  assert.equal(o['granularity'], 'headShared');
  assert.equal(o['budgetMode'], 'exact');
  assert.equal(o['valueScale'], 'setSize');
  assert.equal(o['recentRatio'], 'auto');
  assert.deepEqual(parseMethodOptions('kvmerger', spec, { sigma: 'rmsDistance' })['sigma'], 'rmsDistance');
  assert.equal(parseMethodOptions('cam', getMethod('cam').options, [])['mergeWindow'], 32);
  assert.equal(parseMethodOptions('streaming', getMethod('streaming').options, [])['sink'], 4);
  assert.equal(parseMethodOptions('snapkv', getMethod('snapkv').options, [])['kernel'], 7);
  assert.equal(parseMethodOptions('h2o', getMethod('h2o').options, [])['recentShare'], 0.5);
});

test('budgets: validation messages, slot counts, token budgets per layer and total', () => {
  kv(() => validateBudget({ ratio: 1.5 }, 100), '--budget must be in (0, 1]; got 1.5');
  kv(() => validateBudget({ ratio: 0 }, 100), '--budget must be in (0, 1]; got 0');
  kv(() => validateBudget({ tokens: 0 }, 100), "--budget-tokens must be at least 1 (at most the prompt's length); got 0");
  kv(() => validateBudget({ tokens: 9000 }, 4000), "--budget-tokens 9000 exceeds the prompt's 4000 tokens");
  kv(() => validateBudget({ ratio: 0.01 }, 40), "--budget 0.01 keeps no slot of the prompt's 40 tokens; give at least 0.025");
  kv(() => validateBudget({ tokens: 2, per: 'total' }, 40, 3), '--budget-tokens 2 (total) leaves layers without a slot; give at least 3 (one per layer)');
  kv(() => parseBudgetFlags('0.5', '10'), 'give --budget or --budget-tokens, not both');
  kv(() => parseBudgetFlags('half'), "--budget must be a number in (0, 1]; got 'half'");
  kv(() => parseBudgetFlags('1.5'), '--budget must be in (0, 1]; got 1.5');
  kv(() => parseBudgetFlags(undefined, '0'), "--budget-tokens must be at least 1 (at most the prompt's length); got 0");
  kv(() => parseBudgetFlags('0.5', undefined, 'total'), '--budget-tokens-per needs --budget-tokens (it does not apply to --budget)');
  kv(() => parseBudgetFlags(undefined, undefined, 'layer'), '--budget-tokens-per needs --budget-tokens (it does not apply to --budget)');
  assert.deepEqual(parseBudgetFlags(undefined, '12', 'total'), { tokens: 12, per: 'total' });
  assert.equal(parseBudgetFlags(), undefined);
  kv(() => prepareCompression({ method: 'h2o', budget: { tokens: 9000 }, promptLength: 4000 }), "--budget-tokens 9000 exceeds the prompt's 4000 tokens");
  // floors, robust to float noise: 0.29 · 100 = 28.999999999999996 → 29
  assert.deepEqual(resolveBudget({ ratio: 0.29 }, 100, 2, 4).perLayer, [29, 29]);
  assert.deepEqual(resolveBudget({ ratio: 0.5 }, 401, 1, 1).perLayer, [200]);
  const t = resolveBudget({ tokens: 10, per: 'total' }, 100, 3, 2);
  assert.deepEqual(t.perLayer, [4, 3, 3]);
  assert.equal(t.totalSlots, 20);
  assert.equal(resolveBudget({ ratio: 1 }, 10, 2, 2).full, true);
  assert.equal(resolveBudget({ tokens: 10 }, 10, 2, 2).full, true);
});

test('a total token budget is checked against the layers once the cache is known', () => {
  const p = prepareCompression({ method: 'h2o', budget: { tokens: 100, per: 'total' }, promptLength: 40 });
  assert.ok(p);
  kv(() => resolveBudget({ tokens: 200, per: 'total' }, 40, 3, 1), "--budget-tokens 200 (total) exceeds the prompt's 40 tokens × 3 layers = 120");
});
