import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { crc32, encodePng } from '../../src/plot/encode-png.js';

function chunks(png: Buffer): { type: string; data: Buffer; crc: number }[] {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const out = [];
  let o = 8;
  while (o < png.length) {
    const len = png.readUInt32BE(o);
    out.push({ type: png.toString('ascii', o + 4, o + 8), data: png.subarray(o + 8, o + 8 + len), crc: png.readUInt32BE(o + 8 + len) });
    o += 12 + len;
  }
  return out;
}

test('crc32 matches the published check value', () => {
  // The standard CRC-32 check: crc32("123456789") = 0xCBF43926.
  assert.equal((crc32(Buffer.from('123456789')) ^ 0xffffffff) >>> 0, 0xcbf43926);
});

test('an RGB image round-trips through the Up filter', () => {
  const pixels = Uint8Array.from({ length: 3 * 4 * 3 }, (_, i) => (i * 37) & 0xff);
  const png = encodePng({ width: 4, height: 3, colorType: 'rgb', pixels });
  const cs = chunks(png);
  assert.deepEqual(cs.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
  for (const c of cs) {
    const typed = Buffer.concat([Buffer.from(c.type, 'ascii'), c.data]);
    assert.equal((crc32(typed) ^ 0xffffffff) >>> 0, c.crc, `${c.type} CRC`);
  }
  assert.equal(cs[0]!.data.readUInt32BE(0), 4);
  assert.equal(cs[0]!.data.readUInt32BE(4), 3);
  assert.equal(cs[0]!.data[9], 2);
  const raw = inflateSync(cs[1]!.data);
  // Undo the filters by hand: row 0 'None', later rows 'Up'.
  const stride = 12;
  const decoded = new Uint8Array(36);
  for (let y = 0; y < 3; y++) {
    const f = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i]!;
      decoded[y * stride + i] = f === 0 ? v : (v + decoded[(y - 1) * stride + i]!) & 0xff;
    }
  }
  assert.deepEqual([...decoded], [...pixels]);
});

test('an indexed image carries its palette', () => {
  const png = encodePng({ width: 2, height: 2, colorType: 'indexed', pixels: Uint8Array.from([0, 1, 1, 0]), palette: Uint8Array.from([255, 0, 0, 0, 0, 255]) });
  const cs = chunks(png);
  assert.deepEqual(cs.map((c) => c.type), ['IHDR', 'PLTE', 'IDAT', 'IEND']);
  assert.deepEqual([...cs[1]!.data], [255, 0, 0, 0, 0, 255]);
  assert.deepEqual([...inflateSync(cs[2]!.data)], [0, 0, 1, 0, 1, 0]);
  assert.throws(() => encodePng({ width: 2, height: 2, colorType: 'indexed', pixels: new Uint8Array(4) }), /palette/);
  assert.throws(() => encodePng({ width: 2, height: 2, colorType: 'rgb', pixels: new Uint8Array(4) }), /expected 12 bytes/);
});
