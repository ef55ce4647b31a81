import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fastPathHolding } from '../../src/cli/commands/info.js';
import { MATMUL_NBITS_TYPES } from '../../src/model/ort/matmul-nbits-packing.js';
import { DEQUANTIZABLE_TYPES } from '../../src/formats/dequantize.js';

test('info states, for every type the reader knows, whether the fast path runs it packed or expanded', () => {
  assert.equal(fastPathHolding('Q4_0'), '4-bit packed');
  assert.equal(fastPathHolding('Q4_K'), '4-bit packed + offsets');
  assert.equal(fastPathHolding('Q6_K'), '8-bit packed');
  assert.equal(fastPathHolding('F16'), 'expanded to F32');
  assert.equal(fastPathHolding('IQ2_XS'), 'not supported (no dequantiser)');
  for (const t of DEQUANTIZABLE_TYPES) {
    const h = fastPathHolding(t);
    assert.ok(MATMUL_NBITS_TYPES.includes(t) ? h.includes('packed') : ['as stored', 'expanded to F32'].includes(h), `${t}: ${h}`);
  }
});
