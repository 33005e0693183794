import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportProject } from '../../src/main/engine/export/project';
import { cocoAnnotation, type CocoDataset } from '../../src/main/engine/formats/coco';
import { polygonArea, polygonBbox } from '../../src/main/engine/formats/polygon';
import { tempDir } from '../helpers/data';
import { buildFixtureProject, type FixtureProject } from './export-fixture';

/**
 * The assumptions pycocotools (COCO, annToMask, loadRes, COCOeval) makes about a COCO file, checked on the
 * export without Python. scripts/check_coco_pycocotools.py runs the real pycocotools on a CLI export
 * (bench/results/coco-pycocotools.json); this keeps the same invariants under test in CI.
 */
function cocoReaderProblems(d: CocoDataset, dir: string): string[] {
  const bad: string[] = [];
  const ids = (xs: Array<{ id: number }>) => xs.map((x) => x.id);
  for (const [what, list] of [
    ['image', ids(d.images)],
    ['annotation', ids(d.annotations)],
    ['category', ids(d.categories)],
  ] as const) {
    if (new Set(list).size !== list.length) bad.push(`${what} ids repeat`);
    if (!list.every((i) => Number.isInteger(i) && i >= 1)) bad.push(`${what} id not an integer >= 1`);
  }
  const images = new Map(d.images.map((im) => [im.id, im]));
  const cats = new Set(ids(d.categories));
  for (const im of d.images) {
    if (!fs.existsSync(path.resolve(dir, im.file_name))) bad.push(`image ${im.id} file does not resolve`);
    if (!(Number.isInteger(im.width) && Number.isInteger(im.height) && im.width > 0 && im.height > 0)) {
      bad.push(`image ${im.id} size`);
    }
  }
  for (const a of d.annotations) {
    const im = images.get(a.image_id);
    if (!im) bad.push(`annotation ${a.id}: image_id does not resolve`);
    if (!cats.has(a.category_id)) bad.push(`annotation ${a.id}: category_id does not resolve`);
    if (a.iscrowd !== 0) bad.push(`annotation ${a.id}: iscrowd`);
    // frPyObjects reads a 4-number "polygon" as a box; a ring needs >= 3 points.
    if (!a.segmentation.length || !a.segmentation.every((p) => p.length >= 6 && p.length % 2 === 0)) {
      bad.push(`annotation ${a.id}: segmentation`);
      continue;
    }
    const shoelace = a.segmentation.reduce((s, p) => s + polygonArea(p), 0);
    if (Math.abs(shoelace - a.area) > 0.01) bad.push(`annotation ${a.id}: area is not the polygon area`);
    const [x, y, w, h] = a.bbox;
    const [px, py, pw, ph] = polygonBbox(a.segmentation.flat());
    if (Math.max(Math.abs(x - px), Math.abs(y - py), Math.abs(w - pw), Math.abs(h - ph)) > 1) {
      bad.push(`annotation ${a.id}: bbox is not the polygon extent`);
    }
    if (im && (x < 0 || y < 0 || x + w > im.width || y + h > im.height)) {
      bad.push(`annotation ${a.id}: bbox outside the image`);
    }
  }
  return bad;
}

let tmp: { dir: string; cleanup: () => void };
let p: FixtureProject;

beforeAll(async () => {
  tmp = tempDir('reddino-export-coco-');
  p = await buildFixtureProject(tmp.dir);
});
afterAll(() => {
  p.store.close();
  tmp.cleanup();
});

describe('COCO export as pycocotools reads it', () => {
  it('meets every assumption of the readers, labeled-only and with unlabeled cells and copied images', async () => {
    for (const [name, opts] of [
      ['labeled', {}],
      ['all', { includeUnlabeled: true, copyImages: true }],
    ] as const) {
      const out = path.join(tmp.dir, `coco-${name}`);
      const r = await exportProject(p.store, { format: 'coco', out, ...opts });
      const d = JSON.parse(fs.readFileSync(path.join(out, 'annotations.json'), 'utf8')) as CocoDataset;
      expect(cocoReaderProblems(d, out)).toEqual([]);
      expect(d.annotations).toHaveLength(r.cells);
      expect(d.images).toHaveLength(r.images);
    }
  });

  it('takes the bbox from the contour, so a looser stored box never disagrees with the segmentation', () => {
    // A stored box 3 px looser than the outline on two sides (as a detector's box can be).
    const contour = [10.004, 20, 30, 20, 30, 35.5, 10.004, 35.5];
    const a = cocoAnnotation(1, 1, 1, { bbox: [7, 20, 26, 18.5], contour });
    expect(a.bbox).toEqual([10, 20, 20, 15.5]);
    expect(a.area).toBe(310);
    // Without a contour the stored box is the object.
    expect(cocoAnnotation(2, 1, 1, { bbox: [7.123, 20, 26, 18.5] }).bbox).toEqual([7.12, 20, 26, 18.5]);
  });

  it('flags what the readers would misread (the checker can fail)', async () => {
    const out = path.join(tmp.dir, 'coco-labeled');
    const d = JSON.parse(fs.readFileSync(path.join(out, 'annotations.json'), 'utf8')) as CocoDataset;
    const broken = structuredClone(d);
    broken.annotations[0].segmentation = [broken.annotations[0].segmentation[0].slice(0, 4)];
    broken.annotations[1].area += 5;
    broken.annotations[2].image_id = 999;
    broken.images.push({ ...broken.images[0] });
    expect(cocoReaderProblems(broken, out)).toEqual(
      expect.arrayContaining([
        'image ids repeat',
        `annotation ${broken.annotations[0].id}: segmentation`,
        `annotation ${broken.annotations[1].id}: area is not the polygon area`,
        `annotation ${broken.annotations[2].id}: image_id does not resolve`,
      ]),
    );
  });
});
