import { csvRow } from '../formats/csv';
import type { ExportCellRow } from '../store/export-repo';
import type { PredictionLookup } from './selection';

export const CELLS_CSV_COLUMNS = [
  'cell_id',
  'image_id',
  'image',
  'image_path',
  'kind',
  'origin',
  'x',
  'y',
  'w',
  'h',
  'cx',
  'cy',
  'touches_border',
  'area',
  'perimeter',
  'circularity',
  'convexity',
  'eccentricity',
  'mean_r',
  'mean_g',
  'mean_b',
  'label',
  'label_id',
  'annotator',
  'label_source',
  'labeled_at',
  'predicted',
  'predicted_id',
  'confidence',
  'margin',
  'prediction_run_id',
] as const;

const r4 = (v: number | null): number | null => (v == null ? null : Math.round(v * 1e4) / 1e4);

/** One CSV line for a cell: ids, image, bbox, morphometrics, current label and provenance, prediction. */
export function cellCsvLine(
  r: ExportCellRow,
  classNames: Map<number, string>,
  pred: PredictionLookup,
): string {
  const p = pred.get(r.id);
  return csvRow([
    r.id,
    r.imageId,
    r.imageName,
    r.imagePath,
    r.kind,
    r.origin,
    r4(r.bbox[0]),
    r4(r.bbox[1]),
    r4(r.bbox[2]),
    r4(r.bbox[3]),
    r4(r.centroid[0]),
    r4(r.centroid[1]),
    r.touchesBorder,
    r4(r.area),
    r4(r.perimeter),
    r4(r.circularity),
    r4(r.convexity),
    r4(r.eccentricity),
    r4(r.meanColor?.[0] ?? null),
    r4(r.meanColor?.[1] ?? null),
    r4(r.meanColor?.[2] ?? null),
    r.className,
    r.classId,
    r.annotator,
    r.labelSource,
    r.labeledAt,
    p ? (classNames.get(p.classId) ?? String(p.classId)) : null,
    p?.classId ?? null,
    p ? r4(p.confidence) : null,
    p ? r4(p.margin) : null,
    p ? pred.runId : null,
  ]);
}

export function cellsCsvHeader(): string {
  return csvRow(CELLS_CSV_COLUMNS);
}
