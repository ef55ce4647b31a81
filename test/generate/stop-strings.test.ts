import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StopStringMatcher } from '../../src/generate/stop-strings.js';

test('holds back a possible stop prefix, cuts at the stop string', () => {
  const m = new StopStringMatcher(['END', 'xy']);
  const shown: string[] = [];
  for (const p of ['ab', 'cE', 'N', 'Dzz']) shown.push(m.push(p));
  assert.deepEqual(shown, ['ab', 'c', '', '']);
  assert.equal(m.stopped, true);
  assert.equal(m.text, 'abc');
});

test('a prefix that does not complete is released', () => {
  const m = new StopStringMatcher(['END']);
  assert.equal(m.push('aE'), 'a');
  assert.equal(m.push('Nb'), 'ENb');
  assert.equal(m.push('EN'), '');
  assert.equal(m.flush(), 'EN');
  assert.equal(m.text, 'aENbEN');
  assert.equal(m.stopped, false);
});

test('the earliest stop string wins, even across pieces', () => {
  const m = new StopStringMatcher(['cd', 'abc']);
  m.push('xa');
  m.push('bcd');
  assert.equal(m.text, 'x'); // 'abc' starts at 1, before 'cd' at 3
  const n = new StopStringMatcher(['cd', 'b']);
  n.push('a');
  n.push('xbcd');
  assert.equal(n.text, 'ax');
});
