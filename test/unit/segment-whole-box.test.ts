import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { CellDetector } from '../../src/main/engine/ingest/segment/detector';
import { segmentFieldWithDetections } from '../../src/main/engine/ingest/segment/guided';
import { dataPath } from '../helpers/data';

// A detected cell's box spans the whole cell (the detector's box) as well as its visible outline: where two
// cells overlap, one of them loses the contested pixels, and its outline's box alone would cut it short.
describe('cell boxes from detections', () => {
  it('hold both the contour and the detector box, in whole pixels, and flag cells whose box meets the edge', async () => {
    // A Chula field with touching and overlapping cells.
    const img = await decodeImage(dataPath('fixture', 'chula_fields', '94.jpg'));
    const found = await (await CellDetector.load()).detect(img);
    const cells = segmentFieldWithDetections(img, found.detections, found.cellDiameter);
    let grown = 0;
    for (const c of cells) {
      const [x, y, w, h] = c.bbox;
      for (const v of c.bbox) expect(Number.isInteger(v)).toBe(true);
      for (let k = 0; k < c.contour.length; k += 2) {
        expect(c.contour[k]).toBeGreaterThanOrEqual(x);
        expect(c.contour[k]).toBeLessThanOrEqual(x + w);
        expect(c.contour[k + 1]).toBeGreaterThanOrEqual(y);
        expect(c.contour[k + 1]).toBeLessThanOrEqual(y + h);
      }
      if (!c.score) continue; // rescued cells have no detection
      const det = found.detections.find((d) => d.score === c.score && d.kind === c.kind);
      expect(det).toBeDefined();
      const [dx, dy, dw, dh] = det!.bbox;
      expect(x).toBeLessThanOrEqual(Math.round(dx));
      expect(y).toBeLessThanOrEqual(Math.round(dy));
      expect(x + w).toBeGreaterThanOrEqual(Math.round(dx + dw));
      expect(y + h).toBeGreaterThanOrEqual(Math.round(dy + dh));
      let minX = Infinity;
      let maxX = -Infinity;
      for (let k = 0; k < c.contour.length; k += 2) {
        minX = Math.min(minX, c.contour[k]);
        maxX = Math.max(maxX, c.contour[k]);
      }
      if (x < minX || x + w > maxX) grown++;
      if (x <= 0 || y <= 0 || x + w >= img.width || y + h >= img.height) expect(c.touchesBorder).toBe(true);
    }
    // The detector's boxes reach past the visible outline for part of the cells (overlaps, pale rims).
    expect(grown).toBeGreaterThan(0);
  });
});
