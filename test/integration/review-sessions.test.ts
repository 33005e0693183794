import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  cohenKappa,
  disagreementQueue,
  readerAgreement,
  settleConsensus,
} from '../../src/main/engine/review/agreement';
import { auditTrail, writeAuditCsv } from '../../src/main/engine/review/audit';
import {
  closeSession,
  createReviewSession,
  decideReviewItem,
  listSessions,
  nextReviewItem,
  reviewItemAt,
  reviewProgress,
} from '../../src/main/engine/review/sessions';
import { signSlide, slideSignoffStatus } from '../../src/main/engine/review/signoff';
import { parseCsvObjects } from '../../src/main/engine/formats/csv';
import { reviewItems } from '../../src/main/engine/store/review-repo';
import { CellStore } from '../../src/main/engine/store/store';
import { tempDir } from '../helpers/data';
import { buildFixtureProject, type FixtureProject } from './export-fixture';

// Migration 002 (sign-off, consensus) is registered in migrations/index.ts by the store owner; until then this
// adds it for these tests only. Once registered, the real list is used unchanged.
vi.mock('../../src/main/engine/store/migrations/index', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/main/engine/store/migrations/index')>();
  if (real.MIGRATIONS.some((m) => m.name === '002-review')) return real;
  const { m002Review } = await import('../../src/main/engine/store/migrations/002-review');
  const MIGRATIONS = [...real.MIGRATIONS, { ...m002Review, version: real.MIGRATIONS.length + 1 }];
  return { ...real, MIGRATIONS, SCHEMA_VERSION: MIGRATIONS.length };
});

let tmp: { dir: string; cleanup: () => void };
let p: FixtureProject;
let store: CellStore;
const cls = (name: string) => store.findClass(name)!.id;

beforeAll(async () => {
  tmp = tempDir('reddino-review-');
  p = await buildFixtureProject(tmp.dir, ['10', '154']);
  store = p.store;
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('cohenKappa', () => {
  it('matches the textbook 2x2 example (p_o 0.7, p_e 0.5, kappa 0.4)', () => {
    // 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15.
    const a = [...Array(25).fill('y'), ...Array(25).fill('n')];
    const b = [...Array(20).fill('y'), ...Array(5).fill('n'), ...Array(10).fill('y'), ...Array(15).fill('n')];
    const k = cohenKappa(a, b);
    expect(k.observed).toBeCloseTo(0.7, 10);
    expect(k.expected).toBeCloseTo(0.5, 10);
    expect(k.kappa).toBeCloseTo(0.4, 10);
  });

  it('is undefined when both raters used one class only', () => {
    expect(cohenKappa(['a', 'a'], ['a', 'a']).kappa).toBeNull();
  });
});

describe('review sessions', () => {
  it('queues the cells the latest prediction run assigns to the chosen classes', () => {
    const run = store.latestPredictionRun()!;
    const ring = cls('malaria ring');
    const expected = Array.from(run.cellIds).filter((_, i) => run.predicted[i] === ring);
    const s = createReviewSession(store, {
      name: 'rings',
      createdBy: 'lead',
      filter: { kind: 'predicted', classIds: [ring] },
    });
    expect(s.itemCount).toBe(expected.length);
    expect(new Set(reviewItems(store, s.id).map((i) => i.cellId))).toEqual(new Set(expected));
    const onSlide = createReviewSession(store, {
      name: 'rings slide 1',
      createdBy: 'lead',
      filter: { kind: 'predicted', classIds: [ring], imageIds: [p.imageIds[0]] },
    });
    for (const i of reviewItems(store, onSlide.id))
      expect(store.getCell(i.cellId)!.imageId).toBe(p.imageIds[0]);
  });

  it('queues unlabeled cells only', () => {
    const ids = store
      .queryCells({ imageIds: [p.imageIds[1]] })
      .slice(0, 3)
      .map((c) => c.id);
    store.applyLabels({ cellIds: ids, classId: null, source: 'manual', annotator: 'lead' });
    const s = createReviewSession(store, { name: 'todo', createdBy: 'lead', filter: { kind: 'unlabeled' } });
    expect(reviewItems(store, s.id).map((i) => i.cellId)).toEqual(ids);
    expect(() =>
      createReviewSession(store, {
        name: 'none',
        createdBy: 'lead',
        filter: { kind: 'unlabeled', imageIds: [p.imageIds[0]] },
      }),
    ).toThrow(/selects no cells/);
  });

  it('draws the same QC sample for the same seed, a different one for another seed', () => {
    const make = (seed: number) =>
      reviewItems(
        store,
        createReviewSession(store, {
          name: `qc ${seed}`,
          createdBy: 'lead',
          filter: { kind: 'qc-sample', n: 15, seed },
        }).id,
      ).map((i) => i.cellId);
    const a = make(7);
    const b = make(7);
    const c = make(8);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a).size).toBe(15);
    const all = make(9).length;
    expect(all).toBe(15);
    const everything = createReviewSession(store, {
      name: 'qc all',
      createdBy: 'lead',
      filter: { kind: 'qc-sample', n: 100000, seed: 1 },
    });
    expect(everything.itemCount).toBe(store.cellCount());
  });

  it('hides labels, predictions and other readers in blind mode, shows them otherwise', () => {
    const filter = { kind: 'qc-sample' as const, n: 5, seed: 3 };
    const open = createReviewSession(store, { name: 'open', createdBy: 'lead', filter });
    const blind = createReviewSession(store, { name: 'blind', createdBy: 'lead', mode: 'blind', filter });
    for (const s of [open, blind]) {
      const first = reviewItems(store, s.id)[0];
      decideReviewItem(store, { sessionId: s.id, cellId: first.cellId, reader: 'A', classId: cls('normal') });
    }
    const seen = reviewItemAt(store, open.id, 0, 'B')!;
    expect(seen.blind).toBe(false);
    if (!seen.blind) {
      expect(seen.currentClassId).toBe(store.getCell(seen.cellId)!.classId);
      expect(seen.otherDecisions).toEqual([{ reader: 'A', classId: cls('normal') }]);
      expect(seen.predictedClassId).not.toBeNull();
    }
    const hidden = reviewItemAt(store, blind.id, 0, 'B')!;
    expect(hidden.blind).toBe(true);
    const json = JSON.stringify(hidden);
    for (const key of ['currentClassId', 'predictedClassId', 'confidence', 'otherDecisions']) {
      expect(json).not.toContain(key);
    }
    expect(hidden.ownDecision).toBeUndefined();
    expect(reviewItemAt(store, blind.id, 0, 'A')!.ownDecision).toBe(cls('normal'));
  });

  it('resumes each reader at their next undecided item after the project is reopened', () => {
    const s = createReviewSession(store, {
      name: 'resume',
      createdBy: 'lead',
      filter: { kind: 'qc-sample', n: 6, seed: 11 },
    });
    const items = reviewItems(store, s.id);
    for (const i of items.slice(0, 3))
      decideReviewItem(store, { sessionId: s.id, cellId: i.cellId, reader: 'A', classId: cls('normal') });
    // Deciding out of order: the queue resumes at the first gap.
    decideReviewItem(store, { sessionId: s.id, cellId: items[4].cellId, reader: 'A', classId: null });
    store.close();
    store = CellStore.open(p.dir);
    p.store = store;
    expect(reviewProgress(store, s.id, 'A')).toMatchObject({
      total: 6,
      decided: 4,
      remaining: 2,
      nextPosition: 3,
    });
    expect(nextReviewItem(store, s.id, 'A')!.cellId).toBe(items[3].cellId);
    expect(nextReviewItem(store, s.id, 'A', 4)!.cellId).toBe(items[5].cellId);
    expect(nextReviewItem(store, s.id, 'B')!.position).toBe(0);
  });

  it('refuses decisions on cells outside the session, unknown classes and closed sessions', () => {
    const s = createReviewSession(store, {
      name: 'strict',
      createdBy: 'lead',
      filter: { kind: 'qc-sample', n: 2, seed: 5 },
    });
    const inside = new Set(reviewItems(store, s.id).map((i) => i.cellId));
    const outside = store.queryCells({}).find((c) => !inside.has(c.id))!.id;
    const cellId = [...inside][0];
    expect(() =>
      decideReviewItem(store, { sessionId: s.id, cellId: outside, reader: 'A', classId: null }),
    ).toThrow(/not in review session/);
    expect(() => decideReviewItem(store, { sessionId: s.id, cellId, reader: 'A', classId: 99999 })).toThrow(
      /No class/,
    );
    closeSession(store, s.id);
    expect(() => decideReviewItem(store, { sessionId: s.id, cellId, reader: 'A', classId: null })).toThrow(
      /closed/,
    );
  });
});

describe('two-reader agreement and consensus', () => {
  let sessionId: number;
  let items: Array<{ position: number; cellId: number }>;
  beforeAll(() => {
    sessionId = createReviewSession(store, {
      name: 'double read',
      createdBy: 'lead',
      mode: 'blind',
      filter: { kind: 'qc-sample', n: 21, seed: 2024 },
    }).id;
    items = reviewItems(store, sessionId);
    const X = cls('normal');
    const Y = cls('echinocyte');
    // 20 paired decisions: XX 8, XY 2, YX 4, YY 6 (p_o 0.7, p_e 0.5, kappa 0.4); item 20: A "none", B X.
    const plan: Array<[number | null, number]> = [
      ...Array<[number, number]>(8).fill([X, X]),
      ...Array<[number, number]>(2).fill([X, Y]),
      ...Array<[number, number]>(4).fill([Y, X]),
      ...Array<[number, number]>(6).fill([Y, Y]),
      [null, X],
    ];
    plan.forEach(([a, b], i) => {
      // Reader A first said something else on item 0, then changed their mind: the latest decision counts.
      if (i === 0) decideReviewItem(store, { sessionId, cellId: items[i].cellId, reader: 'A', classId: Y });
      decideReviewItem(store, { sessionId, cellId: items[i].cellId, reader: 'A', classId: a });
      decideReviewItem(store, { sessionId, cellId: items[i].cellId, reader: 'B', classId: b });
    });
  });

  it("computes Cohen's kappa overall and one-vs-rest per class", () => {
    const ag = readerAgreement(store, sessionId, 'A', 'B');
    expect(ag.n).toBe(20);
    expect(ag.overall.observed).toBeCloseTo(0.7, 10);
    expect(ag.overall.kappa).toBeCloseTo(0.4, 10);
    expect(ag.disagreements).toBe(7);
    expect(ag.perClass.map((c) => c.className)).toEqual(['normal', 'echinocyte']);
    for (const c of ag.perClass) expect(c.kappa).toBeCloseTo(0.4, 10);
    expect(ag.perClass[0]).toMatchObject({ countA: 10, countB: 12 });
  });

  it('lists disagreements and applies a consensus as a review label in the audit trail', () => {
    const queue = disagreementQueue(store, sessionId, 'A', 'B');
    expect(queue).toHaveLength(7);
    expect(queue.map((d) => d.position)).toEqual([8, 9, 10, 11, 12, 13, 20]);
    const target = queue[0];
    const Y = cls('echinocyte');
    const before = store.getCell(target.cellId)!.classId;
    const settled = settleConsensus(store, {
      sessionId,
      cellId: target.cellId,
      classId: Y,
      decidedBy: 'senior',
    });
    expect(store.getCell(target.cellId)!.classId).toBe(Y);
    const last = store.cellHistory(target.cellId).at(-1)!;
    expect(last).toMatchObject({
      source: 'review',
      annotator: 'senior',
      sessionId,
      classId: Y,
      batchId: settled.batchId,
    });
    expect(before === Y ? settled.batchId === null : settled.batchId! > 0).toBe(true);
    const unsettled = disagreementQueue(store, sessionId, 'A', 'B', { unsettledOnly: true });
    expect(unsettled).toHaveLength(6);
    expect(
      disagreementQueue(store, sessionId, 'A', 'B').find((d) => d.cellId === target.cellId)!.consensus,
    ).toMatchObject({
      classId: Y,
      decidedBy: 'senior',
    });
    // A consensus equal to the current label changes nothing in the label log but is still recorded.
    const again = settleConsensus(store, {
      sessionId,
      cellId: target.cellId,
      classId: Y,
      decidedBy: 'senior',
    });
    expect(again.batchId).toBeNull();
    expect(again.consensusId).toBeGreaterThan(settled.consensusId);
  });
});

describe('blind sessions and comparing readers', () => {
  it("hides the other reader's decisions from a reader who has not finished", () => {
    const sessionId = createReviewSession(store, {
      name: 'blind pair',
      createdBy: 'lead',
      mode: 'blind',
      filter: { kind: 'qc-sample', n: 3, seed: 99 },
    }).id;
    const items = reviewItems(store, sessionId);
    for (const it of items)
      decideReviewItem(store, { sessionId, cellId: it.cellId, reader: 'A', classId: cls('normal') });
    decideReviewItem(store, { sessionId, cellId: items[0].cellId, reader: 'B', classId: cls('echinocyte') });
    expect(() => readerAgreement(store, sessionId, 'A', 'B', 'B')).toThrow(
      /finish your own reading first \(2 cells left\)/,
    );
    expect(() => disagreementQueue(store, sessionId, 'A', 'B', { viewer: 'B' })).toThrow(/finish your own/);
    // A has finished; a third person may always look; without a viewer (CLI) nothing is checked.
    expect(readerAgreement(store, sessionId, 'A', 'B', 'A').disagreements).toBe(1);
    expect(disagreementQueue(store, sessionId, 'A', 'B', { viewer: 'senior' })).toHaveLength(1);
    expect(readerAgreement(store, sessionId, 'A', 'B').n).toBe(1);
  });
});

describe('slide sign-off', () => {
  it('is refused while a cell labeled or predicted in a needs-review class is unreviewed', () => {
    const slide = p.imageIds[0];
    const ring = cls('malaria ring');
    const one = store.queryCells({ imageIds: [slide] }).at(-1)!.id;
    store.applyLabels({ cellIds: [one], classId: ring, source: 'manual', annotator: 'anna' });
    const st = slideSignoffStatus(store, slide);
    expect(st.flaggedClassIds).toContain(ring);
    expect(st.flaggedCellIds).toContain(one);
    expect(st.canSign).toBe(false);
    expect(() => signSlide(store, { imageId: slide, signedBy: 'dr who' })).toThrow(/cannot be signed/);

    const s = createReviewSession(store, {
      name: 'sign-off check',
      createdBy: 'lead',
      filter: { kind: 'qc-sample', n: 100000, seed: 1, imageIds: [slide] },
    });
    for (const id of st.unreviewedCellIds.slice(1))
      decideReviewItem(store, { sessionId: s.id, cellId: id, reader: 'A', classId: ring });
    expect(slideSignoffStatus(store, slide).unreviewedCellIds).toEqual(st.unreviewedCellIds.slice(0, 1));
    expect(() => signSlide(store, { imageId: slide, signedBy: 'dr who' })).toThrow(/1 cell/);
    decideReviewItem(store, { sessionId: s.id, cellId: st.unreviewedCellIds[0], reader: 'A', classId: null });
    const sig = signSlide(store, { imageId: slide, signedBy: 'dr who', note: 'ok' });
    expect(sig).toMatchObject({
      imageId: slide,
      signedBy: 'dr who',
      reviewedCells: st.flaggedCellIds.length,
      note: 'ok',
    });
    expect(slideSignoffStatus(store, slide).signatures).toHaveLength(1);
    expect(() => store.db.prepare(`UPDATE slide_signatures SET signed_by = 'x'`).run()).toThrow(
      /append-only/,
    );
  });
});

describe('audit trail', () => {
  it('filters label events by annotator, source and time, and keeps model and run of suggestions', async () => {
    const all = auditTrail(store);
    expect(all.length).toBeGreaterThan(0);
    const anna = auditTrail(store, { annotators: ['anna'] });
    expect(anna.length).toBeGreaterThan(0);
    expect(anna.every((e) => e.annotator === 'anna')).toBe(true);
    expect(anna.length).toBe(all.filter((e) => e.annotator === 'anna').length);
    const review = auditTrail(store, { sources: ['review'] });
    expect(review.length).toBeGreaterThan(0);
    expect(review.every((e) => e.source === 'review' && e.sessionId != null)).toBe(true);

    const cell = store.queryCells({ labeled: 'unlabeled' })[0].id;
    const run = store.latestPredictionRun()!;
    // Timestamps have millisecond resolution: step past the previous event's millisecond, and this one's.
    const tick = () => new Promise((r) => setTimeout(r, 3));
    await tick();
    const t0 = new Date().toISOString();
    await tick();
    store.applyLabels({
      cellIds: [cell],
      classId: cls('normal'),
      source: 'suggestion',
      annotator: 'bob',
      modelId: run.modelId,
      runId: run.id,
    });
    const recent = auditTrail(store, { since: t0 });
    expect(recent).toHaveLength(1);
    expect(recent[0]).toMatchObject({
      cellId: cell,
      source: 'suggestion',
      annotator: 'bob',
      modelId: run.modelId,
      modelName: 'morphology-test',
      runId: run.id,
      previousClassId: null,
    });
    expect(auditTrail(store, { until: t0 }).length).toBe(all.length);
    store.undo('bob');
    const undo = auditTrail(store, { since: t0, actions: ['undo'] });
    expect(undo).toHaveLength(1);
    expect(undo[0]).toMatchObject({
      cellId: cell,
      classId: null,
      previousClassId: cls('normal'),
      targetBatchId: recent[0].batchId,
      // The undo names what it reverts: the same model and prediction run as the accepted suggestion.
      modelId: run.modelId,
      runId: run.id,
    });
  });

  it('exports the trail as CSV, one row per event, with non-ASCII names intact', () => {
    const file = path.join(tmp.dir, 'audit', 'audit.csv');
    const n = writeAuditCsv(store, file, {});
    const rows = parseCsvObjects(fs.readFileSync(file, 'utf8'));
    expect(rows).toHaveLength(n);
    expect(n).toBe(auditTrail(store).length);
    expect(rows.some((r) => r.class === '標的細胞')).toBe(true);
    expect(rows.some((r) => r.image.startsWith('Ausstrich ü 標本'))).toBe(true);
    expect(() => store.db.prepare(`UPDATE annotations SET class_id = NULL`).run()).toThrow(/append-only/);
  });
});

// Last: it undoes and redoes review labels (the undo and redo batches carry the session of the batch they
// revert), after the audit-trail checks of the sessions' apply events.
describe('consensus and undo', () => {
  let sessionId: number;
  beforeAll(() => {
    sessionId = listSessions(store).find((s) => s.name === 'double read')!.id;
  });

  it('withdraws a consensus when its label is undone, and restores it on redo', () => {
    const target = disagreementQueue(store, sessionId, 'A', 'B', { unsettledOnly: true })[0];
    const before = store.getCell(target.cellId)!.classId;
    const to = before === cls('schistocyte') ? cls('spherocyte') : cls('schistocyte');
    const settled = settleConsensus(store, {
      sessionId,
      cellId: target.cellId,
      classId: to,
      decidedBy: 'senior',
    });
    expect(settled.batchId).not.toBeNull();
    const consensusOf = () =>
      disagreementQueue(store, sessionId, 'A', 'B').find((d) => d.cellId === target.cellId)!.consensus;
    expect(consensusOf()).toMatchObject({ classId: to });
    expect(store.undo('senior')!.cellIds).toEqual([target.cellId]);
    expect(store.getCell(target.cellId)!.classId).toBe(before);
    expect(consensusOf()).toBeNull();
    expect(store.redo('senior')!.cellIds).toEqual([target.cellId]);
    expect(consensusOf()).toMatchObject({ classId: to });
    // Undoing the redo withdraws it again; the consensus rows themselves are never deleted.
    store.undo('senior');
    expect(consensusOf()).toBeNull();
    const rows = store.db
      .prepare(`SELECT count(*) AS n FROM review_consensus WHERE cell_id = ?`)
      .get(target.cellId) as { n: number };
    expect(rows.n).toBe(1);
  });
});
