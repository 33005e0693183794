import type { MapData } from '../../../shared/api';
import type { Engine } from '../engine';
import type { JobContext } from '../jobs/jobs';
import { pca2d } from '../map/pca';
import { umapLayout } from '../map/umap';
import type { VectorCache } from './vectors';

/**
 * The 2-D map: PCA is stored at once so the map shows within seconds, then UMAP (fitted on at most 100k cells,
 * the rest placed onto it) replaces it when done. Coordinates are stored per model as typed-array blobs.
 */
export class MapService {
  constructor(
    private readonly engine: Engine,
    private readonly vectors: VectorCache,
  ) {}

  get(modelId?: number): MapData | null {
    const store = this.engine.project;
    let model;
    try {
      model = this.vectors.activeModel(modelId);
    } catch {
      return null;
    }
    const layout = store.latestMapLayout(model.id);
    if (!layout) return null;
    const run = store.latestPredictionRun(model.id);
    const predicted = new Int32Array(layout.cellIds.length).fill(-1);
    const confidence = new Float32Array(layout.cellIds.length).fill(NaN);
    if (run) {
      const rows = alignRows(layout.cellIds, run.cellIds);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        if (r >= 0) {
          predicted[i] = run.predicted[r];
          confidence[i] = run.probability[r];
        }
      }
    }
    return {
      modelId: model.id,
      method: layout.method,
      cellIds: layout.cellIds,
      xy: layout.xy,
      imageIds: store.imageIdsFor(layout.cellIds),
      labels: store.labelsFor(layout.cellIds),
      predicted,
      confidence,
    };
  }

  start(modelId?: number): number {
    const model = this.vectors.activeModel(modelId);
    return this.engine.jobs.start('map', { modelId: model.id }, (ctx) => this.run(model.id, ctx));
  }

  private async run(modelId: number, ctx: JobContext): Promise<{ cells: number; method: string }> {
    const store = this.engine.project;
    const { index } = await this.vectors.index(modelId);
    const ids = index.ids();
    const vectors = index.vectors(ids);
    const n = ids.length;
    ctx.progress(0, n, 'PCA');
    const pca = pca2d(vectors, n, index.dims);
    store.putMapLayout(modelId, 'pca', ids, pca);
    this.engine.emit({ type: 'map', modelId, method: 'pca' });
    if (n < 5) return { cells: n, method: 'pca' };
    const xy = await umapLayout(vectors, n, index.dims, {
      metric: 'cosine',
      signal: ctx.signal,
      onProgress: (done, total, phase) => ctx.progress(done, total, `UMAP: ${phase}`),
    });
    ctx.signal.throwIfAborted();
    store.putMapLayout(modelId, 'umap', ids, xy);
    this.engine.emit({ type: 'map', modelId, method: 'umap' });
    return { cells: n, method: 'umap' };
  }
}

/**
 * For each id in `target`, its row in `source` (-1 if absent). Both come from the vector index in ascending id
 * order, so a merge join does it in one pass; a hash map is the fallback for unsorted input.
 */
export function alignRows(target: Int32Array, source: Int32Array): Int32Array {
  const out = new Int32Array(target.length).fill(-1);
  const sorted = (a: Int32Array) => a.every((v, i) => i === 0 || a[i - 1] < v);
  if (sorted(target) && sorted(source)) {
    let j = 0;
    for (let i = 0; i < target.length; i++) {
      while (j < source.length && source[j] < target[i]) j++;
      if (j < source.length && source[j] === target[i]) out[i] = j;
    }
    return out;
  }
  const row = new Map<number, number>();
  source.forEach((id, i) => row.set(id, i));
  target.forEach((id, i) => (out[i] = row.get(id) ?? -1));
  return out;
}
