import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createProjectViaUi, startE2E, type E2E } from './harness';
import { dataPath } from '../helpers/data';
import { decideReviewItem, listSessions } from '../../src/main/engine/review/sessions';
import { readerAgreement } from '../../src/main/engine/review/agreement';
import { reviewItems } from '../../src/main/engine/store/review-repo';

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

describe('review sessions in the UI', () => {
  it('creates a blind QC session and decides every cell with class keys', async () => {
    const { page } = e;
    await createProjectViaUi(e, 'review');
    const fields = path.join(e.dir, 'fields');
    fs.mkdirSync(fields);
    for (const f of ['2.jpg', '2.txt'])
      fs.copyFileSync(dataPath('fixture', 'chula_fields', f), path.join(fields, f));
    const { jobId } = (await e.engine.call('ingest.start', { paths: [fields] })) as { jobId: number };
    await e.engine.jobs.wait(jobId);

    await page.getByTestId('nav-sessions').click();
    await page.getByTestId('review-sessions-view').waitFor();
    await page.getByTestId('review-name').fill('QC ü');
    await page.getByTestId('review-kind').selectOption('qc-sample');
    await page.getByTestId('review-n').fill('3');
    await page.getByTestId('review-blind').check();
    await page.getByTestId('review-create').click();
    await page.getByTestId('review-item').waitFor();
    // Blind: no label or prediction is shown.
    expect(await page.getByTestId('review-item').textContent()).not.toContain('label:');
    const decided: number[] = [];
    for (let i = 0; i < 3; i++) {
      const item = page.getByTestId('review-item');
      const cellId = Number(await item.getAttribute('data-cell-id'));
      decided.push(cellId);
      await page.keyboard.press(i === 2 ? 'n' : '1');
      if (i < 2) await page.locator(`[data-testid="review-item"]:not([data-cell-id="${cellId}"])`).waitFor();
    }
    await page.getByTestId('review-done').waitFor();
    await e.screenshot('review-sessions');
    const session = e.engine.project.db.prepare(`SELECT id FROM review_sessions`).pluck().get() as number;
    const rows = e.engine.project.db
      .prepare(`SELECT cell_id, class_id FROM review_decisions WHERE session_id = ? ORDER BY id`)
      .all(session) as Array<{ cell_id: number; class_id: number | null }>;
    const normal = e.engine.project.findClass('normal')!.id;
    expect(rows.map((r) => r.cell_id)).toEqual(decided);
    expect(rows.map((r) => r.class_id)).toEqual([normal, normal, null]);
    expect(e.consoleErrors).toEqual([]);
  });

  it('shows kappa for two readers and settles a disagreement with a class key, undoably', async () => {
    const { page } = e;
    const store = e.engine.project;
    const annotator = e.engine.annotator;
    const session = (await e.engine.call('review.create', {
      name: 'Double read Ω',
      mode: 'blind',
      filter: { kind: 'qc-sample', n: 8, seed: 7 },
    })) as { id: number };
    const items = reviewItems(store, session.id);
    const normal = store.findClass('normal')!.id;
    const echino = store.findClass('echinocyte')!;
    const sphero = store.findClass('spherocyte')!.id;
    // alice and bob agree on 5 cells and disagree on 3 (one of them "none of the classes").
    const plan: Array<[number | null, number | null]> = [
      [normal, normal],
      [normal, normal],
      [echino.id, echino.id],
      [normal, normal],
      [sphero, sphero],
      [normal, echino.id],
      [echino.id, sphero],
      [null, normal],
    ];
    plan.forEach(([a, b], i) => {
      decideReviewItem(store, {
        sessionId: session.id,
        cellId: items[i].cellId,
        reader: 'alice',
        classId: a,
      });
      decideReviewItem(store, { sessionId: session.id, cellId: items[i].cellId, reader: 'bob', classId: b });
    });
    const expected = readerAgreement(store, session.id, 'alice', 'bob');

    // The view lists sessions when it opens: leave it and come back to see the new one.
    await page.getByTestId('nav-slides').click();
    await page.getByTestId('nav-sessions').click();
    await page.getByTestId('review-session').filter({ hasText: 'Double read Ω' }).click();
    await page.getByTestId('review-reader-a').fill('alice');
    await page.getByTestId('review-reader-b').fill('bob');
    await page.getByTestId('review-agreement').click();
    await page.getByTestId('kappa-table').waitFor();
    expect(await page.getByTestId('review-kappa').textContent()).toContain(
      `${expected.n} cells, 3 disagreements, Cohen's kappa ${expected.overall.kappa!.toFixed(3)}`,
    );
    expect(await page.getByTestId('kappa-class').count()).toBe(expected.perClass.length);
    const rows = page.getByTestId('disagreement');
    expect(await rows.count()).toBe(3);
    expect(await rows.evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-cell-id'))))).toEqual(
      [items[5].cellId, items[6].cellId, items[7].cellId],
    );
    // The first unsettled disagreement is selected: a class key settles it (and the queue moves on).
    const target = items[6].cellId;
    // A class other than the cell's current (imported) label, so the consensus changes the label and can be undone.
    const to = store.getCell(target)!.classId === echino.id ? store.findClass('spherocyte')! : echino;
    await page.locator(`[data-testid="disagreement"][data-cell-id="${target}"]`).click();
    await page.keyboard.press(to.hotkey!);
    const row = page.locator(`[data-testid="disagreement"][data-cell-id="${target}"]`);
    await row.locator('[data-testid="consensus"]').waitFor();
    expect(await row.getAttribute('data-settled')).toBe('yes');
    expect((await row.textContent())!.replace(/\s+/g, ' ')).toContain(
      `consensus: ${to.name} by ${annotator}`,
    );
    expect(
      await page.locator(`[data-testid="disagreement"][aria-selected="true"]`).getAttribute('data-cell-id'),
    ).toBe(String(items[7].cellId));
    const consensusRows = () =>
      store.db
        .prepare(`SELECT cell_id, class_id, decided_by, batch_id FROM review_consensus WHERE session_id = ?`)
        .all(session.id) as Array<{
        cell_id: number;
        class_id: number | null;
        decided_by: string;
        batch_id: number;
      }>;
    expect(consensusRows()).toEqual([
      { cell_id: target, class_id: to.id, decided_by: annotator, batch_id: expect.any(Number) },
    ]);
    const labelOf = (cellId: number) =>
      store.db
        .prepare(
          `SELECT l.class_id, b.source, b.session_id FROM cell_labels l JOIN annotations a ON a.id = l.annotation_id
           JOIN label_batches b ON b.id = a.batch_id WHERE l.cell_id = ?`,
        )
        .get(cellId) as { class_id: number; source: string; session_id: number | null } | undefined;
    expect(labelOf(target)).toEqual({ class_id: to.id, source: 'review', session_id: session.id });

    // Undo takes the label back and the disagreement is open again; the consensus row stays (append-only).
    await page.getByTestId('consensus-undo').click();
    await page.locator(`[data-testid="disagreement"][data-cell-id="${target}"][data-settled="no"]`).waitFor();
    expect(labelOf(target)?.class_id ?? null).not.toBe(to.id);
    expect(consensusRows()).toHaveLength(1);

    // Settle it again with N ("none of the classes") to finish: the label becomes none.
    await row.click();
    await page.keyboard.press('n');
    await page
      .locator(`[data-testid="disagreement"][data-cell-id="${target}"][data-settled="yes"]`)
      .waitFor();
    expect((await row.textContent())!.replace(/\s+/g, ' ')).toContain('consensus: none by');
    const last = consensusRows().at(-1)!;
    expect(last).toMatchObject({ cell_id: target, class_id: null, decided_by: annotator });
    expect(labelOf(target)?.class_id ?? null).toBeNull();
    expect(listSessions(store).find((s) => s.id === session.id)!.itemCount).toBe(8);
    // Esc leaves the consensus panel: class keys decide in this reader's own queue again, not settle.
    const consensusBefore = consensusRows().length;
    await page.keyboard.press('Escape');
    await page.locator('[data-testid="disagreement"][aria-selected="true"]').waitFor({ state: 'detached' });
    const own = Number(await page.getByTestId('review-item').getAttribute('data-cell-id'));
    await page.keyboard.press('1');
    await page.locator(`[data-testid="review-item"]:not([data-cell-id="${own}"])`).waitFor();
    const mine = store.db
      .prepare(`SELECT cell_id, class_id FROM review_decisions WHERE session_id = ? AND reader = ?`)
      .all(session.id, annotator);
    expect(mine).toEqual([{ cell_id: own, class_id: normal }]);
    expect(consensusRows()).toHaveLength(consensusBefore);
    await e.screenshot('review-consensus');
    expect(e.consoleErrors).toEqual([]);
  });
});
