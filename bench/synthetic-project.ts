// A synthetic project of n cells for the large-project benchmarks (open-1m, frame-1m): 100 cells per 640x480
// field, a stored 2-D map layout, 10k labeled cells and a prediction run over all of them.
import { CellStore } from '../src/main/engine/store/store';

export interface SyntheticProjectOptions {
  /** Cells that get a thumbnail (the same small JPEG for each); the rest have none. */
  thumbnail?: { bytes: Buffer; cells: number };
}

/** Creates the project at `dir` and returns the database's cell ids. */
export function buildSyntheticProject(
  dir: string,
  n: number,
  opts: SyntheticProjectOptions = {},
): Int32Array {
  const store = CellStore.create(dir);
  const fields = Math.ceil(n / 100);
  store.transaction(() => {
    for (let f = 0; f < fields; f++) {
      const imageId = store.addImage({
        path: `/slides/f${f}.jpg`,
        name: `f${f}.jpg`,
        sha256: `sha${f}`,
        width: 640,
        height: 480,
        format: 'jpeg',
      });
      for (let i = 0; i < 100 && f * 100 + i < n; i++) {
        const x = (i % 10) * 60;
        const y = Math.floor(i / 10) * 45;
        store.addCell(imageId, {
          kind: 'rbc',
          origin: 'segmented',
          bbox: [x, y, 40, 40],
          centroid: [x + 20, y + 20],
          area: 1200,
          thumbnail: opts.thumbnail && f * 100 + i < opts.thumbnail.cells ? opts.thumbnail.bytes : undefined,
        });
      }
    }
  });
  const ids = store.allCellIds();
  const model = store.addModel({ name: 'morphology-v1', kind: 'morphology', dims: 2 });
  const xy = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    xy[2 * i] = Math.cos(i) * (i % 1000);
    xy[2 * i + 1] = Math.sin(i) * (i % 997);
  }
  store.putMapLayout(model, 'umap', ids, xy);
  const normal = store.findClass('normal')!.id;
  store.applyLabels({
    cellIds: Array.from(ids.subarray(0, 10_000)),
    classId: normal,
    source: 'bulk',
    annotator: 'bench',
  });
  store.putPredictionRun({
    modelId: model,
    classifier: 'linear-probe',
    labeledCount: 10_000,
    classIds: [normal],
    cellIds: ids,
    predicted: new Int32Array(n).fill(normal),
    probability: new Float32Array(n).fill(0.9),
    margin: new Float32Array(n).fill(0.8),
  });
  store.close();
  return ids;
}
