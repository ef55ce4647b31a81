import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FALLBACK_COLORS, METHOD_COLORS, methodBaseName, methodColor, sortMethods } from '../../src/plot/method-colors.js';

test('known methods have fixed, distinct colours', () => {
  assert.equal(methodColor('kvmerger'), '#d62728');
  assert.equal(methodColor('h2o'), '#1f77b4');
  assert.equal(methodColor('full'), '#404040');
  const names = ['full', 'kvmerger', 'h2o', 'cam', 'streaming', 'snapkv', 'pyramidkv', 'tova', 'knorm', 'random'];
  assert.equal(new Set(names.map(methodColor)).size, names.length);
  for (const n of names) assert.equal(methodColor(n), METHOD_COLORS[n]);
});

test('case and variants share the base colour', () => {
  assert.equal(methodBaseName('KVMerger (mode=greedy)'), 'kvmerger');
  assert.equal(methodColor('KVMerger (mode=greedy)'), methodColor('kvmerger'));
  assert.equal(methodColor('H2O'), methodColor('h2o'));
});

test('unknown methods get a deterministic colour from the fallback palette, not a known one', () => {
  const a = methodColor('my-new-method');
  assert.equal(methodColor('my-new-method'), a);
  assert.ok(FALLBACK_COLORS.includes(a));
  assert.ok(!Object.values(METHOD_COLORS).includes(a));
  assert.match(a, /^#[0-9a-f]{6}$/);
});

test('methods sort in the canonical order, unknown ones last', () => {
  assert.deepEqual(sortMethods(['zeta', 'kvmerger', 'random', 'full', 'alpha', 'cam', 'h2o']), [
    'full', 'h2o', 'cam', 'kvmerger', 'random', 'alpha', 'zeta',
  ]);
});
