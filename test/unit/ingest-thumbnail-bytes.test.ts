import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { encodeJpeg } from '../../src/main/engine/ingest/jpeg';
import { cellThumbnail } from '../../src/main/engine/ingest/thumbnail';
import { dataPath } from '../helpers/data';

// Stored thumbnails must not change when the encoder is made faster: these digests were written by the encoder
// as of commit 05dfc06 (before the direct-from-plane DCT, folded quantisation and last-coefficient stop).
const PIXELS = '4ca4a74e97ff5f2517c0fe48062eaad9609e9fc6fca5cd31cf44a0bcd3a5cca4';
const THUMBNAILS = '819f2d02f62f73bd3f7dd42cbab9d792a2f12afac0dd07a2a0f4e7fe25f89184';

describe('thumbnail bytes', () => {
  it('are those of the reference encoder for 228 boxes across a real field, edges and odd sizes included', async () => {
    const img = await decodeImage(dataPath('fixture', 'chula_fields', '10.jpg'));
    // A different digest here means the decoder (libvips) changed, not the encoder.
    expect(createHash('sha256').update(img.data).digest('hex')).toBe(PIXELS);
    const field = { data: img.data, width: img.width, height: img.height };
    const h = createHash('sha256');
    let n = 0;
    // A grid of cell-sized boxes, some hanging over the border; then large boxes (the antialiased shrink path)
    // and tiny ones.
    for (let y = -10; y < 480; y += 37) {
      for (let x = -10; x < 640; x += 41) {
        const s = 12 + ((x * 7 + y * 3) & 63);
        h.update(cellThumbnail(field, [x, y, s, s + ((x + y) & 15) - 7]));
        n++;
      }
    }
    for (const b of [
      [200, 100, 220, 160],
      [0, 0, 640, 480],
      [630, 470, 10, 10],
      [5, 5, 3, 3],
    ] as const) {
      // The shared-buffer variant ingest uses gives the same bytes.
      const own = cellThumbnail(field, b);
      expect(Buffer.from(cellThumbnail(field, b, true)).equals(Buffer.from(own))).toBe(true);
      h.update(own);
      n++;
    }
    // A plain RGB image whose size is not a multiple of the 16 px MCU.
    const rgb = new Uint8Array(37 * 21 * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = field.data[i * 7];
    h.update(encodeJpeg(rgb, 37, 21, 95));
    expect(n).toBe(228);
    expect(h.digest('hex')).toBe(THUMBNAILS);
  });
});
