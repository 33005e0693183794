import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createProjectViaUi, startE2E, waitUntil, type E2E } from './harness';
import { dataPath } from '../helpers/data';

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

const labelOf = (cellId: number) => e.engine.project.labelsFor(Int32Array.of(cellId))[0];
const find = (name: string) => e.engine.project.findClass(name);

describe('class management in the UI', () => {
  it('adds, renames, re-keys, recolours, merges (undoably) and removes classes', async () => {
    const { page } = e;
    await createProjectViaUi(e, 'classes');
    const fields = path.join(e.dir, 'fields');
    fs.mkdirSync(fields);
    fs.copyFileSync(dataPath('fixture', 'chula_fields', '2.jpg'), path.join(fields, '2.jpg'));
    const { jobId } = (await e.engine.call('ingest.start', { paths: [fields] })) as { jobId: number };
    await e.engine.jobs.wait(jobId);
    const cells = e.engine.project.queryCells({}).map((c) => c.id);
    const echino = find('echinocyte')!;
    const acantho = find('acanthocyte')!;
    await e.engine.call('labels.apply', { cellIds: cells.slice(0, 4), classId: echino.id });
    await e.engine.call('labels.apply', { cellIds: cells.slice(4, 6), classId: acantho.id });

    await page.getByTestId('nav-classes').click();
    await page.getByTestId('classes-view').waitFor();
    const row = (name: string) => page.locator(`[data-testid="class-row"][data-class-name="${name}"]`);
    await row('echinocyte').waitFor();
    expect(await row('echinocyte').getByTestId('class-cells').textContent()).toBe('4');

    // Add.
    await page.getByTestId('class-add-name').fill('Howell-Jolly body');
    await page.getByTestId('class-add-color').fill('#112233');
    await page.getByTestId('class-add-key').fill('h');
    await page.getByTestId('class-add-submit').click();
    await row('Howell-Jolly body').waitFor();
    expect(find('Howell-Jolly body')).toMatchObject({ color: '#112233', hotkey: 'H' });

    // Rename, re-key (a reserved key is refused with the engine's reason), recolour.
    await row('Howell-Jolly body').getByTestId('class-name').fill('HJ body');
    await row('Howell-Jolly body').getByTestId('class-name').press('Enter');
    await row('HJ body').waitFor();
    expect(find('Howell-Jolly body')).toBeNull();
    await row('HJ body').getByTestId('class-key').fill('x');
    await row('HJ body').getByTestId('class-key').press('Enter');
    await page.getByTestId('error-banner').waitFor();
    expect(await page.getByTestId('error-banner').textContent()).toMatch(/reserved/);
    expect(find('HJ body')!.hotkey).toBe('H');
    await row('HJ body').getByTestId('class-key').fill('j');
    await row('HJ body').getByTestId('class-key').press('Enter');
    await waitUntil('new key', () => find('HJ body')?.hotkey === 'J');
    await row('HJ body').getByTestId('class-color').fill('#445566');
    await waitUntil('new colour', () => find('HJ body')?.color === '#445566');

    // The shell's class bar follows: the gallery shows the renamed class with its key.
    await page.getByTestId('nav-gallery').click();
    expect(await page.getByTestId('class-chip-HJ body').textContent()).toContain('J');
    await page.getByTestId('nav-classes').click();

    // Merge echinocyte into acanthocyte: one bulk batch, recorded in each cell's history.
    await row('echinocyte').getByTestId('class-merge-target').selectOption({ label: 'acanthocyte' });
    await row('echinocyte').getByTestId('class-merge').click();
    await row('echinocyte').waitFor({ state: 'detached' });
    expect(cells.slice(0, 6).map(labelOf)).toEqual(Array(6).fill(acantho.id));
    expect(find('echinocyte')).toBeNull();
    await waitUntil(
      'merged count',
      async () => (await row('acanthocyte').getByTestId('class-cells').textContent()) === '6',
    );
    const batch = e.engine.project.db
      .prepare(`SELECT source, note, annotator FROM label_batches ORDER BY id DESC LIMIT 1`)
      .get() as { source: string; note: string };
    expect(batch.source).toBe('bulk');
    expect(batch.note).toMatch(new RegExp(`^merge ${echino.id} into ${acantho.id}`));
    await e.screenshot('classes-merged');

    // Ctrl+Z (outside any field) undoes the merge: the class and its cells come back.
    await page.getByRole('heading', { name: 'Classes' }).click();
    await page.keyboard.press('Control+z');
    await row('echinocyte').waitFor();
    await waitUntil('merge undone', () => cells.slice(0, 4).every((c) => labelOf(c) === echino.id));
    expect(cells.slice(4, 6).map(labelOf)).toEqual([acantho.id, acantho.id]);
    expect(find('echinocyte')!.hotkey).toBe(echino.hotkey);

    // Remove: refused (disabled) while cells carry the class; an unused one is deleted.
    expect(await row('echinocyte').getByTestId('class-remove').isDisabled()).toBe(true);
    const hjId = find('HJ body')!.id;
    await row('HJ body').getByTestId('class-remove').click();
    await row('HJ body').waitFor({ state: 'detached' });
    expect(e.engine.project.db.prepare(`SELECT count(*) FROM classes WHERE id = ?`).pluck().get(hjId)).toBe(
      0,
    );
    // A class the label history names is hidden instead, listed apart, and can be shown again.
    const sphero = find('spherocyte')!;
    await e.engine.call('labels.apply', { cellIds: [cells[6]], classId: sphero.id });
    await e.engine.call('labels.apply', { cellIds: [cells[6]], classId: null });
    await row('spherocyte').getByTestId('class-remove').click();
    await row('spherocyte').waitFor({ state: 'detached' });
    const hiddenItem = page.locator(`[data-testid="hidden-class"][data-class-id="${sphero.id}"]`);
    await hiddenItem.waitFor();
    expect(find('spherocyte')).toMatchObject({ hidden: true, hotkey: null });
    expect(e.engine.project.listClasses().some((c) => c.id === sphero.id)).toBe(false);
    await e.screenshot('classes-hidden');
    await hiddenItem.getByTestId('class-show').click();
    await row('spherocyte').waitFor();
    expect(find('spherocyte')!.hidden).toBeUndefined();
    await e.screenshot('classes');
    // The one refused call (the reserved key) is the browser's only complaint: HTTP 400 from /api/call.
    expect(e.consoleErrors).toEqual([expect.stringMatching(/status of 400/)]);
  });
});
