import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { estimateStainParameters, segmentFieldDetailed } from '../../src/main/engine/ingest/segment/field';
import { inMemoryRegionReader, segmentLargeField } from '../../src/main/engine/ingest/segment/large';
import type { RgbImage, SegmentedCell } from '../../src/main/engine/ingest/segment/types';
import { dataPath } from '../helpers/data';

const IDS = ['2', '10', '101', '154', '198', '209', '238', '259', '268'];
const FW = 640;
const FH = 480;

/** 3 x 3 real Chula fields side by side: 1920 x 1440 px, ~1000 cells. */
let mosaic: RgbImage;
let fields: RgbImage[];

beforeAll(async () => {
  fields = [];
  for (const id of IDS) fields.push(await decodeImage(dataPath('fixture', 'chula_fields', `${id}.jpg`)));
  const width = 3 * FW;
  const height = 3 * FH;
  const data = new Uint8Array(width * height * 3);
  fields.forEach((f, i) => {
    const ox = (i % 3) * FW;
    const oy = Math.floor(i / 3) * FH;
    for (let y = 0; y < FH; y++) {
      data.set(f.data.subarray(y * FW * 3, (y + 1) * FW * 3), ((oy + y) * width + ox) * 3);
    }
  });
  mosaic = { data, width, height };
});

describe('segmentLargeField on a mosaic of real fields', () => {
  it('finds the cells the whole mosaic segmented at once has, each exactly once across tile seams', async () => {
    const whole = segmentFieldDetailed(mosaic);
    const stain = estimateStainParameters(mosaic);
    const reference = segmentFieldDetailed(mosaic, { cellRadius: whole.cellRadius, stain }).cells;
    expect(reference.length).toBeGreaterThan(300);
    const r = whole.cellRadius;
    const progress: number[] = [];
    // Tiles of 700 px put seams through the middle of fields.
    const tile = 700;
    const large = await segmentLargeField(inMemoryRegionReader(mosaic), mosaic.width, mosaic.height, {
      tile,
      cellRadius: r,
      stain,
      onProgress: (done, total) => progress.push(done / total),
    });
    expect(progress.at(-1)).toBe(1);
    expect(progress.length).toBe(9);

    const key = (c: [number, number]) => `${Math.round(c[0])},${Math.round(c[1])}`;
    const near = (a: [number, number], b: [number, number], d: number) =>
      Math.abs(a[0] - b[0]) <= d && Math.abs(a[1] - b[1]) <= d;
    const byCell = new Map(large.map((c) => [key(c.centroid), c]));
    const found = reference.filter(
      (c) => byCell.has(key(c.centroid)) || large.some((l) => near(l.centroid, c.centroid, 2)),
    ).length;
    expect(found / reference.length).toBeGreaterThan(0.97);
    expect(Math.abs(large.length - reference.length)).toBeLessThan(0.03 * reference.length);

    // Cells cut by a seam were segmented whole in the neighbouring tile's overlap, and kept once.
    const crossesSeam = (c: SegmentedCell) => {
      const [bx, by, bw, bh] = c.bbox;
      return [tile, 2 * tile].some((s) => (bx < s && bx + bw > s) || (by < s && by + bh > s));
    };
    const onSeam = large.filter(crossesSeam);
    expect(onSeam.length).toBeGreaterThan(10);
    let duplicates = 0;
    for (const c of onSeam)
      duplicates += large.filter((l) => l !== c && near(l.centroid, c.centroid, r / 2)).length;
    expect(duplicates).toBe(0);
    const wholeOnSeam = reference.filter(crossesSeam);
    const seamFound = wholeOnSeam.filter((c) => onSeam.some((l) => near(l.centroid, c.centroid, 2))).length;
    expect(seamFound / wholeOnSeam.length).toBeGreaterThan(0.95);
    for (const c of large) {
      expect(c.contour.every((v, k) => v >= 0 && v <= (k % 2 ? mosaic.height : mosaic.width))).toBe(true);
    }
  });

  it('stops between tiles when aborted', async () => {
    const controller = new AbortController();
    const run = segmentLargeField(inMemoryRegionReader(mosaic), mosaic.width, mosaic.height, {
      tile: 700,
      cellRadius: 15,
      signal: controller.signal,
      onProgress: (done) => {
        if (done === 2) controller.abort();
      },
    });
    await expect(run).rejects.toThrow();
  });
});
