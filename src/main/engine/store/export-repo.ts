import type { CellKind, CellOrigin, LabelSource } from '../../../shared/domain';
import { blobF32, fromHalf, type CellRow, type CellShapeColumns, type CellStore } from './store';

/** SQL behind exports and reports: one streaming query over cells with their image, label and its provenance. */

export interface ExportCellFilter {
  imageIds?: number[];
  classIds?: number[];
  labeledOnly?: boolean;
  /**
   * Only cells whose current label a person confirmed in review: applied with source 'review', or equal to a
   * reader's decision or a consensus on that cell.
   */
  reviewedOnly?: boolean;
}

export interface ExportCellRow {
  id: number;
  imageId: number;
  imagePath: string;
  imageName: string;
  imageWidth: number;
  imageHeight: number;
  kind: CellKind;
  origin: CellOrigin;
  bbox: [number, number, number, number];
  centroid: [number, number];
  touchesBorder: boolean;
  contour: Float32Array | null;
  area: number | null;
  perimeter: number | null;
  circularity: number | null;
  convexity: number | null;
  eccentricity: number | null;
  meanColor: [number, number, number] | null;
  classId: number | null;
  className: string | null;
  annotator: string | null;
  labelSource: LabelSource | null;
  labeledAt: string | null;
}

function hasTable(store: CellStore, name: string): boolean {
  return !!store.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name);
}

function exportWhere(store: CellStore, f: ExportCellFilter): { clause: string; params: number[] } {
  const where: string[] = [];
  const params: number[] = [];
  if (f.imageIds?.length) {
    where.push(`c.image_id IN (${f.imageIds.map(() => '?').join(',')})`);
    params.push(...f.imageIds);
  }
  if (f.classIds?.length) {
    where.push(`l.class_id IN (${f.classIds.map(() => '?').join(',')})`);
    params.push(...f.classIds);
  }
  if (f.labeledOnly || f.reviewedOnly) where.push('l.class_id IS NOT NULL');
  if (f.reviewedOnly) {
    const consensus = hasTable(store, 'review_consensus')
      ? `OR EXISTS (SELECT 1 FROM review_consensus r WHERE r.cell_id = c.id AND r.class_id = l.class_id)`
      : '';
    where.push(`(b.source = 'review'
                 OR EXISTS (SELECT 1 FROM review_decisions d WHERE d.cell_id = c.id AND d.class_id = l.class_id)
                 ${consensus})`);
  }
  return { clause: where.length ? 'WHERE ' + where.join(' AND ') : '', params };
}

const EXPORT_JOINS = `FROM cells c JOIN images i ON i.id = c.image_id
               LEFT JOIN cell_labels l ON l.cell_id = c.id
               LEFT JOIN classes cl ON cl.id = l.class_id
               LEFT JOIN annotations a ON a.id = l.annotation_id
               LEFT JOIN label_batches b ON b.id = a.batch_id`;

export function countExportCells(store: CellStore, f: ExportCellFilter = {}): number {
  const { clause, params } = exportWhere(store, f);
  return (store.db.prepare(`SELECT count(*) AS n ${EXPORT_JOINS} ${clause}`).get(...params) as { n: number })
    .n;
}

/** Rows read per page: each page is read whole before any row is handed out. */
export const EXPORT_PAGE = 2000;

/**
 * Cells in image order (then id), so an exporter decodes each field image once. Read in keyset pages, never as one
 * open cursor: exporters await image decoding between rows, and an open cursor would make every other statement on
 * the project's single connection (job progress, the UI's queries) fail as "busy".
 */
export function* iterateExportCells(
  store: CellStore,
  f: ExportCellFilter = {},
): IterableIterator<ExportCellRow> {
  const { clause: filterClause, params: filterParams } = exportWhere(store, f);
  // A row value, not "image_id > ? OR (image_id = ? AND id > ?)": SQLite seeks the (image_id, rowid) index to the
  // key with it, where the OR form scans the index from the start on every page (quadratic at a million cells).
  const keyset = '(c.image_id, c.id) > (?, ?)';
  const clause = filterClause ? `${filterClause} AND ${keyset}` : `WHERE ${keyset}`;
  const sql = `SELECT c.id, c.image_id, i.path AS image_path, i.name AS image_name, i.width AS image_width,
                      i.height AS image_height, c.kind, c.origin, c.x, c.y, c.w, c.h, c.cx, c.cy, c.touches_border,
                      c.contour, c.area, c.perimeter, c.circularity, c.convexity, c.eccentricity,
                      c.mean_r, c.mean_g, c.mean_b, l.class_id, cl.name AS class_name, b.annotator, b.source,
                      a.created_at AS labeled_at
               ${EXPORT_JOINS}
               ${clause}
               ORDER BY c.image_id, c.id LIMIT ${EXPORT_PAGE}`;
  const stmt = store.db.prepare(sql);
  let lastImage = -1;
  let lastId = -1;
  for (;;) {
    const page = stmt.all(...filterParams, lastImage, lastId) as Array<
      CellRow &
        CellShapeColumns & {
          image_path: string;
          image_name: string;
          image_width: number;
          image_height: number;
          mean_r: number | null;
          mean_g: number | null;
          mean_b: number | null;
          class_name: string | null;
          annotator: string | null;
          source: LabelSource | null;
          labeled_at: string | null;
        }
    >;
    for (const r of page) {
      lastImage = r.image_id;
      lastId = r.id;
      yield {
        id: r.id,
        imageId: r.image_id,
        imagePath: r.image_path,
        imageName: r.image_name,
        imageWidth: r.image_width,
        imageHeight: r.image_height,
        kind: r.kind,
        origin: r.origin,
        bbox: [r.x, r.y, r.w, r.h],
        centroid: [r.cx, r.cy],
        touchesBorder: r.touches_border === 1,
        contour: r.contour ? blobF32(r.contour) : null,
        area: r.area,
        perimeter: r.perimeter,
        circularity: r.circularity,
        convexity: r.convexity,
        eccentricity: r.eccentricity,
        meanColor:
          r.mean_r != null && r.mean_g != null && r.mean_b != null ? [r.mean_r, r.mean_g, r.mean_b] : null,
        classId: r.class_id,
        className: r.class_name,
        annotator: r.annotator,
        labelSource: r.source,
        labeledAt: r.labeled_at,
      };
    }
    if (page.length < EXPORT_PAGE) return;
  }
}

/**
 * Vectors of one model for a page of cells (at most a few thousand), written into `out` at each cell's row (row k
 * for cellIds[k]); the returned mask says which cells have one. A streaming export reads the vectors page by page
 * with its cell rows instead of holding the whole N x D matrix.
 */
export function embeddingsPage(
  store: CellStore,
  modelId: number,
  cellIds: readonly number[],
  dims: number,
  out: Float32Array,
): Uint8Array {
  const has = new Uint8Array(cellIds.length);
  if (cellIds.length === 0) return has;
  const row = new Map<number, number>();
  cellIds.forEach((id, k) => row.set(id, k));
  const rows = store.db
    .prepare(
      `SELECT cell_id, dtype, vector FROM embeddings WHERE model_id = ? AND cell_id IN (${cellIds.map(() => '?').join(',')})`,
    )
    .raw()
    .all(modelId, ...cellIds) as Array<[number, 'f32' | 'f16', Buffer]>;
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  for (const [id, dtype, vector] of rows) {
    const k = row.get(id)!;
    if (dtype === 'f32') {
      if (vector.byteLength !== dims * 4)
        throw new Error(`cell ${id}: vector of ${vector.byteLength / 4} dims, expected ${dims}`);
      bytes.set(vector, k * dims * 4);
    } else {
      if (vector.byteLength !== dims * 2)
        throw new Error(`cell ${id}: vector of ${vector.byteLength / 2} dims, expected ${dims}`);
      for (let j = 0; j < dims; j++) out[k * dims + j] = fromHalf(vector.readUInt16LE(2 * j));
    }
    has[k] = 1;
  }
  return has;
}
