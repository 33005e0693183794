import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectViaUi, startE2E, waitForJob, type E2E } from './harness';
import { dataPath } from '../helpers/data';

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

describe('labeling workflow in headless Chromium', () => {
  it('imports the Chula fields through the import view with a progress bar', async () => {
    const { page } = e;
    await createProjectViaUi(e, 'chula');
    await page.getByTestId('nav-import').click();
    await page.getByTestId('import-paths').fill(dataPath('fixture', 'chula_fields'));
    await page.getByTestId('import-start').click();
    await page.getByTestId('import-progress').waitFor();
    await e.screenshot('import-running');
    await waitForJob(e, 'ingest');
    await page.getByTestId('import-done').click();
    await page.getByTestId('slides-list').waitFor();
    const slides = e.engine.project.listSlides();
    expect(slides.length).toBe(24);
    expect(await page.getByTestId('slide-row').count()).toBe(24);
    await page.getByTestId('slide-row').first().click();
    await page.getByTestId('slide-viewer').waitFor();
    await page.waitForTimeout(1000);
    await e.screenshot('slides');
  });

  it('labels cells with hotkeys in the gallery and undoes with Ctrl+Z', async () => {
    const { page } = e;
    await page.getByTestId('nav-gallery').click();
    const tiles = page.getByTestId('gallery-tile');
    await tiles.first().waitFor();
    await tiles.first().click();
    const firstId = Number(await tiles.first().getAttribute('data-cell-id'));
    await page.keyboard.press('2');
    await page.getByTestId('notice').filter({ hasText: 'echinocyte' }).waitFor();
    await e.screenshot('gallery');
    const echino = e.engine.project.findClass('echinocyte')!;
    expect(Array.from(e.engine.project.labelsFor(Int32Array.of(firstId)))).toEqual([echino.id]);
    expect(e.consoleErrors).toEqual([]);
  });
});
