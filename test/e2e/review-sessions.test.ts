import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createProjectViaUi, startE2E, type E2E } from './harness';
import { dataPath } from '../helpers/data';

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
});
