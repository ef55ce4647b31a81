// readTensorF32Into / ModelFile.readInto: the same values as readTensorF32, written into a caller's buffer (also a
// view into a larger one), piece by piece for quantised tensors larger than one 64 KiB piece.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { writeGGUF } from '../../src/formats/gguf-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-readinto-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('readTensorF32Into matches readTensorF32 for F32, F16 and multi-piece Q8_0, into views of one buffer', () => {
  const path = join(dir, 'm.gguf');
  const n = 32 * 4100; // Q8_0: 4100 blocks × 34 bytes > 2 pieces of 64 KiB
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.013) * 3);
  writeGGUF(path, {
    metadata: { 'general.architecture': 'llama' },
    tensors: [
      { name: 'f32', dims: [32, 5], type: 'F32', data: x.subarray(0, 160) },
      { name: 'f16', dims: [64, 3], type: 'F16', data: x.subarray(0, 192) },
      { name: 'q8', dims: [128, n / 128], type: 'Q8_0', data: x },
    ],
  });
  const g = openGGUF(path);
  try {
    const blob = new Float32Array(1 + 160 + 192 + n); // odd start: views need not be aligned to the tensor
    let at = 1;
    for (const name of ['f32', 'f16', 'q8']) {
      const want = g.readTensorF32(name);
      const view = blob.subarray(at, at + want.length);
      g.readTensorF32Into(name, view);
      assert.deepEqual(view, want, name);
      at += want.length;
    }
    assert.equal(blob[0], 0, 'nothing written before the first view');
    assert.throws(() => g.readTensorF32Into('f32', new Float32Array(3)), RangeError);
  } finally {
    g.close();
  }
});
