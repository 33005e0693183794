import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeImage,
  ImageDecodeError,
  type ImageDecodeErrorReason,
} from '../../src/main/engine/ingest/decode';
import { bmp } from '../helpers/bmp';
import { dataPath, tempDir } from '../helpers/data';

const FIELD = dataPath('fixture', 'chula_fields', '2.jpg');
const tmp = tempDir('reddino-decode-');
const file = (name: string) => path.join(tmp.dir, name);

/** Reference pixels of the real field, decoded by sharp directly (640x480). */
let reference: { data: Buffer; width: number; height: number };

beforeAll(async () => {
  const { data, info } = await sharp(FIELD).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  reference = { data, width: info.width, height: info.height };
});
afterAll(() => tmp.cleanup());

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

async function expectDecodeError(
  p: string,
  reason: ImageDecodeErrorReason,
  opts = {},
): Promise<ImageDecodeError> {
  const err = await decodeImage(p, opts).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageDecodeError);
  const decodeErr = err as ImageDecodeError;
  expect(decodeErr.reason).toBe(reason);
  expect(decodeErr.message).toContain(p);
  return decodeErr;
}

/** Minimal uncompressed baseline TIFF writer, so the test controls the exact 16-bit samples. */
function tiff16(width: number, height: number, samples: Uint16Array): Buffer {
  const entries: Array<[number, number, number, number]> = [];
  const pixelBytes = samples.length * 2;
  const headerSize = 8;
  const bpsOffset = headerSize + pixelBytes;
  const ifdOffset = bpsOffset + 6;
  entries.push([256, 3, 1, width], [257, 3, 1, height], [258, 3, 3, bpsOffset], [259, 3, 1, 1]);
  entries.push([262, 3, 1, 2], [273, 4, 1, headerSize], [277, 3, 1, 3], [278, 3, 1, height]);
  entries.push([279, 4, 1, pixelBytes], [284, 3, 1, 1]);
  const buf = Buffer.alloc(ifdOffset + 2 + entries.length * 12 + 4);
  buf.write('II', 0, 'ascii');
  buf.writeUInt16LE(42, 2);
  buf.writeUInt32LE(ifdOffset, 4);
  for (let i = 0; i < samples.length; i++) buf.writeUInt16LE(samples[i], headerSize + i * 2);
  for (let i = 0; i < 3; i++) buf.writeUInt16LE(16, bpsOffset + i * 2);
  buf.writeUInt16LE(entries.length, ifdOffset);
  entries.forEach(([tag, type, count, value], i) => {
    const o = ifdOffset + 2 + i * 12;
    buf.writeUInt16LE(tag, o);
    buf.writeUInt16LE(type, o + 2);
    buf.writeUInt32LE(count, o + 4);
    if (type === 3 && count === 1) buf.writeUInt16LE(value, o + 8);
    else buf.writeUInt32LE(value, o + 8);
  });
  return buf;
}

describe('decodeImage on well-formed files', () => {
  it('decodes a real JPEG field to RGB with its hash', async () => {
    const img = await decodeImage(FIELD);
    expect([img.width, img.height, img.format, img.bitDepth]).toEqual([640, 480, 'jpeg', 8]);
    expect(img.data.length).toBe(640 * 480 * 3);
    expect(meanAbsDiff(img.data, reference.data)).toBeLessThan(0.5);
    expect(img.sha256).toBe(createHash('sha256').update(fs.readFileSync(FIELD)).digest('hex'));
  });

  it('decodes PNG, TIFF and WebP re-encodings of the same field', async () => {
    await sharp(FIELD).png().toFile(file('field.png'));
    await sharp(FIELD).tiff().toFile(file('field.tif'));
    await sharp(FIELD).webp({ quality: 95 }).toFile(file('field.webp'));
    for (const [name, format, tolerance] of [
      ['field.png', 'png', 0.01],
      ['field.tif', 'tiff', 3],
      ['field.webp', 'webp', 4],
    ] as const) {
      const img = await decodeImage(file(name));
      expect(img.format).toBe(format);
      expect([img.width, img.height]).toEqual([640, 480]);
      expect(meanAbsDiff(img.data, reference.data)).toBeLessThan(tolerance);
    }
  });

  it('scales 16-bit TIFF and PNG samples to 8 bits over the full range', async () => {
    const { width, height } = reference;
    const samples = new Uint16Array(width * height * 3);
    // v * 257 maps 8-bit v onto the full 16-bit range; +100 adds low bits a truncating scaler would keep.
    for (let i = 0; i < samples.length; i++)
      samples[i] = reference.data[i] * 257 + (reference.data[i] < 255 ? 100 : 0);
    fs.writeFileSync(file('field16.tif'), tiff16(width, height, samples));
    const tif = await decodeImage(file('field16.tif'));
    expect([tif.format, tif.bitDepth, tif.width, tif.height]).toEqual(['tiff', 16, width, height]);
    expect(meanAbsDiff(tif.data, reference.data)).toBeLessThan(1);

    await sharp(FIELD).toColourspace('rgb16').png().toFile(file('field16.png'));
    const png = await decodeImage(file('field16.png'));
    expect([png.format, png.bitDepth]).toEqual(['png', 16]);
    expect(meanAbsDiff(png.data, reference.data)).toBeLessThan(0.5);
  });

  it('applies EXIF orientation', async () => {
    await sharp(FIELD).withMetadata({ orientation: 6 }).png().toFile(file('rotated.png'));
    const img = await decodeImage(file('rotated.png'));
    expect([img.width, img.height]).toEqual([480, 640]);
    // Orientation 6 = rotate 90 degrees clockwise: output (x, y) is source (y, H - 1 - x).
    const { width: W, height: H } = reference;
    for (const [x, y] of [
      [0, 0],
      [100, 333],
      [479, 639],
    ]) {
      const sx = y;
      const sy = H - 1 - x;
      const out = Array.from(img.data.subarray((y * 480 + x) * 3, (y * 480 + x) * 3 + 3));
      expect(out).toEqual(Array.from(reference.data.subarray((sy * W + sx) * 3, (sy * W + sx) * 3 + 3)));
    }
  });

  it('expands greyscale to RGB and flattens alpha on white', async () => {
    await sharp(FIELD).greyscale().png().toFile(file('grey.png'));
    const grey = await decodeImage(file('grey.png'));
    expect(grey.data.length).toBe(640 * 480 * 3);
    for (let i = 0; i < grey.data.length; i += 3 * 997) {
      expect(grey.data[i + 1]).toBe(grey.data[i]);
      expect(grey.data[i + 2]).toBe(grey.data[i]);
    }
    const transparent = Buffer.alloc(8 * 8 * 4);
    for (let i = 0; i < 64; i++) transparent.set([200, 0, 0, i < 32 ? 0 : 255], i * 4);
    await sharp(transparent, { raw: { width: 8, height: 8, channels: 4 } })
      .png()
      .toFile(file('alpha.png'));
    const flat = await decodeImage(file('alpha.png'));
    expect(Array.from(flat.data.subarray(0, 3))).toEqual([255, 255, 255]);
    expect(Array.from(flat.data.subarray(63 * 3, 64 * 3))).toEqual([200, 0, 0]);
  });

  it('decodes 24-bit, 32-bit and 8-bit palette BMP files', async () => {
    const { width, height, data } = reference;
    fs.writeFileSync(file('field24.bmp'), bmp(width, height, data, 24));
    fs.writeFileSync(file('field32.bmp'), bmp(width, height, data, 32, true));
    fs.writeFileSync(file('field8.bmp'), bmp(width, height, data, 8));
    for (const name of ['field24.bmp', 'field32.bmp']) {
      const img = await decodeImage(file(name));
      expect([img.format, img.width, img.height]).toEqual(['bmp', width, height]);
      expect(meanAbsDiff(img.data, data)).toBe(0);
    }
    const pal = await decodeImage(file('field8.bmp'));
    const green = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) green.fill(data[i * 3 + 1], i * 3, i * 3 + 3);
    expect(meanAbsDiff(pal.data, green)).toBe(0);
  });
});

describe('decodeImage errors', () => {
  it('reports empty, missing, folder and non-image files', async () => {
    fs.writeFileSync(file('empty.jpg'), '');
    await expectDecodeError(file('empty.jpg'), 'empty');
    const missing = await expectDecodeError(file('missing.jpg'), 'unreadable');
    expect(missing.message).toMatch(/does not exist/);
    await expectDecodeError(tmp.dir, 'unreadable');
    fs.writeFileSync(file('notes.jpg'), 'sample 12, Wright stain, 100x oil\n');
    const text = await expectDecodeError(file('notes.jpg'), 'not-an-image');
    expect(text.message).toMatch(/JPEG, PNG, TIFF, BMP or WebP/);
  });

  it('reports truncated JPEG, PNG, TIFF, WebP and BMP files', async () => {
    await sharp(FIELD).png().toFile(file('whole.png'));
    await sharp(FIELD).tiff().toFile(file('whole.tif'));
    await sharp(FIELD).webp().toFile(file('whole.webp'));
    fs.writeFileSync(file('whole.bmp'), bmp(reference.width, reference.height, reference.data, 24));
    const sources: Array<[string, string]> = [
      [FIELD, 'cut.jpg'],
      [file('whole.png'), 'cut.png'],
      [file('whole.tif'), 'cut.tif'],
      [file('whole.webp'), 'cut.webp'],
      [file('whole.bmp'), 'cut.bmp'],
    ];
    for (const [src, name] of sources) {
      const bytes = fs.readFileSync(src);
      fs.writeFileSync(file(name), bytes.subarray(0, Math.floor(bytes.length / 2)));
      const err = await expectDecodeError(file(name), 'truncated');
      expect(err.message).toMatch(/copy it again/);
    }
  });

  it('refuses images above maxPixels before decoding them', async () => {
    const err = await expectDecodeError(FIELD, 'too-large', { maxPixels: 100_000 });
    expect(err.message).toMatch(/640x480/);
    fs.writeFileSync(file('big.bmp'), bmp(reference.width, reference.height, reference.data, 24));
    await expectDecodeError(file('big.bmp'), 'too-large', { maxPixels: 100_000 });
  });

  it('reports compressed BMP variants as unsupported', async () => {
    const bytes = bmp(16, 16, new Uint8Array(16 * 16 * 3), 8);
    bytes.writeUInt32LE(1, 30); // BI_RLE8
    fs.writeFileSync(file('rle.bmp'), bytes);
    const err = await expectDecodeError(file('rle.bmp'), 'unsupported');
    expect(err.message).toMatch(/re-save it/);
  });
});
