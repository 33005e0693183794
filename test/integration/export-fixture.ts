import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readChulaFile } from '../../src/main/engine/formats/chula';
import { imageSize } from '../../src/main/engine/formats/image-size';
import { CellStore } from '../../src/main/engine/store/store';
import { dataPath } from '../helpers/data';

/** Chula class names -> default taxonomy names; the rest become project classes of their own. */
const CHULA_TO_PROJECT: Record<string, string> = { 'burr cell': 'echinocyte', ovalocyte: 'elliptocyte' };

export const NON_ASCII_CLASSES = ['Zielzelle ü', '標的細胞'];

export interface FixtureProject {
  store: CellStore;
  dir: string;
  imageIds: number[];
  /** Image file names used, the last one non-ASCII. */
  imageFiles: string[];
  modelId: number;
  runId: number;
}

/** An ellipse inscribed in the bbox (24 vertices, 4 of them on the bbox edges, so its extent is the bbox). */
function ellipse(bbox: readonly [number, number, number, number], n = 24): Float32Array {
  const [x, y, w, h] = bbox;
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = x + w / 2 + (w / 2) * Math.cos((2 * Math.PI * i) / n);
    out[2 * i + 1] = y + h / 2 + (h / 2) * Math.sin((2 * Math.PI * i) / n);
  }
  return out;
}

/**
 * A project on real Chula fields: cells from the dataset's `x y class` points (30 px boxes with a circular
 * contour), labels from its classes (two cells per field relabeled to non-ASCII classes), one field copied under
 * a non-ASCII file name, 8-d embeddings and a prediction run that calls a few cells malaria rings.
 */
export async function buildFixtureProject(
  root: string,
  fields = ['10', '101', '154'],
): Promise<FixtureProject> {
  const dir = path.join(root, 'project.rdproj');
  const store = CellStore.create(dir);
  const imagesDir = path.join(root, 'images');
  fs.mkdirSync(imagesDir, { recursive: true });
  const imageIds: number[] = [];
  const imageFiles: string[] = [];
  for (const c of NON_ASCII_CLASSES) store.addClass({ name: c });
  const allCells: number[] = [];
  for (let k = 0; k < fields.length; k++) {
    const src = dataPath('fixture', 'chula_fields', `${fields[k]}.jpg`);
    const name = k === fields.length - 1 ? `Ausstrich ü 標本 ${fields[k]}.jpg` : `${fields[k]}.jpg`;
    const file = path.join(imagesDir, name);
    fs.copyFileSync(src, file);
    const { width, height } = await imageSize(file);
    const ann = readChulaFile(dataPath('fixture', 'chula_fields', `${fields[k]}.txt`), file, {
      boxSize: 30,
      width,
      height,
    });
    const bytes = fs.readFileSync(file);
    const { imageId, cellIds } = store.addImageWithCells(
      {
        path: file,
        name,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        width,
        height,
        format: 'jpeg',
      },
      ann.cells.map((c) => {
        const [x, y, w, h] = c.bbox;
        const cx = x + w / 2;
        const cy = y + h / 2;
        return {
          kind: 'rbc' as const,
          origin: 'imported-annotation' as const,
          bbox: c.bbox,
          centroid: [cx, cy] as [number, number],
          contour: ellipse(c.bbox),
          area: (Math.PI * w * h) / 4,
          perimeter: (Math.PI * (w + h)) / 2,
          circularity: Math.min(w, h) / Math.max(w, h),
        };
      }),
    );
    imageIds.push(imageId);
    imageFiles.push(name);
    const byClass = new Map<string, number[]>();
    ann.cells.forEach((c, i) => {
      const n = CHULA_TO_PROJECT[c.className!] ?? c.className!;
      byClass.set(n, [...(byClass.get(n) ?? []), cellIds[i]]);
    });
    for (const [n, ids] of byClass) {
      const cls = store.findClass(n) ?? store.addClass({ name: n }).cls;
      store.applyLabels({ cellIds: ids, classId: cls.id, source: 'imported', annotator: 'chula' });
    }
    NON_ASCII_CLASSES.forEach((n, i) => {
      store.applyLabels({
        cellIds: [cellIds[i]],
        classId: store.findClass(n)!.id,
        source: 'manual',
        annotator: 'anna',
      });
    });
    allCells.push(...cellIds);
  }
  const dims = 8;
  const modelId = store.addModel({ name: 'morphology-test', kind: 'morphology', dims });
  const vectors = new Float32Array(allCells.length * dims);
  for (let i = 0; i < vectors.length; i++) vectors[i] = Math.sin(i * 0.37) * 3;
  store.putEmbeddings(modelId, allCells, vectors, dims);
  const labels = store.labelsFor(Int32Array.from(allCells));
  const ring = store.findClass('malaria ring')!.id;
  // Predictions: the label itself, except every 7th cell, predicted a malaria ring.
  const predicted = Int32Array.from(labels, (l, i) => (i % 7 === 3 ? ring : l));
  const runId = store.putPredictionRun({
    modelId,
    classifier: 'test',
    labeledCount: allCells.length,
    classIds: [...new Set(predicted)],
    cellIds: Int32Array.from(allCells),
    predicted,
    probability: Float32Array.from(allCells, (_, i) => 0.5 + (i % 5) / 10),
    margin: Float32Array.from(allCells, (_, i) => (i % 5) / 10),
  });
  return { store, dir, imageIds, imageFiles, modelId, runId };
}
