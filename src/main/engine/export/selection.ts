import { StoreError } from '../store/errors';
import {
  countExportCells,
  iterateExportCells,
  type ExportCellFilter,
  type ExportCellRow,
} from '../store/export-repo';
import type { CellStore, PredictionRun } from '../store/store';
import type { ExportOptions } from './options';

/** Resolves --classes / --slides (names or ids) to ids; an unknown name is an error, never silently ignored. */
export function resolveFilter(store: CellStore, opts: ExportOptions): ExportCellFilter {
  const filter: ExportCellFilter = { reviewedOnly: opts.reviewedOnly };
  if (opts.classes?.length) {
    filter.classIds = opts.classes.map((c) => {
      const cls = /^\d+$/.test(c) ? store.findClass(Number(c)) : store.findClass(c);
      if (!cls) throw new StoreError('not-found', `No class named "${c}" in this project.`);
      return cls.id;
    });
  }
  if (opts.slides?.length) {
    const slides = store.listSlides();
    filter.imageIds = opts.slides.map((s) => {
      const hit = /^\d+$/.test(s)
        ? slides.find((x) => x.id === Number(s))
        : slides.find((x) => x.name === s || x.path === s);
      if (!hit)
        throw new StoreError('not-found', `No slide "${s}" in this project (give its id or file name).`);
      return hit.id;
    });
  }
  return filter;
}

export function countCells(store: CellStore, filter: ExportCellFilter): number {
  return countExportCells(store, filter);
}

/** Rows grouped per image, in image order: exporters decode each field once. */
export function* cellsByImage(
  store: CellStore,
  filter: ExportCellFilter,
): IterableIterator<{ imageId: number; rows: ExportCellRow[] }> {
  let cur: ExportCellRow[] = [];
  for (const r of iterateExportCells(store, filter)) {
    if (cur.length && cur[0].imageId !== r.imageId) {
      yield { imageId: cur[0].imageId, rows: cur };
      cur = [];
    }
    cur.push(r);
  }
  if (cur.length) yield { imageId: cur[0].imageId, rows: cur };
}

export interface PredictionLookup {
  runId: number | null;
  modelId: number | null;
  get(cellId: number): { classId: number; confidence: number; margin: number } | null;
}

/**
 * Prediction of a cell by id. The index is the run's cell ids sorted (with their positions), searched by bisection:
 * 8 bytes per cell rather than a Map's ~50, which matters when a million-cell export holds it throughout.
 */
export function predictionLookup(run: PredictionRun | null): PredictionLookup {
  const n = run?.cellIds.length ?? 0;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const ids = run?.cellIds;
  if (ids) order.sort((a, b) => ids[a] - ids[b]);
  const sorted = new Int32Array(n);
  for (let i = 0; i < n; i++) sorted[i] = ids![order[i]];
  return {
    runId: run?.id ?? null,
    modelId: run?.modelId ?? null,
    get(cellId) {
      if (!run) return null;
      let lo = 0;
      let hi = n - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const v = sorted[mid];
        if (v === cellId) {
          const i = order[mid];
          return { classId: run.predicted[i], confidence: run.probability[i], margin: run.margin[i] };
        }
        if (v < cellId) lo = mid + 1;
        else hi = mid - 1;
      }
      return null;
    },
  };
}
