import { StoreError } from '../store/errors';
import {
  decidedItemCount,
  insertConsensus,
  latestConsensus,
  latestReviewDecisions,
  reviewItems,
  sessionHasCell,
} from '../store/review-repo';
import type { CellStore } from '../store/store';
import { getSession } from './sessions';
import type { KappaResult, ReaderAgreement, Disagreement } from '../../../shared/review';
export type { KappaResult, ReaderAgreement, Disagreement };

/** Cohen's kappa between two raters' labels of the same items (Cohen 1960). */
export function cohenKappa<T>(a: readonly T[], b: readonly T[]): KappaResult {
  if (a.length !== b.length) throw new Error('cohenKappa: the two raters must label the same items');
  const n = a.length;
  if (n === 0) return { n: 0, observed: NaN, expected: NaN, kappa: null };
  const ca = new Map<T, number>();
  const cb = new Map<T, number>();
  let agree = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) agree++;
    ca.set(a[i], (ca.get(a[i]) ?? 0) + 1);
    cb.set(b[i], (cb.get(b[i]) ?? 0) + 1);
  }
  let pe = 0;
  for (const [k, na] of ca) pe += (na / n) * ((cb.get(k) ?? 0) / n);
  const po = agree / n;
  return { n, observed: po, expected: pe, kappa: pe >= 1 ? null : (po - pe) / (1 - pe) };
}

function pairedDecisions(store: CellStore, sessionId: number, readerA: string, readerB: string) {
  const latest = latestReviewDecisions(store, sessionId);
  const a = new Map(latest.filter((d) => d.reader === readerA).map((d) => [d.cellId, d.classId]));
  const b = new Map(latest.filter((d) => d.reader === readerB).map((d) => [d.cellId, d.classId]));
  return { a, b };
}

/**
 * In a blind session a reader of the pair may compare only after finishing their own queue: agreement and the
 * disagreement queue show the other reader's decisions, which blind mode exists to hide. Anyone else (the person
 * settling) may look at any time; without a `viewer` (CLI, scripts) nothing is checked.
 */
function assertMayCompare(
  store: CellStore,
  sessionId: number,
  readers: [string, string],
  viewer: string | undefined,
): void {
  const s = getSession(store, sessionId);
  if (s.mode !== 'blind' || viewer === undefined || !readers.includes(viewer)) return;
  const left = s.itemCount - decidedItemCount(store, sessionId, viewer);
  if (left > 0) {
    throw new StoreError(
      'invalid',
      `Blind session "${s.name}": finish your own reading first (${left} cell${left === 1 ? '' : 's'} left) before comparing with the other reader.`,
    );
  }
}

export function readerAgreement(
  store: CellStore,
  sessionId: number,
  readerA: string,
  readerB: string,
  viewer?: string,
): ReaderAgreement {
  getSession(store, sessionId);
  if (readerA === readerB) throw new StoreError('invalid', 'Agreement needs two different readers.');
  assertMayCompare(store, sessionId, [readerA, readerB], viewer);
  const { a, b } = pairedDecisions(store, sessionId, readerA, readerB);
  const la: number[] = [];
  const lb: number[] = [];
  let disagreements = 0;
  for (const [cell, ca] of a) {
    if (!b.has(cell)) continue;
    const cb = b.get(cell)!;
    if (ca !== cb) disagreements++;
    if (ca == null || cb == null) continue;
    la.push(ca);
    lb.push(cb);
  }
  const names = new Map(store.listClasses().map((c) => [c.id, c.name]));
  const used = [...new Set([...la, ...lb])].sort((x, y) => x - y);
  const perClass = used.map((k) => ({
    classId: k,
    className: names.get(k) ?? String(k),
    countA: la.filter((v) => v === k).length,
    countB: lb.filter((v) => v === k).length,
    ...cohenKappa(
      la.map((v) => v === k),
      lb.map((v) => v === k),
    ),
  }));
  return { sessionId, readerA, readerB, n: la.length, overall: cohenKappa(la, lb), perClass, disagreements };
}

/** Cells both readers decided differently, in queue order; settled ones are listed with their consensus. */
export function disagreementQueue(
  store: CellStore,
  sessionId: number,
  readerA: string,
  readerB: string,
  opts: { unsettledOnly?: boolean; viewer?: string } = {},
): Disagreement[] {
  assertMayCompare(store, sessionId, [readerA, readerB], opts.viewer);
  const { a, b } = pairedDecisions(store, sessionId, readerA, readerB);
  const consensus = latestConsensus(store, sessionId);
  const out: Disagreement[] = [];
  for (const item of reviewItems(store, sessionId)) {
    if (!a.has(item.cellId) || !b.has(item.cellId)) continue;
    const da = a.get(item.cellId)!;
    const db = b.get(item.cellId)!;
    if (da === db) continue;
    const c = consensus.get(item.cellId) ?? null;
    if (opts.unsettledOnly && c) continue;
    out.push({ position: item.position, cellId: item.cellId, decisionA: da, decisionB: db, consensus: c });
  }
  return out;
}

/**
 * Settles a cell by consensus: the decision becomes the cell's label through the append-only log (source
 * 'review', tagged with the session) and the consensus is recorded, both in one transaction.
 */
export function settleConsensus(
  store: CellStore,
  c: { sessionId: number; cellId: number; classId: number | null; decidedBy: string },
): { consensusId: number; batchId: number | null } {
  const s = getSession(store, c.sessionId);
  if (!c.decidedBy.trim()) throw new StoreError('invalid', 'A consensus needs the name of who settled it.');
  if (!sessionHasCell(store, c.sessionId, c.cellId)) {
    throw new StoreError('not-found', `Cell ${c.cellId} is not in review session "${s.name}".`);
  }
  return store.transaction(() => {
    const batch = store.applyLabels({
      cellIds: [c.cellId],
      classId: c.classId,
      source: 'review',
      annotator: c.decidedBy,
      sessionId: c.sessionId,
      note: 'consensus',
    });
    const batchId = batch > 0 ? batch : null;
    return { consensusId: insertConsensus(store, { ...c, batchId }), batchId };
  });
}
