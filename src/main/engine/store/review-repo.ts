import type { LabelAction, LabelSource } from '../../../shared/domain';
import type { CellStore } from './store';
import type { SlideSignatureRow, AuditEvent } from '../../../shared/review';
export type { SlideSignatureRow, AuditEvent };

/**
 * SQL for review sessions, sign-off and the audit trail. Kept beside the store (and not in it) so the review
 * feature stays one file a second store implementation can mirror; everything goes through the store's connection.
 * Tables slide_signatures and review_consensus come from migration 002.
 */

const now = (): string => new Date().toISOString();

function placeholders(n: number): string {
  return new Array(n).fill('?').join(',');
}

// ---- sessions -------------------------------------------------------------------------------------------

export interface ReviewSessionRow {
  id: number;
  name: string;
  mode: 'single' | 'blind';
  filter: string;
  state: 'open' | 'closed';
  createdBy: string;
  createdAt: string;
  itemCount: number;
}

interface SessionSqlRow {
  id: number;
  name: string;
  mode: 'single' | 'blind';
  filter: string;
  state: 'open' | 'closed';
  created_by: string;
  created_at: string;
  item_count: number;
}

const toSession = (r: SessionSqlRow): ReviewSessionRow => ({
  id: r.id,
  name: r.name,
  mode: r.mode,
  filter: r.filter,
  state: r.state,
  createdBy: r.created_by,
  createdAt: r.created_at,
  itemCount: r.item_count,
});

/** Creates a session and its queue in one transaction, items in the given order. */
export function insertReviewSession(
  store: CellStore,
  s: { name: string; mode: 'single' | 'blind'; filter: string; createdBy: string },
  cellIds: readonly number[],
): number {
  return store.transaction(() => {
    const id = Number(
      store.db
        .prepare(
          `INSERT INTO review_sessions (name, mode, filter, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
        )
        .run(s.name, s.mode, s.filter, s.createdBy, now()).lastInsertRowid,
    );
    const ins = store.db.prepare(`INSERT INTO review_items (session_id, position, cell_id) VALUES (?, ?, ?)`);
    cellIds.forEach((cellId, i) => ins.run(id, i, cellId));
    return id;
  });
}

const SESSION_SELECT = `SELECT s.*, (SELECT count(*) FROM review_items i WHERE i.session_id = s.id) AS item_count
                        FROM review_sessions s`;

export function getReviewSession(store: CellStore, id: number): ReviewSessionRow | null {
  const r = store.db.prepare(`${SESSION_SELECT} WHERE s.id = ?`).get(id) as SessionSqlRow | undefined;
  return r ? toSession(r) : null;
}

export function listReviewSessions(store: CellStore): ReviewSessionRow[] {
  return (store.db.prepare(`${SESSION_SELECT} ORDER BY s.id`).all() as SessionSqlRow[]).map(toSession);
}

export function setReviewSessionState(store: CellStore, id: number, state: 'open' | 'closed'): void {
  store.db.prepare(`UPDATE review_sessions SET state = ? WHERE id = ?`).run(state, id);
}

export function reviewItems(
  store: CellStore,
  sessionId: number,
): Array<{ position: number; cellId: number }> {
  return (
    store.db
      .prepare(`SELECT position, cell_id FROM review_items WHERE session_id = ? ORDER BY position`)
      .raw()
      .all(sessionId) as Array<[number, number]>
  ).map(([position, cellId]) => ({ position, cellId }));
}

export function sessionHasCell(store: CellStore, sessionId: number, cellId: number): boolean {
  return !!store.db
    .prepare(`SELECT 1 FROM review_items WHERE session_id = ? AND cell_id = ? LIMIT 1`)
    .get(sessionId, cellId);
}

// ---- decisions ------------------------------------------------------------------------------------------

export interface ReviewDecisionRow {
  id: number;
  cellId: number;
  reader: string;
  classId: number | null;
  decidedAt: string;
}

interface DecisionSqlRow {
  id: number;
  cell_id: number;
  reader: string;
  class_id: number | null;
  decided_at: string;
}

function toDecisionRow(r: DecisionSqlRow): ReviewDecisionRow {
  return { id: r.id, cellId: r.cell_id, reader: r.reader, classId: r.class_id, decidedAt: r.decided_at };
}

export function insertReviewDecision(
  store: CellStore,
  d: { sessionId: number; cellId: number; reader: string; classId: number | null },
): number {
  return Number(
    store.db
      .prepare(
        `INSERT INTO review_decisions (session_id, cell_id, reader, class_id, decided_at) VALUES (?, ?, ?, ?, ?)`,
      )
      .run(d.sessionId, d.cellId, d.reader, d.classId, now()).lastInsertRowid,
  );
}

/** The newest decision of each reader on each cell of a session (a reader may change their mind; all rows stay). */
export function latestReviewDecisions(
  store: CellStore,
  sessionId: number,
  reader?: string,
): ReviewDecisionRow[] {
  const rows = store.db
    .prepare(
      `SELECT d.id, d.cell_id, d.reader, d.class_id, d.decided_at FROM review_decisions d
       WHERE d.session_id = ? ${reader !== undefined ? 'AND d.reader = ?' : ''}
         AND d.id = (SELECT max(id) FROM review_decisions x
                     WHERE x.session_id = d.session_id AND x.cell_id = d.cell_id AND x.reader = d.reader)
       ORDER BY d.id`,
    )
    .all(...(reader !== undefined ? [sessionId, reader] : [sessionId])) as DecisionSqlRow[];
  return rows.map(toDecisionRow);
}

/** First queue position (at or after `fromPosition`) the reader has not decided yet. */
export function nextUndecidedItem(
  store: CellStore,
  sessionId: number,
  reader: string,
  fromPosition = 0,
): { position: number; cellId: number } | null {
  const r = store.db
    .prepare(
      `SELECT i.position, i.cell_id FROM review_items i
       WHERE i.session_id = ? AND i.position >= ?
         AND NOT EXISTS (SELECT 1 FROM review_decisions d
                         WHERE d.session_id = i.session_id AND d.cell_id = i.cell_id AND d.reader = ?)
       ORDER BY i.position LIMIT 1`,
    )
    .get(sessionId, fromPosition, reader) as { position: number; cell_id: number } | undefined;
  return r ? { position: r.position, cellId: r.cell_id } : null;
}

export function decidedItemCount(store: CellStore, sessionId: number, reader: string): number {
  return (
    store.db
      .prepare(
        `SELECT count(*) AS n FROM review_items i WHERE i.session_id = ? AND EXISTS
           (SELECT 1 FROM review_decisions d WHERE d.session_id = i.session_id AND d.cell_id = i.cell_id AND d.reader = ?)`,
      )
      .get(sessionId, reader) as { n: number }
  ).n;
}

export function sessionReaders(store: CellStore, sessionId: number): string[] {
  return (
    store.db
      .prepare(`SELECT DISTINCT reader FROM review_decisions WHERE session_id = ? ORDER BY reader`)
      .raw()
      .all(sessionId) as string[][]
  ).map((r) => r[0]);
}

// ---- consensus ------------------------------------------------------------------------------------------

export function insertConsensus(
  store: CellStore,
  c: { sessionId: number; cellId: number; classId: number | null; decidedBy: string; batchId: number | null },
): number {
  return Number(
    store.db
      .prepare(
        `INSERT INTO review_consensus (session_id, cell_id, class_id, decided_by, batch_id, decided_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(c.sessionId, c.cellId, c.classId, c.decidedBy, c.batchId, now()).lastInsertRowid,
  );
}

/**
 * Whether a label batch's effect stands: it is active, or it was undone and a redo of it (or of that redo, and
 * so on) is active. A consensus whose label was undone this way counts as withdrawn.
 */
function batchStands(store: CellStore, batchId: number): boolean {
  const b = store.db.prepare(`SELECT state FROM label_batches WHERE id = ?`).get(batchId) as
    { state: string } | undefined;
  if (!b) return false;
  if (b.state === 'active') return true;
  const redos = store.db
    .prepare(`SELECT id FROM label_batches WHERE action = 'redo' AND target_batch = ?`)
    .raw()
    .all(batchId) as number[][];
  return redos.some(([id]) => batchStands(store, id));
}

/**
 * The standing consensus per cell: the newest one whose label was not undone (Ctrl+Z on a settled cell reverts
 * its label and so withdraws the consensus; an earlier consensus on the same cell then stands again). A
 * consensus that changed no label (batch NULL) cannot be undone and always stands.
 */
export function latestConsensus(
  store: CellStore,
  sessionId: number,
): Map<number, { classId: number | null; decidedBy: string; decidedAt: string }> {
  const rows = store.db
    .prepare(
      `SELECT cell_id, class_id, decided_by, decided_at, batch_id FROM review_consensus WHERE session_id = ?
       ORDER BY id`,
    )
    .all(sessionId) as Array<{
    cell_id: number;
    class_id: number | null;
    decided_by: string;
    decided_at: string;
    batch_id: number | null;
  }>;
  return new Map(
    rows
      .filter((r) => r.batch_id == null || batchStands(store, r.batch_id))
      .map((r) => [r.cell_id, { classId: r.class_id, decidedBy: r.decided_by, decidedAt: r.decided_at }]),
  );
}

// ---- sign-off -------------------------------------------------------------------------------------------

/**
 * Cells of an image that a person has reviewed: a reader decided on them in some session, a consensus settled
 * them, or their current label was applied by review.
 */
export function reviewedCellIdsOnImage(store: CellStore, imageId: number): Set<number> {
  const rows = store.db
    .prepare(
      `SELECT c.id FROM cells c WHERE c.image_id = ? AND (
         EXISTS (SELECT 1 FROM review_decisions d WHERE d.cell_id = c.id)
         OR EXISTS (SELECT 1 FROM review_consensus r WHERE r.cell_id = c.id)
         OR EXISTS (SELECT 1 FROM cell_labels l JOIN annotations a ON a.id = l.annotation_id
                    JOIN label_batches b ON b.id = a.batch_id WHERE l.cell_id = c.id AND b.source = 'review'))`,
    )
    .raw()
    .all(imageId) as number[][];
  return new Set(rows.map((r) => r[0]));
}

export function labeledCellsOnImage(store: CellStore, imageId: number): Map<number, number> {
  const rows = store.db
    .prepare(
      `SELECT c.id, l.class_id FROM cells c JOIN cell_labels l ON l.cell_id = c.id WHERE c.image_id = ?`,
    )
    .raw()
    .all(imageId) as Array<[number, number]>;
  return new Map(rows);
}

export function cellIdsOnImage(store: CellStore, imageId: number): number[] {
  return (
    store.db.prepare(`SELECT id FROM cells WHERE image_id = ? ORDER BY id`).raw().all(imageId) as number[][]
  ).map((r) => r[0]);
}

export function insertSlideSignature(
  store: CellStore,
  s: {
    imageId: number;
    signedBy: string;
    flaggedClassIds: number[];
    reviewedCells: number;
    note?: string | null;
  },
): number {
  return Number(
    store.db
      .prepare(
        `INSERT INTO slide_signatures (image_id, signed_by, signed_at, flagged_class_ids, reviewed_cells, note)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(s.imageId, s.signedBy, now(), JSON.stringify(s.flaggedClassIds), s.reviewedCells, s.note ?? null)
      .lastInsertRowid,
  );
}

export function listSlideSignatures(store: CellStore, imageId?: number): SlideSignatureRow[] {
  const rows = store.db
    .prepare(`SELECT * FROM slide_signatures ${imageId != null ? 'WHERE image_id = ?' : ''} ORDER BY id`)
    .all(...(imageId != null ? [imageId] : [])) as Array<{
    id: number;
    image_id: number;
    signed_by: string;
    signed_at: string;
    flagged_class_ids: string;
    reviewed_cells: number;
    note: string | null;
  }>;
  return rows.map((r) => ({
    id: r.id,
    imageId: r.image_id,
    signedBy: r.signed_by,
    signedAt: r.signed_at,
    flaggedClassIds: JSON.parse(r.flagged_class_ids) as number[],
    reviewedCells: r.reviewed_cells,
    note: r.note,
  }));
}

// ---- audit trail ----------------------------------------------------------------------------------------

export interface AuditFilter {
  annotators?: string[];
  sources?: LabelSource[];
  actions?: LabelAction[];
  /** ISO 8601 time, inclusive. */
  since?: string;
  /** ISO 8601 time, exclusive. */
  until?: string;
  imageIds?: number[];
  cellIds?: number[];
  sessionId?: number;
  limit?: number;
  offset?: number;
}

/** Label events of the whole project, oldest first, filtered; streams so a million-event export stays small. */
export function* iterateAuditEvents(store: CellStore, f: AuditFilter = {}): IterableIterator<AuditEvent> {
  const where: string[] = [];
  const params: Array<string | number> = [];
  const inList = (col: string, vals: Array<string | number> | undefined) => {
    if (!vals?.length) return;
    where.push(`${col} IN (${placeholders(vals.length)})`);
    params.push(...vals);
  };
  inList('b.annotator', f.annotators);
  inList('b.source', f.sources);
  inList('b.action', f.actions);
  inList('c.image_id', f.imageIds);
  inList('a.cell_id', f.cellIds);
  if (f.since) {
    where.push('a.created_at >= ?');
    params.push(f.since);
  }
  if (f.until) {
    where.push('a.created_at < ?');
    params.push(f.until);
  }
  if (f.sessionId != null) {
    where.push('b.session_id = ?');
    params.push(f.sessionId);
  }
  const sql = `SELECT a.id, a.batch_id, a.created_at, b.annotator, b.source, b.action, b.target_batch, a.cell_id,
                      c.image_id, i.name AS image_name, a.class_id, cl.name AS class_name, a.prev_class_id,
                      pc.name AS prev_class_name, b.session_id, b.model_id, m.name AS model_name, b.run_id, b.note
               FROM annotations a JOIN label_batches b ON b.id = a.batch_id
               JOIN cells c ON c.id = a.cell_id JOIN images i ON i.id = c.image_id
               LEFT JOIN classes cl ON cl.id = a.class_id LEFT JOIN classes pc ON pc.id = a.prev_class_id
               LEFT JOIN models m ON m.id = b.model_id
               ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
               ORDER BY a.id LIMIT ${Math.max(-1, Math.floor(f.limit ?? -1))} OFFSET ${Math.max(0, Math.floor(f.offset ?? 0))}`;
  for (const r of store.db.prepare(sql).iterate(...params) as IterableIterator<{
    id: number;
    batch_id: number;
    created_at: string;
    annotator: string;
    source: LabelSource;
    action: LabelAction;
    target_batch: number | null;
    cell_id: number;
    image_id: number;
    image_name: string;
    class_id: number | null;
    class_name: string | null;
    prev_class_id: number | null;
    prev_class_name: string | null;
    session_id: number | null;
    model_id: number | null;
    model_name: string | null;
    run_id: number | null;
    note: string | null;
  }>) {
    yield {
      annotationId: r.id,
      batchId: r.batch_id,
      createdAt: r.created_at,
      annotator: r.annotator,
      source: r.source,
      action: r.action,
      targetBatchId: r.target_batch,
      cellId: r.cell_id,
      imageId: r.image_id,
      imageName: r.image_name,
      classId: r.class_id,
      className: r.class_name,
      previousClassId: r.prev_class_id,
      previousClassName: r.prev_class_name,
      sessionId: r.session_id,
      modelId: r.model_id,
      modelName: r.model_name,
      runId: r.run_id,
      note: r.note,
    };
  }
}

// ---- single-item lookups (the review loop calls these once per keystroke) -------------------------------

export function reviewItemAtPosition(
  store: CellStore,
  sessionId: number,
  position: number,
): { position: number; cellId: number } | null {
  const r = store.db
    .prepare(`SELECT position, cell_id FROM review_items WHERE session_id = ? AND position = ?`)
    .get(sessionId, position) as { position: number; cell_id: number } | undefined;
  return r ? { position: r.position, cellId: r.cell_id } : null;
}

/** Latest decision of each reader on one cell of a session. */
export function latestDecisionsForCell(
  store: CellStore,
  sessionId: number,
  cellId: number,
): ReviewDecisionRow[] {
  const rows = store.db
    .prepare(
      `SELECT d.id, d.cell_id, d.reader, d.class_id, d.decided_at FROM review_decisions d
       WHERE d.session_id = ? AND d.cell_id = ?
         AND d.id = (SELECT max(id) FROM review_decisions x
                     WHERE x.session_id = d.session_id AND x.cell_id = d.cell_id AND x.reader = d.reader)
       ORDER BY d.id`,
    )
    .all(sessionId, cellId) as DecisionSqlRow[];
  return rows.map(toDecisionRow);
}
