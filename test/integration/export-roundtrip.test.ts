import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportProject } from '../../src/main/engine/export/project';
import { readCoco, type CocoDataset } from '../../src/main/engine/formats/coco';
import { parseCsvObjects } from '../../src/main/engine/formats/csv';
import { readGeoJsonFolder } from '../../src/main/engine/formats/geojson';
import { readImageFolder, readImageFolderSources } from '../../src/main/engine/formats/imagefolder';
import type { AnnotationSet } from '../../src/main/engine/formats/types';
import { polygonArea } from '../../src/main/engine/formats/polygon';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { readNpyFloat32 } from '../../src/main/engine/io/npy';
import { tempDir } from '../helpers/data';
import { buildFixtureProject, NON_ASCII_CLASSES, type FixtureProject } from './export-fixture';

let tmp: { dir: string; cleanup: () => void };
let p: FixtureProject;

beforeAll(async () => {
  tmp = tempDir('reddino-export-');
  p = await buildFixtureProject(tmp.dir);
});
afterAll(() => {
  p.store.close();
  tmp.cleanup();
});

/** The project's cells as (image path, rounded bbox, label) keys, the identity a round trip must keep. */
function projectCellKeys(): string[] {
  const slides = new Map(p.store.listSlides().map((s) => [s.id, s.path]));
  const names = new Map(p.store.listClasses().map((c) => [c.id, c.name]));
  return p.store
    .queryCells({ labeled: 'labeled' })
    .map(
      (c) =>
        `${slides.get(c.imageId)}|${c.bbox.map((v) => Math.round(v)).join(',')}|${names.get(c.classId!)}`,
    )
    .sort();
}

function setKeys(set: AnnotationSet): string[] {
  return set.images
    .flatMap((im) =>
      im.cells.map((c) => `${im.path}|${c.bbox.map((v) => Math.round(v)).join(',')}|${c.className}`),
    )
    .sort();
}

describe('COCO export', () => {
  let out: string;
  let coco: CocoDataset;
  beforeAll(async () => {
    out = path.join(tmp.dir, 'coco');
    await exportProject(p.store, { format: 'coco', out });
    coco = JSON.parse(fs.readFileSync(path.join(out, 'annotations.json'), 'utf8')) as CocoDataset;
  });

  it('follows the COCO detection spec that pycocotools reads', () => {
    expect(Object.keys(coco).sort()).toEqual(['annotations', 'categories', 'images', 'info', 'licenses']);
    const imageIds = new Set(coco.images.map((i) => i.id));
    const catIds = new Set(coco.categories.map((c) => c.id));
    expect(imageIds.size).toBe(coco.images.length);
    expect(catIds.size).toBe(coco.categories.length);
    expect(new Set(coco.annotations.map((a) => a.id)).size).toBe(coco.annotations.length);
    for (const im of coco.images) {
      expect(Number.isInteger(im.id) && Number.isInteger(im.width) && Number.isInteger(im.height)).toBe(true);
      expect(typeof im.file_name).toBe('string');
    }
    for (const c of coco.categories) {
      expect(Number.isInteger(c.id) && c.id > 0).toBe(true);
      expect(typeof c.name).toBe('string');
      expect(typeof c.supercategory).toBe('string');
    }
    for (const a of coco.annotations) {
      expect(imageIds.has(a.image_id)).toBe(true);
      expect(catIds.has(a.category_id)).toBe(true);
      expect(a.iscrowd).toBe(0);
      expect(a.bbox).toHaveLength(4);
      expect(a.bbox[2]).toBeGreaterThan(0);
      expect(a.bbox[3]).toBeGreaterThan(0);
      // Polygon format: a list of flat [x, y, ...] rings of >= 3 points, each inside its bbox (1 px slack).
      expect(Array.isArray(a.segmentation)).toBe(true);
      for (const ring of a.segmentation) {
        expect(ring.length % 2).toBe(0);
        expect(ring.length).toBeGreaterThanOrEqual(6);
        for (let i = 0; i < ring.length; i += 2) {
          expect(ring[i]).toBeGreaterThanOrEqual(a.bbox[0] - 1);
          expect(ring[i]).toBeLessThanOrEqual(a.bbox[0] + a.bbox[2] + 1);
          expect(ring[i + 1]).toBeGreaterThanOrEqual(a.bbox[1] - 1);
          expect(ring[i + 1]).toBeLessThanOrEqual(a.bbox[1] + a.bbox[3] + 1);
        }
      }
      expect(a.area).toBeCloseTo(polygonArea(a.segmentation[0]), 1);
    }
    expect(coco.annotations).toHaveLength(p.store.stats().labeled);
  });

  it('round-trips through the reader with the same cells, labels and non-ASCII names', () => {
    const set = readCoco(path.join(out, 'annotations.json'));
    expect(setKeys(set)).toEqual(projectCellKeys());
    const names = new Set(set.images.flatMap((i) => i.cells.map((c) => c.className)));
    for (const n of NON_ASCII_CLASSES) expect(names.has(n)).toBe(true);
    expect(set.images.some((i) => path.basename(i.path).startsWith('Ausstrich ü 標本'))).toBe(true);
    for (const im of set.images) expect(fs.existsSync(im.path)).toBe(true);
  });

  it('keeps the contour polygon of each cell', () => {
    const set = readCoco(path.join(out, 'annotations.json'));
    const cell = p.store.getCell(1)!;
    const match = set.images
      .flatMap((i) => i.cells)
      .find(
        (c) =>
          Math.round(c.bbox[0]) === Math.round(cell.bbox[0]) &&
          Math.round(c.bbox[1]) === Math.round(cell.bbox[1]),
      );
    expect(match?.contour).toHaveLength(cell.contour.length);
    match!.contour!.forEach((v, i) => expect(v).toBeCloseTo(cell.contour[i], 1));
  });
});

describe('GeoJSON export', () => {
  it('writes QuPath detections with classification name and colour and round-trips', async () => {
    const out = path.join(tmp.dir, 'geojson');
    const r = await exportProject(p.store, { format: 'geojson', out });
    expect(r.images).toBe(3);
    const file = r.files.find((f) => f.startsWith('Ausstrich'))!;
    const fc = JSON.parse(fs.readFileSync(path.join(out, file), 'utf8')) as {
      type: string;
      features: Array<{
        geometry: { type: string; coordinates: number[][][] };
        properties: Record<string, unknown>;
      }>;
    };
    expect(fc.type).toBe('FeatureCollection');
    const f0 = fc.features[0];
    expect(f0.geometry.type).toBe('Polygon');
    const ring = f0.geometry.coordinates[0];
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    expect(f0.properties.objectType).toBe('detection');
    const cls = f0.properties.classification as { name: string; color: number[] };
    expect(typeof cls.name).toBe('string');
    expect(cls.color).toHaveLength(3);
    cls.color.forEach((v) => expect(Number.isInteger(v) && v >= 0 && v <= 255).toBe(true));
    const expectedColor = p.store.findClass(cls.name)!.color;
    expect(cls.color).toEqual([1, 3, 5].map((i) => parseInt(expectedColor.slice(i, i + 2), 16)));
    expect(setKeys(readGeoJsonFolder(out))).toEqual(projectCellKeys());
  });
});

describe('ImageFolder export', () => {
  it('cuts native crops from the field pixels into one folder per class, with metadata to go back', async () => {
    const out = path.join(tmp.dir, 'imagefolder');
    const r = await exportProject(p.store, { format: 'imagefolder', out });
    expect(r.cells).toBe(p.store.stats().labeled);
    for (const n of NON_ASCII_CLASSES) expect(fs.existsSync(path.join(out, n))).toBe(true);
    const crops = await readImageFolder(out);
    expect(crops.images).toHaveLength(r.cells);
    const labels = new Map(Object.entries(p.store.stats().labelsPerClass));
    const counted = new Map<string, number>();
    for (const im of crops.images)
      counted.set(im.cells[0].className!, (counted.get(im.cells[0].className!) ?? 0) + 1);
    expect(counted).toEqual(labels);
    expect(setKeys(readImageFolderSources(out))).toEqual(projectCellKeys());

    // Crop pixels equal the field's pixels in the bbox (PNG is lossless; the field decodes the same way).
    const meta = parseCsvObjects(fs.readFileSync(path.join(out, 'metadata.csv'), 'utf8'));
    const row = meta.find((m) => m.class === NON_ASCII_CLASSES[1])!;
    const field = await decodeImage(path.resolve(out, row.source_image));
    const crop = await sharp(path.join(out, row.file)).raw().toBuffer({ resolveWithObject: true });
    const [cx, cy, cw, ch] = [row.crop_x, row.crop_y, row.crop_w, row.crop_h].map(Number);
    expect([crop.info.width, crop.info.height]).toEqual([cw, ch]);
    let diff = 0;
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        for (let k = 0; k < 3; k++) {
          diff = Math.max(
            diff,
            Math.abs(crop.data[(y * cw + x) * 3 + k] - field.data[((cy + y) * field.width + cx + x) * 3 + k]),
          );
        }
      }
    }
    expect(diff).toBe(0);
  });

  it('resizes to --size squares', async () => {
    const out = path.join(tmp.dir, 'imagefolder224');
    await exportProject(p.store, { format: 'imagefolder', out, size: 224, classes: ['target cell'] });
    const crops = await readImageFolder(out);
    expect(crops.images).toHaveLength(p.store.stats().labelsPerClass['target cell']);
    for (const im of crops.images) expect([im.width, im.height]).toEqual([224, 224]);
  });
});

describe('CSV and npy exports', () => {
  it('writes one CSV row per cell with label provenance and prediction', async () => {
    const out = path.join(tmp.dir, 'csv');
    await exportProject(p.store, { format: 'csv', out });
    const rows = parseCsvObjects(fs.readFileSync(path.join(out, 'cells.csv'), 'utf8'));
    expect(rows).toHaveLength(p.store.cellCount());
    const run = p.store.latestPredictionRun()!;
    for (const r of rows.slice(0, 40)) {
      const cell = p.store.getCell(Number(r.cell_id), run)!;
      const history = p.store.cellHistory(cell.id);
      const last = history[history.length - 1];
      expect(r.label).toBe(p.store.findClass(cell.classId!)!.name);
      expect(r.annotator).toBe(last.annotator);
      expect(r.label_source).toBe(last.source);
      expect(Number(r.x)).toBeCloseTo(cell.bbox[0], 3);
      expect(Number(r.predicted_id)).toBe(cell.predictedClassId);
      expect(Number(r.confidence)).toBeCloseTo(cell.confidence!, 3);
      expect(Number(r.prediction_run_id)).toBe(run.id);
    }
    expect(rows.some((r) => r.image.startsWith('Ausstrich ü 標本'))).toBe(true);
  });

  it('writes float32 N x D embeddings aligned with cells.csv', async () => {
    const out = path.join(tmp.dir, 'npy');
    await exportProject(p.store, { format: 'npy', out, slides: [String(p.imageIds[1])] });
    const m = readNpyFloat32(path.join(out, 'embeddings.npy'));
    const rows = parseCsvObjects(fs.readFileSync(path.join(out, 'cells.csv'), 'utf8'));
    expect(m.rows).toBe(rows.length);
    expect(m.cols).toBe(8);
    const all = p.store.getEmbeddings(p.modelId);
    const index = new Map(Array.from(all.cellIds, (id, i) => [id, i]));
    rows.forEach((r, i) => {
      expect(Number(r.image_id)).toBe(p.imageIds[1]);
      const j = index.get(Number(r.cell_id))!;
      expect(Array.from(m.data.subarray(i * 8, i * 8 + 8))).toEqual(
        Array.from(all.vectors.subarray(j * 8, j * 8 + 8)),
      );
    });
  });
});

describe('selection and atomicity', () => {
  it('filters by class, slide and reviewed-only, and rejects unknown names', async () => {
    const out = path.join(tmp.dir, 'sel');
    const r = await exportProject(p.store, { format: 'csv', out, classes: ['Zielzelle ü', '標的細胞'] });
    expect(r.cells).toBe(2 * p.imageIds.length);
    const rv = await exportProject(p.store, { format: 'csv', out, reviewedOnly: true });
    expect(rv.cells).toBe(0);
    await expect(exportProject(p.store, { format: 'csv', out, classes: ['no such class'] })).rejects.toThrow(
      /No class named/,
    );
    await expect(exportProject(p.store, { format: 'csv', out, slides: ['missing.jpg'] })).rejects.toThrow(
      /No slide/,
    );
  });

  it('never replaces a folder that holds other files', async () => {
    const out = path.join(tmp.dir, 'desktop');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'thesis.docx'), 'precious');
    await expect(exportProject(p.store, { format: 'csv', out })).rejects.toThrow(/not a RedDino export/);
    expect(fs.readFileSync(path.join(out, 'thesis.docx'), 'utf8')).toBe('precious');
    const empty = path.join(tmp.dir, 'empty');
    fs.mkdirSync(empty);
    await exportProject(p.store, { format: 'csv', out: empty });
    // A previous export is recognised by its marker and replaced.
    const again = await exportProject(p.store, { format: 'audit', out: empty });
    expect(fs.readdirSync(empty).sort()).toEqual(['.reddino-export.json', ...again.files].sort());
  });

  it('a cancelled export leaves the previous output intact and no temporary folder behind', async () => {
    const out = path.join(tmp.dir, 'atomic');
    await exportProject(p.store, { format: 'csv', out, classes: ['normal'] });
    const before = fs.readFileSync(path.join(out, 'cells.csv'), 'utf8');
    const ac = new AbortController();
    const phases: string[] = [];
    await expect(
      exportProject(
        p.store,
        { format: 'imagefolder', out },
        {
          signal: ac.signal,
          onProgress: (done, _total, phase) => {
            phases.push(phase);
            if (done >= 64) ac.abort();
          },
        },
      ),
    ).rejects.toThrow();
    expect(phases).toContain('crops');
    expect(fs.readFileSync(path.join(out, 'cells.csv'), 'utf8')).toBe(before);
    expect(fs.readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.old'))).toEqual([]);
  });
});
