import { StoreError } from '../store/errors';
import {
  decidedItemCount,
  getReviewSession,
  insertReviewDecision,
  insertReviewSession,
  latestDecisionsForCell,
  listReviewSessions,
  nextUndecidedItem,
  reviewItemAtPosition,
  sessionHasCell,
  setReviewSessionState,
  type ReviewSessionRow,
} from '../store/review-repo';
import type { CellStore } from '../store/store';
import { sampleWithoutReplacement } from './random';
import type {
  ReviewFilter,
  ReviewMode,
  ReviewSession,
  ReviewProgress,
  ReviewItemBase,
  ReviewItem,
} from '../../../shared/review';
export type { ReviewFilter, ReviewMode, ReviewSession, ReviewProgress, ReviewItemBase, ReviewItem };

function toSession(r: ReviewSessionRow): ReviewSession {
  return { ...r, filter: JSON.parse(r.filter) as ReviewFilter };
}

/** Cells a filter selects, in queue order. */
export function selectReviewCells(store: CellStore, filter: ReviewFilter): number[] {
  const imageIds = filter.imageIds?.length ? filter.imageIds : undefined;
  if (filter.kind === 'unlabeled') {
    return store.queryCells({ imageIds, labeled: 'unlabeled', sort: 'image' }).map((c) => c.id);
  }
  if (filter.kind === 'predicted') {
    const run = store.latestPredictionRun();
    if (!run)
      throw new StoreError('invalid', 'No predictions yet: train a classifier before reviewing predictions.');
    const wanted = new Set(filter.classIds);
    return store
      .queryCells({ imageIds, labeled: filter.unlabeledOnly ? 'unlabeled' : 'any', sort: 'image' }, run)
      .filter(
        (c) =>
          c.predictedClassId != null &&
          wanted.has(c.predictedClassId) &&
          (filter.minConfidence == null || (c.confidence ?? 0) >= filter.minConfidence),
      )
      .map((c) => c.id);
  }
  if (!Number.isInteger(filter.n) || filter.n <= 0) {
    throw new StoreError('invalid', `A QC sample needs a positive whole number of cells, got ${filter.n}.`);
  }
  const candidates = store
    .queryCells({
      imageIds,
      classIds: filter.classIds?.length ? filter.classIds : undefined,
      labeled: filter.labeledOnly || filter.classIds?.length ? 'labeled' : 'any',
      sort: 'id',
    })
    .map((c) => c.id);
  return sampleWithoutReplacement(candidates, filter.n, filter.seed);
}

export function createReviewSession(
  store: CellStore,
  opts: { name: string; createdBy: string; mode?: ReviewMode; filter: ReviewFilter },
): ReviewSession {
  if (!opts.name.trim()) throw new StoreError('invalid', 'A review session needs a name.');
  if (!opts.createdBy.trim())
    throw new StoreError('invalid', 'A review session needs the name of its creator.');
  const cellIds = selectReviewCells(store, opts.filter);
  if (cellIds.length === 0)
    throw new StoreError('invalid', 'The filter selects no cells; nothing to review.');
  const id = insertReviewSession(
    store,
    {
      name: opts.name.trim(),
      mode: opts.mode ?? 'single',
      filter: JSON.stringify(opts.filter),
      createdBy: opts.createdBy,
    },
    cellIds,
  );
  return getSession(store, id);
}

export function getSession(store: CellStore, id: number): ReviewSession {
  const r = getReviewSession(store, id);
  if (!r) throw new StoreError('not-found', `No review session with id ${id}.`);
  return toSession(r);
}

export function listSessions(store: CellStore): ReviewSession[] {
  return listReviewSessions(store).map(toSession);
}

export function closeSession(store: CellStore, id: number): void {
  getSession(store, id);
  setReviewSessionState(store, id, 'closed');
}

export function reviewProgress(store: CellStore, sessionId: number, reader: string): ReviewProgress {
  const s = getSession(store, sessionId);
  const decided = decidedItemCount(store, sessionId, reader);
  const next = nextUndecidedItem(store, sessionId, reader);
  return {
    sessionId,
    reader,
    total: s.itemCount,
    decided,
    remaining: s.itemCount - decided,
    nextPosition: next?.position ?? null,
  };
}

export function reviewItemAt(
  store: CellStore,
  sessionId: number,
  position: number,
  reader: string,
): ReviewItem | null {
  const s = getSession(store, sessionId);
  const item = reviewItemAtPosition(store, sessionId, position);
  if (!item) return null;
  const blind = s.mode === 'blind';
  const cell = store.queryCells({ cellIds: [item.cellId] })[0];
  if (!cell) return null;
  const decisions = latestDecisionsForCell(store, sessionId, item.cellId);
  const own = decisions.find((d) => d.reader === reader);
  const base: ReviewItemBase = {
    sessionId,
    position,
    total: s.itemCount,
    cellId: cell.id,
    imageId: cell.imageId,
    bbox: cell.bbox,
    centroid: cell.centroid,
    ownDecision: own ? own.classId : undefined,
  };
  if (blind) return { ...base, blind: true };
  // A linear scan of the run's id column: building the store's per-run lookup map would cost more per item.
  const run = store.latestPredictionRun();
  const k = run ? run.cellIds.indexOf(cell.id) : -1;
  return {
    ...base,
    blind: false,
    currentClassId: cell.classId,
    predictedClassId: run && k >= 0 ? run.predicted[k] : null,
    confidence: run && k >= 0 ? run.probability[k] : null,
    otherDecisions: decisions
      .filter((d) => d.reader !== reader)
      .map((d) => ({ reader: d.reader, classId: d.classId })),
  };
}

/** The reader's next undecided item: a session is resumable because progress lives in the decisions table. */
export function nextReviewItem(
  store: CellStore,
  sessionId: number,
  reader: string,
  fromPosition = 0,
): ReviewItem | null {
  const next = nextUndecidedItem(store, sessionId, reader, fromPosition);
  return next ? reviewItemAt(store, sessionId, next.position, reader) : null;
}

/**
 * Records a reader's decision (append-only; a later one supersedes). `classId` null means "none of the classes /
 * not a cell". It does not change the cell's label: labels change only by consensus or an explicit apply.
 */
export function decideReviewItem(
  store: CellStore,
  d: { sessionId: number; cellId: number; reader: string; classId: number | null },
): number {
  const s = getSession(store, d.sessionId);
  if (s.state !== 'open') throw new StoreError('invalid', `Review session "${s.name}" is closed.`);
  if (!d.reader.trim()) throw new StoreError('invalid', 'A review decision needs the reader name.');
  if (!sessionHasCell(store, d.sessionId, d.cellId)) {
    throw new StoreError('not-found', `Cell ${d.cellId} is not in review session "${s.name}".`);
  }
  if (d.classId != null && !store.findClass(d.classId)) {
    throw new StoreError('not-found', `No class with id ${d.classId}.`);
  }
  return insertReviewDecision(store, d);
}
