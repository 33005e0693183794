import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { processImage, type ProcessedCell } from '../../src/main/engine/ingest/process-image';
import { fileRegionReader } from '../../src/main/engine/ingest/region';
import { estimateStainParameters, estimateFieldCellRadius } from '../../src/main/engine/ingest/segment/field';
import { inMemoryRegionReader, segmentLargeField } from '../../src/main/engine/ingest/segment/large';
import type { RgbImage } from '../../src/main/engine/ingest/segment/types';
import { MORPHOLOGY_DIMS } from '../../src/main/engine/embed/morphology';
import { dataPath, tempDir } from '../helpers/data';

const IDS = ['2', '10', '101', '154', '198', '209', '238', '259', '268'];
const FW = 640;
const FH = 480;
const TILE = 700;

let tmp: { dir: string; cleanup: () => void };
/** 3 x 3 real Chula fields side by side (1920 x 1440 px, ~1000 cells), written as a lossless PNG. */
let mosaicPath: string;
let mosaic: RgbImage;

beforeAll(async () => {
  tmp = tempDir();
  const width = 3 * FW;
  const height = 3 * FH;
  const data = new Uint8Array(width * height * 3);
  for (const [i, id] of IDS.entries()) {
    const f = await decodeImage(dataPath('fixture', 'chula_fields', `${id}.jpg`));
    const ox = (i % 3) * FW;
    const oy = Math.floor(i / 3) * FH;
    for (let y = 0; y < FH; y++)
      data.set(f.data.subarray(y * FW * 3, (y + 1) * FW * 3), ((oy + y) * width + ox) * 3);
  }
  mosaic = { data, width, height };
  mosaicPath = path.join(tmp.dir, 'mosaic.png');
  await sharp(Buffer.from(data), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toFile(mosaicPath);
});
afterAll(() => tmp.cleanup());

describe('large fields read region by region from the file', () => {
  it('gives exactly the cells of the same tiling over the decoded image, holding one strip of tiles at most', async () => {
    const cellRadius = estimateFieldCellRadius(mosaic);
    const stain = estimateStainParameters(mosaic);
    const opts = { tile: TILE, cellRadius, stain };
    const inMemory = await segmentLargeField(inMemoryRegionReader(mosaic), mosaic.width, mosaic.height, opts);
    // A strip budget below one full-width strip exercises the per-tile reads as well.
    for (const stripBytes of [undefined, 1]) {
      const reader = fileRegionReader(mosaicPath, mosaic.width, { stripBytes });
      const streamed = await segmentLargeField(reader.read, mosaic.width, mosaic.height, opts);
      expect(streamed.length).toBeGreaterThan(300);
      expect(streamed.map((c) => [c.bbox, c.centroid, c.kind])).toEqual(
        inMemory.map((c) => [c.bbox, c.centroid, c.kind]),
      );
      const overlap = Math.ceil(Math.max(64, 8 * cellRadius));
      const region = TILE + 2 * overlap;
      expect(reader.peakPixels).toBeLessThanOrEqual((stripBytes ? region : mosaic.width) * region);
    }
  });

  it('ingests a tiled field with the cells whole-image processing finds, none lost or doubled at seams', async () => {
    const tiled = await processImage(mosaicPath, { mode: 'field', largeFieldPixels: 1e6, tileSize: TILE });
    const whole = await processImage(mosaicPath, { mode: 'field', largeFieldPixels: Infinity });
    if (!tiled.ok || !whole.ok) throw new Error('processing failed');
    expect([tiled.width, tiled.height, tiled.sha256]).toEqual([whole.width, whole.height, whole.sha256]);
    expect(whole.cells.length).toBeGreaterThan(800);
    expect(tiled.morphology.length).toBe(tiled.cells.length * MORPHOLOGY_DIMS);

    const rbcs = whole.cells.filter((c) => c.kind === 'rbc');
    const d = Math.sqrt(rbcs.reduce((a, c) => a + c.area, 0) / rbcs.length);
    const near = (a: ProcessedCell, b: ProcessedCell, tol: number) =>
      Math.hypot(a.centroid[0] - b.centroid[0], a.centroid[1] - b.centroid[1]) <= tol;
    const matched = whole.cells.filter((w) => tiled.cells.some((t) => near(w, t, 0.25 * d))).length;
    // Tiles run at the scale found on the central region, the whole image at its own scale search's: candidates
    // near the rescorer's cut can go either way anywhere in the field (on this mosaic ~4 %, mostly cut cells at
    // the joins between the nine fields and platelets), so the whole-field agreement is looser than the seam
    // check below, which is the one about tiling.
    expect(matched / whole.cells.length).toBeGreaterThan(0.95);
    expect(Math.abs(tiled.cells.length - whole.cells.length)).toBeLessThan(0.03 * whole.cells.length);

    // Cells on seams: found, and each kept by exactly one tile.
    const seams = [TILE, 2 * TILE];
    const onSeam = (c: ProcessedCell) =>
      seams.some(
        (s) => (c.bbox[0] < s && c.bbox[0] + c.bbox[2] > s) || (c.bbox[1] < s && c.bbox[1] + c.bbox[3] > s),
      );
    const tiledSeam = tiled.cells.filter(onSeam);
    expect(tiledSeam.length).toBeGreaterThan(20);
    for (const c of tiledSeam) expect(tiled.cells.filter((o) => o !== c && near(o, c, 0.4 * d))).toEqual([]);
    const wholeSeam = whole.cells.filter(onSeam);
    const seamFound = wholeSeam.filter((w) => tiledSeam.some((t) => near(w, t, 0.25 * d))).length;
    expect(seamFound / wholeSeam.length).toBeGreaterThan(0.95);

    // A seam cell's thumbnail is a real 96 px JPEG of its context.
    const meta = await sharp(tiledSeam[0].thumbnail).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 96, 96]);
  }, 120_000);

  it('reports a truncated large file with its reason', async () => {
    const bytes = fs.readFileSync(mosaicPath);
    const cut = path.join(tmp.dir, 'cut.png');
    fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const r = await processImage(cut, { mode: 'field', largeFieldPixels: 1e6, tileSize: TILE });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe('truncated');
  }, 60_000);
});
