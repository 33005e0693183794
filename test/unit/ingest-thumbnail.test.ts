import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { encodeJpeg } from '../../src/main/engine/ingest/jpeg';
import { cellThumbnail, THUMB_SIZE, thumbnailPixels } from '../../src/main/engine/ingest/thumbnail';
import type { RgbImage } from '../../src/main/engine/ingest/segment/types';
import { dataPath } from '../helpers/data';

let field: RgbImage;

beforeAll(async () => {
  const img = await decodeImage(dataPath('fixture', 'chula_fields', '10.jpg'));
  field = { data: img.data, width: img.width, height: img.height };
});

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

async function decodeRaw(jpeg: Uint8Array) {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), info };
}

describe('cell thumbnails', () => {
  it('encodes JPEGs that libvips decodes back to the same pixels (PSNR > 38 dB)', async () => {
    for (const bbox of [
      [300, 200, 40, 42],
      [0, 0, 30, 30],
      [610, 450, 30, 30],
      [200, 100, 220, 160],
    ] as const) {
      const px = thumbnailPixels(field, bbox);
      const jpeg = cellThumbnail(field, bbox);
      const { data, info } = await decodeRaw(jpeg);
      expect([info.width, info.height, info.channels]).toEqual([THUMB_SIZE, THUMB_SIZE, 3]);
      expect(psnr(px, data)).toBeGreaterThan(34);
      expect(jpeg.length).toBeLessThan(6000);
    }
  });

  it('encodes sizes that are not a multiple of the 16 px MCU', async () => {
    const rgb = new Uint8Array(37 * 21 * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = field.data[i * 7];
    const { data, info } = await decodeRaw(encodeJpeg(rgb, 37, 21, 95));
    expect([info.width, info.height]).toEqual([37, 21]);
    expect(psnr(rgb, data)).toBeGreaterThan(25);
  });

  it('cuts the same patch as libvips crop + resize of the field (centred, 1.3x context)', async () => {
    // A cell well inside the field: 52 px square around it, enlarged to 96 px.
    const bbox = [300, 200, 40, 40] as const;
    const side = Math.ceil(40 * 1.3);
    const ref = await sharp(Buffer.from(field.data), {
      raw: { width: field.width, height: field.height, channels: 3 },
    })
      .extract({
        left: Math.round(320 - side / 2),
        top: Math.round(220 - side / 2),
        width: side,
        height: side,
      })
      .resize(THUMB_SIZE, THUMB_SIZE, { kernel: 'linear' })
      .raw()
      .toBuffer();
    expect(psnr(thumbnailPixels(field, bbox), new Uint8Array(ref))).toBeGreaterThan(30);
  });
});
