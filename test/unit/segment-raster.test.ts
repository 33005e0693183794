import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { foregroundThreshold, stainMaps } from '../../src/main/engine/ingest/segment/field';
import {
  boxBlur,
  closeDisc,
  closeDiscByDistance,
  labelComponents,
  openDisc,
  openDiscByDistance,
} from '../../src/main/engine/ingest/segment/raster';
import { dataPath } from '../helpers/data';

function differences(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** Deterministic speckle with blobs and thin bridges, to exercise borders and every disc row. */
function noiseMask(width: number, height: number, seed: number): Uint8Array {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const mask = new Uint8Array(width * height);
  for (let i = 0; i < mask.length; i++) mask[i] = rand() < 0.35 ? 1 : 0;
  for (let k = 0; k < 12; k++) {
    const cx = rand() * width;
    const cy = rand() * height;
    const r = 2 + rand() * 8;
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) mask[y * width + x] = 1;
  }
  return mask;
}

describe('disc morphology', () => {
  it('closes and opens exactly like the distance-map definition on noise', () => {
    for (const [w, h, seed] of [
      [37, 23, 1],
      [64, 64, 7],
      [5, 80, 3],
    ]) {
      const mask = noiseMask(w, h, seed);
      for (const r of [1, 2, 3, 4, 6, 2.5, 33]) {
        expect(differences(closeDisc(mask, w, h, r), closeDiscByDistance(mask, w, h, r))).toBe(0);
        expect(differences(openDisc(mask, w, h, r), openDiscByDistance(mask, w, h, r))).toBe(0);
      }
    }
  });

  it('closes and opens a real Chula foreground exactly like the distance-map definition', async () => {
    const img = await decodeImage(dataPath('fixture', 'chula_fields', '10.jpg'));
    const { odGreen } = stainMaps({ data: img.data, width: img.width, height: img.height });
    const smooth = boxBlur(odGreen, img.width, img.height, 1);
    const t = foregroundThreshold(smooth);
    const mask = new Uint8Array(smooth.length);
    for (let i = 0; i < mask.length; i++) mask[i] = smooth[i] > t ? 1 : 0;
    let changed = 0;
    for (const r of [2, 3]) {
      const closed = closeDisc(mask, img.width, img.height, r);
      const opened = openDisc(mask, img.width, img.height, r);
      changed += differences(closed, mask) + differences(opened, mask);
      expect(differences(closed, closeDiscByDistance(mask, img.width, img.height, r))).toBe(0);
      expect(differences(opened, openDiscByDistance(mask, img.width, img.height, r))).toBe(0);
    }
    // The operations did something on this field (so agreement above is not trivial).
    expect(changed).toBeGreaterThan(1000);
  });
});

/** Pixel-by-pixel flood fill: the reference labelling. */
function referenceLabels(mask: Uint8Array, width: number, height: number, four: boolean): Int32Array {
  const labels = new Int32Array(mask.length);
  let count = 0;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    labels[start] = ++count;
    const stack = [start];
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if ((four && dx && dy) || x + dx < 0 || x + dx >= width || y + dy < 0 || y + dy >= height) continue;
          const q = p + dy * width + dx;
          if (mask[q] && !labels[q]) {
            labels[q] = count;
            stack.push(q);
          }
        }
      }
    }
  }
  return labels;
}

describe('labelComponents', () => {
  it('labels 4- and 8-connected components exactly like a pixel flood fill', () => {
    for (const [w, h, seed] of [
      [37, 23, 1],
      [64, 64, 7],
      [5, 80, 3],
      [120, 90, 11],
    ]) {
      const mask = noiseMask(w, h, seed);
      for (const four of [false, true]) {
        const { labels, count } = labelComponents(mask, w, h, four);
        const ref = referenceLabels(mask, w, h, four);
        expect(Math.max(...ref)).toBe(count);
        expect(count).toBeGreaterThan(3);
        expect(differences(new Uint8Array(labels.buffer), new Uint8Array(ref.buffer))).toBe(0);
      }
    }
  });
});
