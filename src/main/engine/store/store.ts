import path from 'node:path';
import type { Statement } from 'better-sqlite3';
import type {
  AnnotationEvent,
  CellDetail,
  CellKind,
  CellOrigin,
  CellSummary,
  ClassDef,
  JobInfo,
  JobKind,
  JobState,
  LabelSource,
  ModelInfo,
  ProjectStats,
  Slide,
} from '../../../shared/domain';
import { EXTRA_CLASS_COLORS, RESERVED_KEYS } from '../../../shared/taxonomy';
import { openDatabase, type Db, type OpenOptions, MEDIA_DIR } from './db';
import { StoreError } from './errors';
import { SCHEMA_VERSION } from './migrations/index';

export interface NewImage {
  path: string;
  name: string;
  sha256: string;
  width: number;
  height: number;
  format: string;
  bitDepth?: number;
  kind?: 'field' | 'crop';
  source?: string | null;
  subject?: string | null;
  stain?: string | null;
}

export interface NewCell {
  kind: CellKind;
  origin: CellOrigin;
  bbox: [number, number, number, number];
  centroid: [number, number];
  touchesBorder?: boolean;
  contour?: Float32Array | null;
  area?: number | null;
  perimeter?: number | null;
  circularity?: number | null;
  convexity?: number | null;
  eccentricity?: number | null;
  meanColor?: [number, number, number] | null;
  thumbnail?: Buffer | null;
}

export interface LabelRequest {
  cellIds: number[];
  /** null retracts the label. */
  classId: number | null;
  source: LabelSource;
  annotator: string;
  sessionId?: number | null;
  modelId?: number | null;
  runId?: number | null;
  note?: string | null;
}

export interface NewModel {
  name: string;
  kind: 'morphology' | 'vit-onnx';
  path?: string | null;
  fileSha256?: string | null;
  dims: number;
  inputSize?: number | null;
  mean?: number[] | null;
  std?: number[] | null;
  arch?: string | null;
}

export interface ModelRecord extends ModelInfo {
  path: string | null;
  fileSha256: string | null;
  mean: number[] | null;
  std: number[] | null;
}

export interface PredictionRun {
  id: number;
  modelId: number;
  classifier: string;
  labeledCount: number;
  classIds: number[];
  cellIds: Int32Array;
  predicted: Int32Array;
  probability: Float32Array;
  margin: Float32Array;
  createdAt: string;
}

export interface CellQuery {
  imageIds?: number[];
  classIds?: number[];
  /** 'unlabeled' selects cells with no current label. */
  labeled?: 'labeled' | 'unlabeled' | 'any';
  kinds?: CellKind[];
  cellIds?: number[];
  sort?: 'id' | 'image' | 'class' | 'confidence' | 'uncertainty';
  offset?: number;
  limit?: number;
}

const now = (): string => new Date().toISOString();

function f32Blob(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function blobF32(b: Buffer): Float32Array {
  // Copy: SQLite blobs are not guaranteed to be 4-byte aligned.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

function mergeNote(fromId: number, intoId: number, hotkey: string | null): string {
  return `merge ${fromId} into ${intoId}${hotkey ? ` key ${hotkey}` : ''}`;
}

function parseMergeNote(
  note: string | null,
): { fromId: number; intoId: number; hotkey: string | null } | null {
  const m = note ? /^merge (\d+) into (\d+)(?: key (.))?$/.exec(note) : null;
  return m ? { fromId: Number(m[1]), intoId: Number(m[2]), hotkey: m[3] ?? null } : null;
}

function blobI32(b: Buffer): Int32Array {
  const out = new Int32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

interface ClassRow {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
  description: string;
  is_rbc: number;
  is_infected: number;
  needs_review: number;
  hidden: number;
}

/** A cells row as SELECTed with its current label's class (the export queries add image and label columns). */
export interface CellRow {
  id: number;
  image_id: number;
  kind: CellKind;
  origin: CellOrigin;
  x: number;
  y: number;
  w: number;
  h: number;
  cx: number;
  cy: number;
  touches_border: number;
  class_id: number | null;
}

/** The outline and morphometric columns of a cell row (null for cells stored without them). */
export interface CellShapeColumns {
  contour: Buffer | null;
  area: number | null;
  perimeter: number | null;
  circularity: number | null;
  convexity: number | null;
  eccentricity: number | null;
}

/** What a label batch came from, copied onto the undo and redo batches that revert or replay it. */
interface BatchOrigin {
  session_id: number | null;
  model_id: number | null;
  run_id: number | null;
}

/**
 * The project's cell store. All SQL lives here and in the migrations: the rest of the engine calls these
 * repository methods, so a shared PostgreSQL store can later implement the same surface.
 */
export class CellStore {
  readonly db: Db;
  readonly dir: string;
  private stmts = new Map<string, Statement>();

  private constructor(dir: string, db: Db) {
    this.dir = dir;
    this.db = db;
  }

  static open(dir: string, opts: OpenOptions = {}): CellStore {
    const abs = path.resolve(dir);
    return new CellStore(abs, openDatabase(abs, opts));
  }

  static create(dir: string): CellStore {
    return CellStore.open(dir, { create: true });
  }

  get mediaDir(): string {
    return path.join(this.dir, MEDIA_DIR);
  }

  get schemaVersion(): number {
    return SCHEMA_VERSION;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private stmt(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- settings -------------------------------------------------------------------------------------------

  getSetting(key: string): string | null {
    const row = this.stmt(`SELECT value FROM meta WHERE key = ?`).get(`setting:${key}`) as
      { value: string } | undefined;
    return row?.value ?? null;
  }

  setSetting(key: string, value: string): void {
    this.stmt(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    ).run(`setting:${key}`, value);
  }

  // ---- images ---------------------------------------------------------------------------------------------

  findImageBySha(sha256: string): number | null {
    const row = this.stmt(`SELECT id FROM images WHERE sha256 = ?`).get(sha256) as { id: number } | undefined;
    return row?.id ?? null;
  }

  addImage(img: NewImage): number {
    const r = this.stmt(
      `INSERT INTO images (path, name, sha256, width, height, format, bit_depth, kind, source, subject, stain, added_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      img.path,
      img.name,
      img.sha256,
      img.width,
      img.height,
      img.format,
      img.bitDepth ?? 8,
      img.kind ?? 'field',
      img.source ?? null,
      img.subject ?? null,
      img.stain ?? null,
      now(),
    );
    return Number(r.lastInsertRowid);
  }

  /** Adds an image and its cells atomically: a crash leaves either both or neither, so a re-run resumes cleanly. */
  addImageWithCells(img: NewImage, cells: NewCell[]): { imageId: number; cellIds: number[] } {
    return this.transaction(() => {
      const imageId = this.addImage(img);
      const cellIds = cells.map((c) => this.addCell(imageId, c));
      return { imageId, cellIds };
    });
  }

  addCell(imageId: number, c: NewCell): number {
    const r = this.stmt(
      `INSERT INTO cells (image_id, kind, origin, x, y, w, h, cx, cy, touches_border, contour, area, perimeter,
         circularity, convexity, eccentricity, mean_r, mean_g, mean_b, thumbnail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      imageId,
      c.kind,
      c.origin,
      c.bbox[0],
      c.bbox[1],
      c.bbox[2],
      c.bbox[3],
      c.centroid[0],
      c.centroid[1],
      c.touchesBorder ? 1 : 0,
      c.contour ? f32Blob(c.contour) : null,
      c.area ?? null,
      c.perimeter ?? null,
      c.circularity ?? null,
      c.convexity ?? null,
      c.eccentricity ?? null,
      c.meanColor?.[0] ?? null,
      c.meanColor?.[1] ?? null,
      c.meanColor?.[2] ?? null,
      c.thumbnail ?? null,
    );
    return Number(r.lastInsertRowid);
  }

  listSlides(): Slide[] {
    const rows = this.stmt(
      `SELECT i.id, i.name, i.path, i.width, i.height, i.source, i.subject, i.kind,
              (SELECT count(*) FROM cells c WHERE c.image_id = i.id) AS cell_count,
              (SELECT count(*) FROM cells c JOIN cell_labels l ON l.cell_id = c.id WHERE c.image_id = i.id) AS labeled
       FROM images i ORDER BY i.id`,
    ).all() as Array<{
      id: number;
      name: string;
      path: string;
      width: number;
      height: number;
      source: string | null;
      subject: string | null;
      kind: 'field' | 'crop';
      cell_count: number;
      labeled: number;
    }>;
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      path: r.path,
      width: r.width,
      height: r.height,
      source: r.source,
      subject: r.subject,
      kind: r.kind,
      cellCount: r.cell_count,
      labeledCount: r.labeled,
    }));
  }

  getImage(id: number): (NewImage & { id: number }) | null {
    const r = this.stmt(`SELECT * FROM images WHERE id = ?`).get(id) as
      | {
          id: number;
          path: string;
          name: string;
          sha256: string;
          width: number;
          height: number;
          format: string;
          bit_depth: number;
          kind: 'field' | 'crop';
          source: string | null;
          subject: string | null;
          stain: string | null;
        }
      | undefined;
    if (!r) return null;
    return {
      id: r.id,
      path: r.path,
      name: r.name,
      sha256: r.sha256,
      width: r.width,
      height: r.height,
      format: r.format,
      bitDepth: r.bit_depth,
      kind: r.kind,
      source: r.source,
      subject: r.subject,
      stain: r.stain,
    };
  }

  // ---- cells ----------------------------------------------------------------------------------------------

  cellCount(): number {
    return (this.stmt(`SELECT count(*) AS n FROM cells`).get() as { n: number }).n;
  }

  allCellIds(): Int32Array {
    const rows = this.stmt(`SELECT id FROM cells ORDER BY id`).raw().all() as number[][];
    return Int32Array.from(rows, (r) => r[0]);
  }

  getThumbnail(cellId: number): Buffer | null {
    const r = this.stmt(`SELECT thumbnail FROM cells WHERE id = ?`).get(cellId) as
      { thumbnail: Buffer | null } | undefined;
    return r?.thumbnail ?? null;
  }

  private cellFilter(q: CellQuery): { where: string; params: Array<number | string> } {
    const where: string[] = [];
    const params: Array<number | string> = [];
    const inList = (col: string, vals: Array<number | string>) => {
      where.push(`${col} IN (${vals.map(() => '?').join(',')})`);
      params.push(...vals);
    };
    if (q.imageIds?.length) inList('c.image_id', q.imageIds);
    if (q.classIds?.length) inList('l.class_id', q.classIds);
    if (q.kinds?.length) inList('c.kind', q.kinds);
    if (q.cellIds?.length) inList('c.id', q.cellIds);
    if (q.labeled === 'labeled') where.push('l.class_id IS NOT NULL');
    if (q.labeled === 'unlabeled') where.push('l.class_id IS NULL');
    return { where: where.length ? 'WHERE ' + where.join(' AND ') : '', params };
  }

  countCells(q: CellQuery = {}): number {
    const f = this.cellFilter(q);
    const sql = `SELECT count(*) AS n FROM cells c LEFT JOIN cell_labels l ON l.cell_id = c.id ${f.where}`;
    return (this.db.prepare(sql).get(...f.params) as { n: number }).n;
  }

  /** Contours of every cell of one image in one pass (bbox rectangles where no contour was traced). */
  cellOutlines(imageId: number): { cellIds: Int32Array; offsets: Int32Array; xy: Float32Array } {
    const rows = this.stmt(`SELECT id, x, y, w, h, contour FROM cells WHERE image_id = ? ORDER BY id`).all(
      imageId,
    ) as Array<{
      id: number;
      x: number;
      y: number;
      w: number;
      h: number;
      contour: Buffer | null;
    }>;
    const polys = rows.map((r) =>
      r.contour
        ? blobF32(r.contour)
        : Float32Array.from([r.x, r.y, r.x + r.w, r.y, r.x + r.w, r.y + r.h, r.x, r.y + r.h]),
    );
    const offsets = new Int32Array(rows.length + 1);
    polys.forEach((p, i) => (offsets[i + 1] = offsets[i] + p.length / 2));
    const xy = new Float32Array(offsets[rows.length] * 2);
    polys.forEach((p, i) => xy.set(p, offsets[i] * 2));
    return { cellIds: Int32Array.from(rows, (r) => r.id), offsets, xy };
  }

  queryCells(q: CellQuery = {}, predictions?: PredictionRun | null): CellSummary[] {
    const { where, params } = this.cellFilter(q);
    const order = q.sort === 'image' ? 'c.image_id, c.id' : q.sort === 'class' ? 'l.class_id, c.id' : 'c.id';
    const sql = `SELECT c.id, c.image_id, c.kind, c.origin, c.x, c.y, c.w, c.h, c.cx, c.cy, c.touches_border,
                        l.class_id
                 FROM cells c LEFT JOIN cell_labels l ON l.cell_id = c.id
                 ${where} ORDER BY ${order}`;
    const sortsByPrediction = q.sort === 'confidence' || q.sort === 'uncertainty';
    const paged = sortsByPrediction ? sql : `${sql} LIMIT ${q.limit ?? -1} OFFSET ${q.offset ?? 0}`;
    const rows = this.db.prepare(paged).all(...params) as CellRow[];
    const pred = predictions ? predictionLookup(predictions) : null;
    let cells = rows.map((r) => toSummary(r, pred));
    if (sortsByPrediction) {
      const key = (c: CellSummary) => (q.sort === 'confidence' ? -(c.confidence ?? -1) : (c.margin ?? 2));
      cells.sort((a, b) => key(a) - key(b) || a.id - b.id);
      cells = cells.slice(q.offset ?? 0, q.limit != null ? (q.offset ?? 0) + q.limit : undefined);
    }
    return cells;
  }

  getCell(id: number, predictions?: PredictionRun | null): CellDetail | null {
    const r = this.stmt(
      `SELECT c.*, l.class_id, i.name AS image_name FROM cells c
       JOIN images i ON i.id = c.image_id
       LEFT JOIN cell_labels l ON l.cell_id = c.id WHERE c.id = ?`,
    ).get(id) as
      | (CellRow &
          CellShapeColumns & {
            image_name: string;
          })
      | undefined;
    if (!r) return null;
    const pred = predictions ? predictionLookup(predictions) : null;
    return {
      ...toSummary(r, pred),
      origin: r.origin,
      touchesBorder: r.touches_border === 1,
      contour: r.contour ? Array.from(blobF32(r.contour)) : [],
      morph: {
        area: r.area ?? 0,
        perimeter: r.perimeter ?? 0,
        circularity: r.circularity ?? 0,
        convexity: r.convexity ?? 0,
        eccentricity: r.eccentricity ?? 0,
      },
      imageName: r.image_name,
    };
  }

  /** Cells of many images for bulk work (embedding, export) in id order, without thumbnails. */
  *iterateCells(opts: { imageId?: number; afterId?: number } = {}): IterableIterator<{
    id: number;
    imageId: number;
    kind: CellKind;
    origin: CellOrigin;
    bbox: [number, number, number, number];
    contour: Float32Array | null;
  }> {
    const sql = `SELECT id, image_id, kind, origin, x, y, w, h, contour FROM cells
                 WHERE id > ? ${opts.imageId != null ? 'AND image_id = ?' : ''} ORDER BY id`;
    const args: number[] = [opts.afterId ?? 0];
    if (opts.imageId != null) args.push(opts.imageId);
    for (const r of this.db.prepare(sql).iterate(...args) as IterableIterator<
      CellRow & { contour: Buffer | null }
    >) {
      yield {
        id: r.id,
        imageId: r.image_id,
        kind: r.kind,
        origin: r.origin,
        bbox: [r.x, r.y, r.w, r.h],
        contour: r.contour ? blobF32(r.contour) : null,
      };
    }
  }

  // ---- classes --------------------------------------------------------------------------------------------

  /** The classes in use (not merged away); hidden ones only with `includeHidden`, marked `hidden: true`. */
  listClasses(opts: { includeHidden?: boolean } = {}): ClassDef[] {
    const rows = this.stmt(
      `SELECT id, name, color, hotkey, description, is_rbc, is_infected, needs_review, hidden FROM classes
       WHERE merged_into IS NULL AND (hidden = 0 OR ?) ORDER BY sort_order, id`,
    ).all(opts.includeHidden ? 1 : 0) as ClassRow[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      color: r.color,
      // A hidden class keeps its key in reserve (see updateClass) but has none while hidden.
      hotkey: r.hidden === 1 ? null : r.hotkey,
      description: r.description,
      isRbc: r.is_rbc === 1,
      isInfected: r.is_infected === 1,
      needsReview: r.needs_review === 1,
      ...(r.hidden === 1 ? { hidden: true } : {}),
    }));
  }

  /** Throws unless `hotkey` (upper case) is free for class `forId` (a new class when undefined). */
  private checkHotkey(hotkey: string, forId?: number): void {
    if (hotkey.length !== 1) throw new StoreError('invalid', `Hotkey "${hotkey}" must be a single key.`);
    if (RESERVED_KEYS.includes(hotkey)) {
      throw new StoreError('invalid', `Key "${hotkey}" is reserved for accept/reject/undo; choose another.`);
    }
    const taken = this.listClasses().find((c) => c.hotkey === hotkey && c.id !== forId);
    if (taken)
      throw new StoreError('invalid', `Key "${hotkey}" already labels "${taken.name}"; choose another.`);
  }

  /**
   * A class hidden while it had a hotkey keeps that key in its row, so showing it again brings the key back. Any
   * other class taking the key (the column is UNIQUE) first takes it from the hidden one, which then comes back
   * without a key. Call inside the transaction that assigns `hotkey` to class `forId`.
   */
  private takeHotkeyFromHidden(hotkey: string, forId?: number): void {
    this.stmt(`UPDATE classes SET hotkey = NULL WHERE hotkey = ? AND hidden = 1 AND id IS NOT ?`).run(
      hotkey,
      forId ?? null,
    );
  }

  /** Names stay unique over merged classes too (the table's constraint); say so instead of a raw SQL error. */
  private checkNameFree(name: string, forId?: number): void {
    const merged = this.stmt(
      `SELECT c.name, i.name AS into_name FROM classes c JOIN classes i ON i.id = c.merged_into
       WHERE c.name = ? COLLATE NOCASE AND c.id IS NOT ?`,
    ).get(name, forId ?? null) as { name: string; into_name: string } | undefined;
    if (merged) {
      throw new StoreError(
        'invalid',
        `"${merged.name}" was merged into "${merged.into_name}" and its history keeps the name; choose another.`,
      );
    }
  }

  /** Hidden classes are found too (a name stays taken while the label log still uses it). */
  findClass(nameOrId: string | number): ClassDef | null {
    const all = this.listClasses({ includeHidden: true });
    if (typeof nameOrId === 'number') return all.find((c) => c.id === nameOrId) ?? null;
    const n = nameOrId.trim().toLowerCase();
    return all.find((c) => c.name.toLowerCase() === n) ?? null;
  }

  /** Adds a class, or returns the existing one of that name (case-insensitive) unchanged. */
  addClass(input: {
    name: string;
    color?: string;
    hotkey?: string | null;
    description?: string;
    isRbc?: boolean;
  }): {
    cls: ClassDef;
    created: boolean;
  } {
    const name = input.name.trim();
    if (!name) throw new StoreError('invalid', 'A class needs a non-empty name.');
    const existing = this.findClass(name);
    if (existing?.hidden) {
      // Adding a hidden class's name again brings that class back (its history stays attached).
      this.updateClass(existing.id, { hidden: false, color: input.color, hotkey: input.hotkey ?? undefined });
      return { cls: this.findClass(existing.id)!, created: false };
    }
    if (existing) return { cls: existing, created: false };
    this.checkNameFree(name);
    const hotkey = input.hotkey ? input.hotkey.toUpperCase() : null;
    if (hotkey) this.checkHotkey(hotkey);
    if (input.color && !/^#[0-9a-fA-F]{6}$/.test(input.color)) {
      throw new StoreError('invalid', `Colour "${input.color}" must look like #RRGGBB.`);
    }
    const count = (
      this.stmt(`SELECT count(*) AS n, max(sort_order) AS m FROM classes`).get() as { n: number; m: number }
    ).m;
    const color = input.color ?? EXTRA_CLASS_COLORS[(count + 1) % EXTRA_CLASS_COLORS.length];
    const id = this.transaction(() => {
      if (hotkey) this.takeHotkeyFromHidden(hotkey);
      return Number(
        this.stmt(
          `INSERT INTO classes (name, color, hotkey, description, sort_order, is_rbc) VALUES (?, ?, ?, ?, ?, ?)`,
        ).run(name, color, hotkey, input.description ?? '', count + 1, input.isRbc === false ? 0 : 1)
          .lastInsertRowid,
      );
    });
    return { cls: this.findClass(id)!, created: true };
  }

  /**
   * Renames, recolours, re-keys, flags or hides/shows a class. Hiding is refused while cells carry the class
   * (merge it instead) and frees its hotkey for other classes; shown again, the class gets its key back unless
   * another class took it meanwhile (takeHotkeyFromHidden).
   */
  updateClass(
    id: number,
    patch: { name?: string; color?: string; hotkey?: string | null; needsReview?: boolean; hidden?: boolean },
  ): void {
    const c = this.findClass(id);
    if (!c) throw new StoreError('not-found', `No class with id ${id}.`);
    const hotkey = patch.hotkey ? patch.hotkey.toUpperCase() : patch.hotkey;
    if (hotkey) {
      if (patch.hidden ?? c.hidden)
        throw new StoreError('invalid', `A hidden class has no hotkey; show it first.`);
      this.checkHotkey(hotkey, id);
    }
    if (patch.color !== undefined && !/^#[0-9a-fA-F]{6}$/.test(patch.color)) {
      throw new StoreError('invalid', `Colour "${patch.color}" must look like #RRGGBB.`);
    }
    if (patch.hidden && !c.hidden) {
      const n = this.classCellCount(id);
      if (n > 0) {
        throw new StoreError(
          'invalid',
          `"${c.name}" still labels ${n} cell${n === 1 ? '' : 's'}: merge it into another class instead.`,
        );
      }
    }
    this.transaction(() => {
      if (patch.name !== undefined) {
        const name = patch.name.trim();
        if (!name) throw new StoreError('invalid', 'A class needs a non-empty name.');
        const other = this.findClass(name);
        if (other && other.id !== id)
          throw new StoreError('invalid', `A class named "${name}" already exists.`);
        this.checkNameFree(name, id);
        this.stmt(`UPDATE classes SET name = ? WHERE id = ?`).run(name, id);
      }
      if (patch.color !== undefined)
        this.stmt(`UPDATE classes SET color = ? WHERE id = ?`).run(patch.color, id);
      if (hotkey) this.takeHotkeyFromHidden(hotkey, id);
      if (hotkey !== undefined) this.stmt(`UPDATE classes SET hotkey = ? WHERE id = ?`).run(hotkey, id);
      if (patch.needsReview !== undefined) {
        this.stmt(`UPDATE classes SET needs_review = ? WHERE id = ?`).run(patch.needsReview ? 1 : 0, id);
      }
      if (patch.hidden !== undefined) {
        this.stmt(`UPDATE classes SET hidden = ? WHERE id = ?`).run(patch.hidden ? 1 : 0, id);
      }
    });
  }

  /** Cells whose current label is the class. */
  classCellCount(id: number): number {
    return (this.stmt(`SELECT count(*) AS n FROM cell_labels WHERE class_id = ?`).get(id) as { n: number }).n;
  }

  /**
   * Removes a class no cell carries. One that nothing ever referenced (label log, review decisions, merges,
   * prediction runs, signatures) is deleted; one the history still names is hidden instead, so the audit trail
   * keeps its name.
   */
  removeClass(id: number): 'deleted' | 'hidden' {
    const c = this.findClass(id);
    if (!c) throw new StoreError('not-found', `No class with id ${id}.`);
    const n = this.classCellCount(id);
    if (n > 0) {
      throw new StoreError(
        'invalid',
        `"${c.name}" still labels ${n} cell${n === 1 ? '' : 's'}: merge it into another class instead.`,
      );
    }
    const referenced = this.stmt(
      `SELECT EXISTS (SELECT 1 FROM annotations WHERE class_id = @id OR prev_class_id = @id)
           OR EXISTS (SELECT 1 FROM review_decisions WHERE class_id = @id)
           OR EXISTS (SELECT 1 FROM review_consensus WHERE class_id = @id)
           OR EXISTS (SELECT 1 FROM classes WHERE merged_into = @id)
           OR EXISTS (SELECT 1 FROM prediction_runs, json_each(prediction_runs.class_ids) j WHERE j.value = @id)
           OR EXISTS (SELECT 1 FROM slide_signatures, json_each(slide_signatures.flagged_class_ids) j
                      WHERE j.value = @id) AS used`,
    ).get({ id }) as { used: number };
    if (referenced.used) {
      this.updateClass(id, { hidden: true });
      return 'hidden';
    }
    this.stmt(`DELETE FROM classes WHERE id = ?`).run(id);
    return 'deleted';
  }

  /**
   * Merges `fromId` into `intoId`: its cells are relabeled through the annotation log as one undoable step (the
   * batch note records the merge, so undo brings the class back and redo merges it again), and the class leaves
   * the list. Returns the batch id, 0 when no cell carried the class (then there is nothing to undo).
   */
  mergeClass(fromId: number, intoId: number, annotator: string): number {
    const from = this.findClass(fromId);
    const into = this.findClass(intoId);
    if (!from) throw new StoreError('not-found', `No class with id ${fromId}.`);
    if (!into) throw new StoreError('not-found', `No class with id ${intoId}.`);
    if (fromId === intoId) throw new StoreError('invalid', 'A class cannot be merged into itself.');
    if (into.hidden)
      throw new StoreError('invalid', `"${into.name}" is hidden; show it before merging into it.`);
    return this.transaction(() => {
      const cells = (
        this.stmt(`SELECT cell_id FROM cell_labels WHERE class_id = ?`).raw().all(fromId) as number[][]
      ).map((r) => r[0]);
      const batch = cells.length
        ? this.applyLabels({
            cellIds: cells,
            classId: intoId,
            source: 'bulk',
            annotator,
            note: mergeNote(fromId, intoId, from.hotkey),
          })
        : 0;
      this.stmt(`UPDATE classes SET merged_into = ?, hotkey = NULL WHERE id = ?`).run(intoId, fromId);
      return batch;
    });
  }

  /** Undo/redo of a merge batch also un-merges/re-merges its class, so undone cells never carry a vanished class. */
  private replayMerge(batchId: number, direction: 'undo' | 'redo'): boolean {
    // A redo batch carries no note of its own: the merge is named by the apply batch at the end of its chain
    // (undo of a redo of a merge must un-merge too, or the cells would come back to a vanished class).
    const row = this.stmt(
      `WITH RECURSIVE chain(id, action, target_batch, note) AS (
         SELECT id, action, target_batch, note FROM label_batches WHERE id = ?
         UNION ALL
         SELECT b.id, b.action, b.target_batch, b.note FROM label_batches b
         JOIN chain c ON b.id = c.target_batch WHERE c.action = 'redo'
       )
       SELECT note FROM chain WHERE action = 'apply'`,
    ).get(batchId) as { note: string | null } | undefined;
    const m = parseMergeNote(row?.note ?? null);
    if (!m) return false;
    if (direction === 'redo') {
      this.stmt(`UPDATE classes SET merged_into = ?, hotkey = NULL WHERE id = ?`).run(m.intoId, m.fromId);
      return true;
    }
    this.stmt(`UPDATE classes SET merged_into = NULL, hidden = 0 WHERE id = ?`).run(m.fromId);
    // Its old key comes back only if no other class took it meanwhile.
    if (m.hotkey && !this.listClasses().some((c) => c.hotkey === m.hotkey)) {
      this.takeHotkeyFromHidden(m.hotkey, m.fromId);
      this.stmt(`UPDATE classes SET hotkey = ? WHERE id = ?`).run(m.hotkey, m.fromId);
    }
    return true;
  }

  // ---- labels: append-only log ----------------------------------------------------------------------------

  private currentLabel(cellId: number): number | null {
    const r = this.stmt(`SELECT class_id FROM cell_labels WHERE cell_id = ?`).get(cellId) as
      { class_id: number } | undefined;
    return r?.class_id ?? null;
  }

  private appendAnnotation(batchId: number, cellId: number, classId: number | null, ts: string): void {
    const prev = this.currentLabel(cellId);
    const r = this.stmt(
      `INSERT INTO annotations (batch_id, cell_id, class_id, prev_class_id, created_at) VALUES (?, ?, ?, ?, ?)`,
    ).run(batchId, cellId, classId, prev, ts);
    if (classId == null) this.stmt(`DELETE FROM cell_labels WHERE cell_id = ?`).run(cellId);
    else {
      this.stmt(
        `INSERT INTO cell_labels (cell_id, class_id, annotation_id) VALUES (?, ?, ?)
         ON CONFLICT(cell_id) DO UPDATE SET class_id = excluded.class_id, annotation_id = excluded.annotation_id`,
      ).run(cellId, classId, Number(r.lastInsertRowid));
    }
  }

  /** Labels cells as one undoable action; returns the batch id (0 when nothing changed). */
  applyLabels(req: LabelRequest): number {
    const target = req.classId != null ? this.findClass(req.classId) : null;
    if (req.classId != null && !target) {
      throw new StoreError('not-found', `No class with id ${req.classId}.`);
    }
    if (target?.hidden) {
      throw new StoreError(
        'invalid',
        `"${target.name}" is hidden; show it again in Classes before labeling with it.`,
      );
    }
    const unique = [...new Set(req.cellIds)];
    return this.transaction(() => {
      const missing = unique.filter((id) => !this.stmt(`SELECT 1 FROM cells WHERE id = ?`).get(id));
      if (missing.length) {
        throw new StoreError(
          'not-found',
          `No cell with id ${missing.slice(0, 5).join(', ')} in this project.`,
        );
      }
      const changed = unique.filter((id) => this.currentLabel(id) !== req.classId);
      if (changed.length === 0) return 0;
      const ts = now();
      const batch = Number(
        this.stmt(
          `INSERT INTO label_batches (action, source, annotator, session_id, model_id, run_id, note, created_at)
           VALUES ('apply', ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          req.source,
          req.annotator,
          req.sessionId ?? null,
          req.modelId ?? null,
          req.runId ?? null,
          req.note ?? null,
          ts,
        ).lastInsertRowid,
      );
      for (const id of changed) this.appendAnnotation(batch, id, req.classId, ts);
      return batch;
    });
  }

  /** Cells an action labeled. */
  batchSize(batchId: number): number {
    return (
      this.stmt(`SELECT count(*) AS n FROM annotations WHERE batch_id = ?`).get(batchId) as { n: number }
    ).n;
  }

  /** Reverts the newest active action by appending its inverse; returns the cells touched, or null if none. */
  undo(annotator: string): { batchId: number; cellIds: number[]; classesChanged: boolean } | null {
    return this.transaction(() => {
      const target = this.stmt(
        `SELECT id, source, session_id, model_id, run_id FROM label_batches
         WHERE action IN ('apply', 'redo') AND state = 'active' ORDER BY id DESC LIMIT 1`,
      ).get() as (BatchOrigin & { id: number; source: LabelSource }) | undefined;
      if (!target) return null;
      const rows = this.stmt(
        `SELECT cell_id, prev_class_id FROM annotations WHERE batch_id = ? ORDER BY id DESC`,
      ).all(target.id) as Array<{ cell_id: number; prev_class_id: number | null }>;
      const ts = now();
      const batch = Number(
        this.stmt(
          `INSERT INTO label_batches (action, target_batch, source, annotator, created_at, session_id, model_id, run_id)
           VALUES ('undo', ?, ?, ?, ?, ?, ?, ?)`,
        ).run(target.id, target.source, annotator, ts, target.session_id, target.model_id, target.run_id)
          .lastInsertRowid,
      );
      let classesChanged = this.replayMerge(target.id, 'undo');
      for (const r of rows) this.appendAnnotation(batch, r.cell_id, r.prev_class_id, ts);
      classesChanged = this.showClassesOf(batch) || classesChanged;
      this.stmt(`UPDATE label_batches SET state = 'undone', undone_by = ? WHERE id = ?`).run(
        batch,
        target.id,
      );
      return { batchId: batch, cellIds: rows.map((r) => r.cell_id), classesChanged };
    });
  }

  /** Re-applies the most recently undone action, unless a new action was taken since. */
  redo(annotator: string): { batchId: number; cellIds: number[]; classesChanged: boolean } | null {
    return this.transaction(() => {
      const target = this.stmt(
        `SELECT id, source, undone_by, session_id, model_id, run_id FROM label_batches
         WHERE state = 'undone' AND undone_by IS NOT NULL ORDER BY undone_by DESC LIMIT 1`,
      ).get() as (BatchOrigin & { id: number; source: LabelSource; undone_by: number }) | undefined;
      if (!target) return null;
      const newer = this.stmt(`SELECT 1 FROM label_batches WHERE action = 'apply' AND id > ? LIMIT 1`).get(
        target.undone_by,
      );
      if (newer) return null;
      const rows = this.stmt(`SELECT cell_id, class_id FROM annotations WHERE batch_id = ? ORDER BY id`).all(
        target.id,
      ) as Array<{ cell_id: number; class_id: number | null }>;
      const ts = now();
      const batch = Number(
        this.stmt(
          `INSERT INTO label_batches (action, target_batch, source, annotator, created_at, session_id, model_id, run_id)
           VALUES ('redo', ?, ?, ?, ?, ?, ?, ?)`,
        ).run(target.id, target.source, annotator, ts, target.session_id, target.model_id, target.run_id)
          .lastInsertRowid,
      );
      for (const r of rows) this.appendAnnotation(batch, r.cell_id, r.class_id, ts);
      let classesChanged = this.replayMerge(target.id, 'redo');
      classesChanged = this.showClassesOf(batch) || classesChanged;
      // The redo batch becomes the active one a later undo reverts; the original stays 'undone' for the history
      // but leaves the redo stack (undone_by cleared).
      this.stmt(`UPDATE label_batches SET undone_by = NULL WHERE id = ?`).run(target.id);
      return { batchId: batch, cellIds: rows.map((r) => r.cell_id), classesChanged };
    });
  }

  /**
   * Undo and redo can put cells back on a class that was hidden meanwhile (removed from the list while its
   * history named it): such a class is shown again, since cells carry it. True when any was.
   */
  private showClassesOf(batchId: number): boolean {
    const shown = this.stmt(
      `UPDATE classes SET hidden = 0 WHERE hidden = 1
         AND id IN (SELECT class_id FROM annotations WHERE batch_id = ? AND class_id IS NOT NULL)`,
    ).run(batchId);
    return shown.changes > 0;
  }

  cellHistory(cellId: number): AnnotationEvent[] {
    const rows = this.stmt(
      `SELECT a.id, a.cell_id, a.class_id, c.name AS class_name, a.prev_class_id, b.annotator, b.source, b.action,
              a.batch_id, b.session_id, b.model_id, b.run_id, a.created_at
       FROM annotations a JOIN label_batches b ON b.id = a.batch_id LEFT JOIN classes c ON c.id = a.class_id
       WHERE a.cell_id = ? ORDER BY a.id`,
    ).all(cellId) as Array<{
      id: number;
      cell_id: number;
      class_id: number | null;
      class_name: string | null;
      prev_class_id: number | null;
      annotator: string;
      source: LabelSource;
      action: 'apply' | 'undo' | 'redo';
      batch_id: number;
      session_id: number | null;
      model_id: number | null;
      run_id: number | null;
      created_at: string;
    }>;
    return rows.map((r) => ({
      id: r.id,
      cellId: r.cell_id,
      classId: r.class_id,
      className: r.class_name,
      previousClassId: r.prev_class_id,
      annotator: r.annotator,
      source: r.source,
      action: r.action,
      batchId: r.batch_id,
      sessionId: r.session_id,
      modelId: r.model_id,
      runId: r.run_id,
      createdAt: r.created_at,
    }));
  }

  /** Current labels of all cells, aligned with `cellIds` (-1 = unlabeled). */
  labelsFor(cellIds: Int32Array): Int32Array {
    const map = new Map<number, number>();
    for (const r of this.stmt(`SELECT cell_id, class_id FROM cell_labels`)
      .raw()
      .iterate() as IterableIterator<number[]>) {
      map.set(r[0], r[1]);
    }
    const out = new Int32Array(cellIds.length);
    for (let i = 0; i < cellIds.length; i++) out[i] = map.get(cellIds[i]) ?? -1;
    return out;
  }

  /** Latest label event (annotator, source) per labeled cell, for exports. */
  labelProvenance(): Map<
    number,
    { classId: number; annotator: string; source: LabelSource; createdAt: string }
  > {
    const rows = this.stmt(
      `SELECT l.cell_id, l.class_id, b.annotator, b.source, a.created_at FROM cell_labels l
       JOIN annotations a ON a.id = l.annotation_id JOIN label_batches b ON b.id = a.batch_id`,
    ).all() as Array<{
      cell_id: number;
      class_id: number;
      annotator: string;
      source: LabelSource;
      created_at: string;
    }>;
    return new Map(
      rows.map((r) => [
        r.cell_id,
        { classId: r.class_id, annotator: r.annotator, source: r.source, createdAt: r.created_at },
      ]),
    );
  }

  // ---- models and embeddings ------------------------------------------------------------------------------

  addModel(m: NewModel): number {
    const existing = this.stmt(`SELECT id FROM models WHERE name = ?`).get(m.name) as
      { id: number } | undefined;
    if (existing) return existing.id;
    const r = this.stmt(
      `INSERT INTO models (name, kind, path, file_sha256, dims, input_size, mean, std, arch, added_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      m.name,
      m.kind,
      m.path ?? null,
      m.fileSha256 ?? null,
      m.dims,
      m.inputSize ?? null,
      m.mean ? JSON.stringify(m.mean) : null,
      m.std ? JSON.stringify(m.std) : null,
      m.arch ?? null,
      now(),
    );
    return Number(r.lastInsertRowid);
  }

  listModels(): ModelRecord[] {
    const rows = this.stmt(
      `SELECT m.*, (SELECT count(*) FROM embeddings e WHERE e.model_id = m.id) AS embedded FROM models m ORDER BY m.id`,
    ).all() as Array<{
      id: number;
      name: string;
      kind: 'morphology' | 'vit-onnx';
      path: string | null;
      file_sha256: string | null;
      dims: number;
      input_size: number | null;
      mean: string | null;
      std: string | null;
      arch: string | null;
      embedded: number;
    }>;
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      kind: r.kind,
      path: r.path,
      fileSha256: r.file_sha256,
      dims: r.dims,
      inputSize: r.input_size,
      mean: r.mean ? (JSON.parse(r.mean) as number[]) : null,
      std: r.std ? (JSON.parse(r.std) as number[]) : null,
      arch: r.arch,
      embeddedCells: r.embedded,
    }));
  }

  getModel(idOrName: number | string): ModelRecord | null {
    return (
      this.listModels().find((m) => m.id === idOrName || m.name === idOrName || String(m.id) === idOrName) ??
      null
    );
  }

  /** Ids of cells that have no vector for this model yet (what an interrupted embed job still has to do). */
  cellsMissingEmbedding(modelId: number): Int32Array {
    return Int32Array.from(this.missingEmbeddingRows(modelId), (r) => r[0]);
  }

  /**
   * The same cells by image (image id -> its cell ids, ascending), images in the order of their first such cell:
   * what an embed job works through, image by image.
   */
  cellsMissingEmbeddingByImage(modelId: number): Map<number, number[]> {
    const byImage = new Map<number, number[]>();
    for (const [id, imageId] of this.missingEmbeddingRows(modelId)) {
      const list = byImage.get(imageId);
      if (list) list.push(id);
      else byImage.set(imageId, [id]);
    }
    return byImage;
  }

  /** [cell id, image id] of the cells without a vector for the model, by cell id. */
  private missingEmbeddingRows(modelId: number): number[][] {
    return this.stmt(
      `SELECT c.id, c.image_id FROM cells c
       WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model_id = ? AND e.cell_id = c.id)
       ORDER BY c.id`,
    )
      .raw()
      .all(modelId) as number[][];
  }

  putEmbeddings(
    modelId: number,
    cellIds: ArrayLike<number>,
    vectors: Float32Array,
    dims: number,
    dtype: 'f32' | 'f16' = 'f32',
  ): void {
    const ins = this.stmt(
      `INSERT INTO embeddings (model_id, cell_id, dtype, vector) VALUES (?, ?, ?, ?)
       ON CONFLICT(model_id, cell_id) DO UPDATE SET dtype = excluded.dtype, vector = excluded.vector`,
    );
    this.transaction(() => {
      for (let i = 0; i < cellIds.length; i++) {
        const v = vectors.subarray(i * dims, (i + 1) * dims);
        const blob =
          dtype === 'f16'
            ? f16Blob(v)
            : Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
        ins.run(modelId, cellIds[i], dtype, blob);
      }
    });
  }

  embeddingCount(modelId: number): number {
    return (
      this.stmt(`SELECT count(*) AS n FROM embeddings WHERE model_id = ?`).get(modelId) as { n: number }
    ).n;
  }

  /** Vectors of a model as one N x D matrix in cell id order; only cells with id > afterCellId when given. */
  getEmbeddings(
    modelId: number,
    afterCellId = 0,
  ): { cellIds: Int32Array; vectors: Float32Array; dims: number } {
    const model = this.getModel(modelId);
    if (!model) throw new StoreError('not-found', `No model with id ${modelId}.`);
    const dims = model.dims;
    const n = (
      this.stmt(`SELECT count(*) AS n FROM embeddings WHERE model_id = ? AND cell_id > ?`).get(
        modelId,
        afterCellId,
      ) as {
        n: number;
      }
    ).n;
    const cellIds = new Int32Array(n);
    const vectors = new Float32Array(n * dims);
    const bytes = new Uint8Array(vectors.buffer);
    let i = 0;
    for (const r of this.stmt(
      `SELECT cell_id, dtype, vector FROM embeddings WHERE model_id = ? AND cell_id > ? ORDER BY cell_id`,
    )
      .raw()
      .iterate(modelId, afterCellId) as IterableIterator<[number, 'f32' | 'f16', Buffer]>) {
      if (i >= n) break;
      cellIds[i] = r[0];
      if (r[1] === 'f32') bytes.set(r[2], i * dims * 4);
      else vectors.set(fromF16(r[2]), i * dims);
      i++;
    }
    return { cellIds, vectors, dims };
  }

  /**
   * Image id of each cell, aligned with `cellIds`. Ingest inserts an image's cells together, so each image owns a
   * contiguous id range: 10k ranges fill a million ids without reading a million rows (a full scan is the fallback).
   */
  imageIdsFor(cellIds: Int32Array): Int32Array {
    const out = new Int32Array(cellIds.length).fill(-1);
    const ranges = this.stmt(
      `SELECT image_id, min(id) AS lo, max(id) AS hi, count(*) AS n FROM cells GROUP BY image_id ORDER BY lo`,
    ).all() as Array<{ image_id: number; lo: number; hi: number; n: number }>;
    const contiguous = ranges.every(
      (r, i) => r.hi - r.lo + 1 === r.n && (i === 0 || ranges[i - 1].hi < r.lo),
    );
    if (contiguous) {
      const los = Int32Array.from(ranges, (r) => r.lo);
      for (let i = 0; i < cellIds.length; i++) {
        const id = cellIds[i];
        let lo = 0;
        let hi = los.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (los[mid] <= id) lo = mid;
          else hi = mid - 1;
        }
        const r = ranges[lo];
        if (r && id >= r.lo && id <= r.hi) out[i] = r.image_id;
      }
      return out;
    }
    const map = new Map<number, number>();
    for (const r of this.stmt(`SELECT id, image_id FROM cells`).raw().iterate() as IterableIterator<
      number[]
    >) {
      map.set(r[0], r[1]);
    }
    for (let i = 0; i < cellIds.length; i++) out[i] = map.get(cellIds[i]) ?? -1;
    return out;
  }

  // ---- predictions and maps -------------------------------------------------------------------------------

  putPredictionRun(run: Omit<PredictionRun, 'id' | 'createdAt'>): number {
    const r = this.stmt(
      `INSERT INTO prediction_runs (model_id, classifier, labeled_count, class_ids, cell_ids, predicted, probability,
         margin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      run.modelId,
      run.classifier,
      run.labeledCount,
      JSON.stringify(run.classIds),
      f32Blob(run.cellIds),
      f32Blob(run.predicted),
      f32Blob(run.probability),
      f32Blob(run.margin),
      now(),
    );
    // Older runs are superseded; keep the last few for the audit trail of accepted suggestions.
    this.stmt(
      `DELETE FROM prediction_runs WHERE model_id = ? AND id NOT IN
         (SELECT id FROM prediction_runs WHERE model_id = ? ORDER BY id DESC LIMIT 5)`,
    ).run(run.modelId, run.modelId);
    return Number(r.lastInsertRowid);
  }

  latestPredictionRun(modelId?: number): PredictionRun | null {
    const r = (
      modelId != null
        ? this.stmt(`SELECT * FROM prediction_runs WHERE model_id = ? ORDER BY id DESC LIMIT 1`).get(modelId)
        : this.stmt(`SELECT * FROM prediction_runs ORDER BY id DESC LIMIT 1`).get()
    ) as
      | {
          id: number;
          model_id: number;
          classifier: string;
          labeled_count: number;
          class_ids: string;
          cell_ids: Buffer;
          predicted: Buffer;
          probability: Buffer;
          margin: Buffer;
          created_at: string;
        }
      | undefined;
    if (!r) return null;
    return {
      id: r.id,
      modelId: r.model_id,
      classifier: r.classifier,
      labeledCount: r.labeled_count,
      classIds: JSON.parse(r.class_ids) as number[],
      cellIds: blobI32(r.cell_ids),
      predicted: blobI32(r.predicted),
      probability: blobF32(r.probability),
      margin: blobF32(r.margin),
      createdAt: r.created_at,
    };
  }

  putMapLayout(modelId: number, method: string, cellIds: Int32Array, xy: Float32Array): number {
    const r = this.stmt(
      `INSERT INTO map_layouts (model_id, method, cell_ids, xy, created_at) VALUES (?, ?, ?, ?, ?)`,
    ).run(modelId, method, f32Blob(cellIds), f32Blob(xy), now());
    this.stmt(`DELETE FROM map_layouts WHERE model_id = ? AND method = ? AND id <> ?`).run(
      modelId,
      method,
      r.lastInsertRowid,
    );
    return Number(r.lastInsertRowid);
  }

  latestMapLayout(
    modelId: number,
    method?: string,
  ): { method: string; cellIds: Int32Array; xy: Float32Array } | null {
    const r = (
      method
        ? this.stmt(
            `SELECT method, cell_ids, xy FROM map_layouts WHERE model_id = ? AND method = ? ORDER BY id DESC LIMIT 1`,
          ).get(modelId, method)
        : this.stmt(
            `SELECT method, cell_ids, xy FROM map_layouts WHERE model_id = ?
             ORDER BY CASE method WHEN 'umap' THEN 0 ELSE 1 END, id DESC LIMIT 1`,
          ).get(modelId)
    ) as { method: string; cell_ids: Buffer; xy: Buffer } | undefined;
    if (!r) return null;
    return { method: r.method, cellIds: blobI32(r.cell_ids), xy: blobF32(r.xy) };
  }

  // ---- jobs -----------------------------------------------------------------------------------------------

  createJob(kind: JobKind, params: unknown): number {
    const ts = now();
    const r = this.stmt(
      `INSERT INTO jobs (kind, params, state, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?)`,
    ).run(kind, JSON.stringify(params), ts, ts);
    return Number(r.lastInsertRowid);
  }

  updateJob(
    id: number,
    patch: {
      state?: JobState;
      done?: number;
      total?: number;
      phase?: string;
      error?: string | null;
      result?: unknown;
    },
  ): void {
    const sets: string[] = ['updated_at = ?'];
    const vals: Array<string | number | null> = [now()];
    const columns: Array<[string, string | number | null | undefined]> = [
      ['state', patch.state],
      ['done', patch.done],
      ['total', patch.total],
      ['phase', patch.phase],
      ['error', patch.error],
      ['result', patch.result === undefined ? undefined : JSON.stringify(patch.result)],
    ];
    for (const [col, v] of columns) {
      if (v === undefined) continue;
      sets.push(`${col} = ?`);
      vals.push(v);
    }
    this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...vals, id);
  }

  getJob(id: number): (JobInfo & { params: unknown }) | null {
    const r = this.stmt(`SELECT * FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
    return r ? toJob(r) : null;
  }

  listJobs(limit = 50): Array<JobInfo & { params: unknown }> {
    return (this.stmt(`SELECT * FROM jobs ORDER BY id DESC LIMIT ?`).all(limit) as JobRow[]).map(toJob);
  }

  /** Jobs left 'running' by a crash are marked interrupted, so the UI can offer to resume them. */
  markInterruptedJobs(): number {
    return this.stmt(
      `UPDATE jobs SET state = 'interrupted', updated_at = ? WHERE state IN ('running', 'queued')`,
    ).run(now()).changes;
  }

  // ---- summary --------------------------------------------------------------------------------------------

  stats(): ProjectStats {
    const images = (this.stmt(`SELECT count(*) AS n FROM images`).get() as { n: number }).n;
    const byKind = this.stmt(`SELECT kind, count(*) AS n FROM cells GROUP BY kind`).all() as Array<{
      kind: string;
      n: number;
    }>;
    const perClass = this.stmt(
      `SELECT c.name, count(*) AS n FROM cell_labels l JOIN classes c ON c.id = l.class_id GROUP BY c.id ORDER BY c.sort_order`,
    ).all() as Array<{ name: string; n: number }>;
    const cellsByKind = Object.fromEntries(byKind.map((r) => [r.kind, r.n]));
    return {
      images,
      cells: byKind.reduce((s, r) => s + r.n, 0),
      cellsByKind,
      labeled: perClass.reduce((s, r) => s + r.n, 0),
      labelsPerClass: Object.fromEntries(perClass.map((r) => [r.name, r.n])),
      models: this.listModels().map((m) => ({
        id: m.id,
        name: m.name,
        kind: m.kind,
        dims: m.dims,
        embedded: m.embeddedCells,
      })),
    };
  }
}

interface JobRow {
  id: number;
  kind: JobKind;
  params: string;
  state: JobState;
  done: number;
  total: number;
  phase: string;
  error: string | null;
  result: string | null;
  created_at: string;
  updated_at: string;
}

function toJob(r: JobRow): JobInfo & { params: unknown } {
  return {
    id: r.id,
    kind: r.kind,
    state: r.state,
    done: r.done,
    total: r.total,
    phase: r.phase,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    result: r.result ? (JSON.parse(r.result) as unknown) : null,
    params: JSON.parse(r.params) as unknown,
  };
}

type PredLookup = (cellId: number) => { predicted: number; confidence: number; margin: number } | null;

function predictionLookup(run: PredictionRun): PredLookup {
  const index = new Map<number, number>();
  for (let i = 0; i < run.cellIds.length; i++) index.set(run.cellIds[i], i);
  return (id) => {
    const i = index.get(id);
    if (i === undefined) return null;
    return { predicted: run.predicted[i], confidence: run.probability[i], margin: run.margin[i] };
  };
}

function toSummary(r: CellRow, pred: PredLookup | null): CellSummary {
  const p = pred?.(r.id) ?? null;
  return {
    id: r.id,
    imageId: r.image_id,
    kind: r.kind,
    bbox: [r.x, r.y, r.w, r.h],
    centroid: [r.cx, r.cy],
    classId: r.class_id ?? null,
    predictedClassId: p?.predicted ?? null,
    confidence: p?.confidence ?? null,
    margin: p?.margin ?? null,
  };
}

function f16Blob(v: Float32Array): Buffer {
  const out = Buffer.alloc(v.length * 2);
  for (let i = 0; i < v.length; i++) out.writeUInt16LE(toHalf(v[i]), i * 2);
  return out;
}

function fromF16(b: Buffer): Float32Array {
  const out = new Float32Array(b.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = fromHalf(b.readUInt16LE(i * 2));
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function toHalf(val: number): number {
  f32[0] = val;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >>> (1 - exp);
    return sign | ((m + 0x1000) >>> 13);
  }
  if (exp >= 31) return sign | 0x7c00 | (((x >>> 23) & 0xff) === 0xff && mant ? 0x200 : 0);
  const h = sign | (exp << 10) | (mant >>> 13);
  return mant & 0x1000 ? h + 1 : h;
}

/** IEEE 754 half (as a uint16) to a number. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
