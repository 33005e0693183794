import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { segmentCells } from '../../src/main/engine/ingest/segment/cells';
import {
  CANDIDATE_THRESHOLD,
  CellDetector,
  defaultDetectorPath,
} from '../../src/main/engine/ingest/segment/detector';
import { segmentFieldWithDetections } from '../../src/main/engine/ingest/segment/guided';
import {
  RESCORE_FEATURES,
  expandFeatures,
  keepProbability,
  rescoreFeatures,
  type RescoreModel,
} from '../../src/main/engine/ingest/segment/rescore';
import { dataPath } from '../helpers/data';

const sidecar = JSON.parse(fs.readFileSync(defaultDetectorPath().replace(/\.onnx$/, '.json'), 'utf8')) as {
  companion: string;
  rescore: RescoreModel;
};

// The shipped detector is a pair: a primary trained long on txl-dev boxes, a companion that still finds the small
// dense cells, and a rescorer that decides on every RBC candidate once it has a contour.
describe('the shipped detector pair', () => {
  it('ships a companion and a rescorer whose shape matches the features the app computes', () => {
    expect(fs.existsSync(path.resolve(path.dirname(defaultDetectorPath()), sidecar.companion))).toBe(true);
    expect(sidecar.rescore.features).toEqual(RESCORE_FEATURES);
    expect(sidecar.rescore.mean).toHaveLength(RESCORE_FEATURES.length);
    expect(sidecar.rescore.weights).toHaveLength(expandFeatures(RESCORE_FEATURES.map(() => 0)).length);
    expect(sidecar.rescore.cut).toBeGreaterThan(0);
    expect(sidecar.rescore.cut).toBeLessThan(1);
  });

  it('loads as a pair by default and alone on request, and only the pair returns both peaks', async () => {
    const pair = await CellDetector.load();
    const alone = await CellDetector.load(defaultDetectorPath(), 1, true);
    expect(pair.isPair).toBe(true);
    expect(alone.isPair).toBe(false);
    const img = await decodeImage(dataPath('fixture', 'chula_fields', '94.jpg'));
    const found = await pair.detect(img);
    expect(found.rescore).toBeDefined();
    expect(found.scores).toHaveLength(found.detections.length);
    const fromCompanionOnly = found.scores!.filter((s) => s.primary === 0);
    for (const s of found.scores!)
      expect(Math.max(s.primary, s.companion)).toBeGreaterThanOrEqual(CANDIDATE_THRESHOLD);
    expect(fromCompanionOnly.length).toBeGreaterThan(0);
    expect((await alone.detect(img)).scores).toBeUndefined();
  });

  it('drops exactly the RBC candidates below the cut and keeps the other kinds', async () => {
    const pair = await CellDetector.load();
    for (const file of [
      dataPath('fixture', 'txl_fields', '01e4af27-0d62-557e-b967-cd665b590d45.jpg'),
      dataPath('fixture', 'chula_fields', '94.jpg'),
    ]) {
      const img = await decodeImage(file);
      const found = await pair.detect(img);
      const detectionOf: number[] = [];
      const all = segmentFieldWithDetections(img, found.detections, found.cellDiameter, { detectionOf });
      const { rows, index } = rescoreFeatures(
        all,
        detectionOf,
        found.detections,
        found.scores!,
        found.cellDiameter,
      );
      const dropped = new Set(
        index.filter((_, k) => keepProbability(rows[k], sidecar.rescore) < sidecar.rescore.cut),
      );
      const { cells } = await segmentCells(img, { detector: pair });
      expect(cells).toEqual(all.filter((_, i) => !dropped.has(i)));
      expect(cells.filter((c) => c.kind !== 'rbc')).toEqual(all.filter((c) => c.kind !== 'rbc'));
      expect(dropped.size).toBeGreaterThan(0);
    }
  });
});
