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

export function predictionLookup(run: PredictionRun | null): PredictionLookup {
  const index = new Map<number, number>();
  if (run) for (let i = 0; i < run.cellIds.length; i++) index.set(run.cellIds[i], i);
  return {
    runId: run?.id ?? null,
    modelId: run?.modelId ?? null,
    get(cellId) {
      const i = index.get(cellId);
      if (i === undefined || !run) return null;
      return { classId: run.predicted[i], confidence: run.probability[i], margin: run.margin[i] };
    },
  };
}
