/**
 * A small PNG encoder (8-bit RGB, RGBA or palette images) on node:zlib, used to embed large similarity matrices in
 * SVG as one raster image instead of a million rectangles.
 */
import { deflateSync } from 'node:zlib';

export interface PngImage {
  width: number;
  height: number;
  /** 'indexed': one byte per pixel into `palette`; 'rgb': three bytes; 'rgba': four. Rows top to bottom. */
  colorType: 'indexed' | 'rgb' | 'rgba';
  pixels: Uint8Array; // [height, width, channels]
  /** RGB triples, at most 256 of them; required for 'indexed'. */
  palette?: Uint8Array;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data.buffer, data.byteOffset, data.length).copy(out, 8);
  out.writeUInt32BE((crc32(out.subarray(4, 8 + data.length)) ^ 0xffffffff) >>> 0, 8 + data.length);
  return out;
}

export function encodePng(image: PngImage): Buffer {
  const { width, height, colorType, pixels, palette } = image;
  const channels = colorType === 'indexed' ? 1 : colorType === 'rgb' ? 3 : 4;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePng: bad size ${width}x${height}`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`encodePng: expected ${width * height * channels} bytes of pixels, got ${pixels.length}`);
  }
  if (colorType === 'indexed' && (!palette || palette.length % 3 !== 0 || palette.length > 768 || palette.length === 0)) {
    throw new RangeError('encodePng: an indexed image needs a palette of 1 to 256 RGB triples');
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = colorType === 'indexed' ? 3 : colorType === 'rgb' ? 2 : 6;
  // compression 0, filter method 0, no interlace: bytes 10-12 stay 0
  // Filter: 'None' for palettes (as the PNG spec advises), 'Up' for true colour (smooth maps compress better).
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const o = y * (stride + 1);
    if (colorType === 'indexed' || y === 0) {
      raw[o] = 0;
      raw.set(row, o + 1);
    } else {
      raw[o] = 2;
      const prev = pixels.subarray((y - 1) * stride, y * stride);
      for (let i = 0; i < stride; i++) raw[o + 1 + i] = (row[i]! - prev[i]!) & 0xff;
    }
  }
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (colorType === 'indexed') parts.push(chunk('PLTE', palette!));
  parts.push(chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}
