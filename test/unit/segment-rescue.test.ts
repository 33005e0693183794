import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { CellDetector, type FieldDetections } from '../../src/main/engine/ingest/segment/detector';
import { segmentFieldWithDetections } from '../../src/main/engine/ingest/segment/guided';
import type { RgbImage } from '../../src/main/engine/ingest/segment/types';
import { dataPath } from '../helpers/data';

// The detector's misses (small dense cells it was not trained to see) are rescued from the stain foreground when
// they look like one whole RBC. Simulated here on a real Chula field: drop isolated detections and check each
// comes back as a cell of its own at the same place, with score 0, while nothing else changes.
describe('rescue of cells the detector missed', () => {
  let img: RgbImage;
  let found: FieldDetections;
  beforeAll(async () => {
    img = await decodeImage(dataPath('fixture', 'chula_fields', '94.jpg'));
    const detector = await CellDetector.load();
    found = await detector.detect(img);
  });

  it('adds an isolated RBC back when its detection is removed', () => {
    const full = segmentFieldWithDetections(img, found.detections, found.cellDiameter);
    expect(full.every((c) => c.score === undefined || c.score > 0)).toBe(true);
    const centre = (b: number[]) => [b[0] + b[2] / 2, b[1] + b[3] / 2];
    // Isolated interior RBCs: no other detection centre within 1.3 cell diameters, away from the border.
    const d = found.cellDiameter;
    const isolated = found.detections
      .map((det, i) => ({ det, i }))
      .filter(({ det }) => det.kind === 'rbc')
      .filter(({ det }) => {
        const [x, y] = centre(det.bbox);
        if (x < d || y < d || x > img.width - d || y > img.height - d) return false;
        return found.detections.every((o) => {
          if (o === det) return true;
          const [ox, oy] = centre(o.bbox);
          return Math.hypot(ox - x, oy - y) > 1.3 * d;
        });
      });
    expect(isolated.length).toBeGreaterThan(0);
    const dropped = isolated.slice(0, 3);
    const kept = found.detections.filter((_, i) => !dropped.some((x) => x.i === i));
    const cells = segmentFieldWithDetections(img, kept, found.cellDiameter);
    const rescued = cells.filter((c) => c.score === 0);
    expect(rescued.length).toBe(dropped.length);
    for (const { det } of dropped) {
      const [x, y] = centre(det.bbox);
      const hit = rescued.find((c) => Math.hypot(c.centroid[0] - x, c.centroid[1] - y) < 0.3 * d);
      expect(hit, `cell at ${x.toFixed(0)},${y.toFixed(0)} rescued`).toBeDefined();
      expect(hit!.kind).toBe('rbc');
      // Its area is close to the one the detection gave it.
      const before = full.find((c) => Math.hypot(c.centroid[0] - x, c.centroid[1] - y) < 0.3 * d)!;
      expect(Math.abs(hit!.morph.area - before.morph.area) / before.morph.area).toBeLessThan(0.25);
    }
    expect(cells.length).toBe(full.length);
  });
});
