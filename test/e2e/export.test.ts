import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createProjectViaUi, startE2E, waitForJob, type E2E } from './harness';
import { dataPath } from '../helpers/data';

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

describe('export from the UI', () => {
  it('exports the labeled cells as CSV and COCO with progress, and reports what it wrote', async () => {
    const { page } = e;
    await createProjectViaUi(e, 'export');
    // Two Chula fields with their point annotations: the import labels the matched cells.
    const fields = path.join(e.dir, 'fields');
    fs.mkdirSync(fields);
    for (const f of ['2.jpg', '2.txt', '10.jpg', '10.txt'])
      fs.copyFileSync(dataPath('fixture', 'chula_fields', f), path.join(fields, f));
    const { jobId } = (await e.engine.call('ingest.start', { paths: [fields] })) as { jobId: number };
    await e.engine.jobs.wait(jobId);
    const labeled = e.engine.project.stats().labeled;
    expect(labeled).toBeGreaterThan(100);

    await page.getByTestId('nav-export').click();
    await page.getByTestId('export-view').waitFor();
    const csvOut = path.join(e.dir, 'out csv ü');
    await page.getByTestId('export-format').selectOption('csv');
    await page.getByTestId('export-out').fill(csvOut);
    await page.getByTestId('export-start').click();
    await waitForJob(e, 'export');
    await page.getByTestId('export-result').waitFor();
    expect(await page.getByTestId('export-result').textContent()).toContain(csvOut);
    const csvFile = fs.readdirSync(csvOut).find((f) => f.endsWith('.csv'))!;
    const rows = fs.readFileSync(path.join(csvOut, csvFile), 'utf8').trim().split(/\r?\n/);
    expect(rows.length - 1).toBe(e.engine.project.cellCount());

    const cocoOut = path.join(e.dir, 'out-coco');
    await page.getByTestId('export-format').selectOption('coco');
    await page.getByTestId('export-out').fill(cocoOut);
    await page.getByTestId('export-classes').fill('normal');
    await page.getByTestId('export-start').click();
    // Wait for the second export job itself (the first one is already done).
    for (const t0 = Date.now(); ;) {
      const exports = e.engine.project.listJobs().filter((j) => j.kind === 'export');
      if (exports.length === 2 && exports.every((j) => j.state === 'done')) break;
      if (Date.now() - t0 > 60_000)
        throw new Error(`the COCO export did not finish: ${JSON.stringify(exports)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.getByTestId('export-result').waitFor();
    const cocoFile = fs.readdirSync(cocoOut).find((f) => f.endsWith('.json') && !f.startsWith('.'))!;
    const coco = JSON.parse(fs.readFileSync(path.join(cocoOut, cocoFile), 'utf8')) as {
      annotations: Array<{ category_id: number }>;
      categories: Array<{ id: number; name: string }>;
    };
    const normalCategory = coco.categories.find((c) => c.name === 'normal')!.id;
    expect(coco.annotations.every((a) => a.category_id === normalCategory)).toBe(true);
    expect(coco.annotations.length).toBe(e.engine.project.stats().labelsPerClass.normal);
    await e.screenshot('export');
    expect(e.consoleErrors).toEqual([]);
  });
});
