import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectViaUi, startE2E, waitForJob, waitUntil, type E2E } from './harness';
import { dataPath } from '../helpers/data';

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

const labelOf = (cellId: number) => e.engine.project.labelsFor(Int32Array.of(cellId))[0];
const classId = (name: string) => e.engine.project.findClass(name)!.id;
const tileIds = async () =>
  (
    await e.page
      .getByTestId('gallery-tile')
      .evaluateAll((els) => els.map((el) => el.getAttribute('data-cell-id')))
  ).map(Number);
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

  it('selects a cell by clicking it in the slide viewer and labels it with a key', async () => {
    const { page } = e;
    const slide = e.engine.project.listSlides()[0];
    const cells = e.engine.project.queryCells({ imageIds: [slide.id] });
    // A cell away from the border, placed the way the viewer fits the field (centred, 95% of the limiting side).
    const cell = cells.find((c) => c.bbox[0] > 100 && c.bbox[1] > 100) ?? cells[0];
    const box = (await page.getByTestId('slide-canvas').boundingBox())!;
    const scale = 0.95 * Math.min(box.width / slide.width, box.height / slide.height);
    const x = box.x + box.width / 2 + (cell.centroid[0] - slide.width / 2) * scale;
    const y = box.y + box.height / 2 + (cell.centroid[1] - slide.height / 2) * scale;
    await page.mouse.click(x, y);
    const detail = page.locator('[data-testid="cell-detail"][data-cell-id]');
    await detail.waitFor();
    const picked = Number(await detail.getAttribute('data-cell-id'));
    // The smallest box under the pointer wins, so the clicked cell's centroid lies inside the picked box.
    const pb = cells.find((c) => c.id === picked)!.bbox;
    expect(cell.centroid[0]).toBeGreaterThanOrEqual(pb[0] - 2);
    expect(cell.centroid[0]).toBeLessThanOrEqual(pb[0] + pb[2] + 2);
    const before = labelOf(picked);
    await page.keyboard.press('7');
    await waitUntil('slide label', () => labelOf(picked) === classId('elliptocyte'));
    await page.waitForTimeout(300);
    await e.screenshot('slide-viewer-selected');
    await page.keyboard.press('Control+z');
    await waitUntil('slide undo', () => labelOf(picked) === before);
  });

  it('labels cells with hotkeys, shift-click, ctrl-click and a drag box in the gallery; undo and redo', async () => {
    const { page } = e;
    await page.getByTestId('nav-gallery').click();
    const tiles = page.getByTestId('gallery-tile');
    await tiles.first().waitFor();
    const ids = await tileIds();
    expect(ids.length).toBeGreaterThan(20);
    // Chula fields come with partial annotations, so some cells start labeled: compare against the start.
    const initial = ids.map(labelOf);
    const stats0 = e.engine.project.stats().labelsPerClass;
    const count0 = (name: string) => stats0[name] ?? 0;

    // Key, key: labeling the focused cell moves the focus on to the next one.
    await tiles.nth(0).click();
    await page.keyboard.press('2');
    await waitUntil('first label', () => labelOf(ids[0]) === classId('echinocyte'));
    await page.keyboard.press('1');
    await waitUntil('second label', () => labelOf(ids[1]) === classId('normal'));
    await waitUntil(
      'live count',
      async () =>
        (await page.getByTestId('class-count-echinocyte').textContent()) ===
        (e.engine.project.stats().labelsPerClass.echinocyte ?? 0).toLocaleString('en-US'),
    );

    // Shift-click from the anchor (index 2, where the focus moved) to index 5, then ctrl-click index 8.
    await tiles.nth(2).click();
    await tiles.nth(5).click({ modifiers: ['Shift'] });
    await tiles.nth(8).click({ modifiers: ['Control'] });
    expect(await page.getByTestId('gallery-selection-count').textContent()).toBe('5 selected');
    await page.keyboard.press('4');
    await waitUntil('range label', () =>
      [2, 3, 4, 5, 8].every((i) => labelOf(ids[i]) === classId('spherocyte')),
    );
    expect(labelOf(ids[6])).toBe(initial[6]);

    // Arrow keys move the focus; shift+arrow extends.
    await tiles.nth(9).click();
    await page.keyboard.press('Shift+ArrowRight');
    expect(await page.getByTestId('gallery-selection-count').textContent()).toBe('2 selected');
    await page.keyboard.press('Escape');

    // Drag a box from the gap before tile 10 across tiles 10..12.
    const a = (await tiles.nth(10).boundingBox())!;
    const b = (await tiles.nth(12).boundingBox())!;
    await page.mouse.move(a.x + 5, a.y + 5);
    await page.mouse.down();
    await page.mouse.move(a.x + 40, a.y + 20, { steps: 3 });
    await page.mouse.move(b.x + b.width - 5, b.y + b.height - 5, { steps: 5 });
    await e.screenshot('gallery-drag-box');
    await page.mouse.up();
    expect(await page.getByTestId('gallery-selection-count').textContent()).toBe('3 selected');
    await page.keyboard.press('q');
    await waitUntil('box label', () => [10, 11, 12].every((i) => labelOf(ids[i]) === classId('artifact')));

    await page.keyboard.press('Control+z');
    await waitUntil('undo', () => [10, 11, 12].every((i) => labelOf(ids[i]) === initial[i]));
    expect(labelOf(ids[8])).toBe(classId('spherocyte'));
    await page.keyboard.press('Control+Shift+Z');
    await waitUntil('redo', () => labelOf(ids[10]) === classId('artifact'));
    await page.keyboard.press('Control+z');
    await waitUntil('undo again', () => labelOf(ids[10]) === initial[10]);
    await page.keyboard.press('Control+y');
    await waitUntil('redo with Ctrl+Y', () => labelOf(ids[10]) === classId('artifact'));
    const history = e.engine.project.cellHistory(ids[10]);
    expect(history.slice(-5).map((h) => h.action)).toEqual(['apply', 'undo', 'redo', 'undo', 'redo']);

    await tiles.nth(10).click();
    await page.getByTestId('cell-history').waitFor();
    expect(await page.getByTestId('cell-history').locator('li').count()).toBe(history.length);
    await e.screenshot('gallery');
    // Net effect: 5 new spherocytes and 3 new artifacts, minus whatever those cells were before.
    const net = (name: string, idx: number[]) =>
      count0(name) + idx.length - idx.filter((i) => initial[i] === classId(name)).length;
    const stats = e.engine.project.stats().labelsPerClass;
    expect(stats.artifact ?? 0).toBe(net('artifact', [10, 11, 12]));
  });

  it('computes the map, lassoes cells and labels them with a class key', async () => {
    const { page } = e;
    await page.getByTestId('nav-map').click();
    await page.getByTestId('map-start').click();
    await waitForJob(e, 'map');
    await page.getByTestId('map-info').waitFor();
    await page.waitForTimeout(800);
    await e.screenshot('map');
    const box = (await page.getByTestId('map-canvas').boundingBox())!;
    // Aim the lasso at the densest spot of the layout, placed as the view fits it (centre, 85% of the short side).
    const map = (await e.engine.call('map.get', {})) as { xy: Float32Array };
    const xy = map.xy;
    let minX = Infinity,
      maxX = -Infinity,
      minY = Infinity,
      maxY = -Infinity;
    for (let i = 0; i < xy.length; i += 2) {
      minX = Math.min(minX, xy[i]);
      maxX = Math.max(maxX, xy[i]);
      minY = Math.min(minY, xy[i + 1]);
      maxY = Math.max(maxY, xy[i + 1]);
    }
    const scale = (0.85 * Math.min(box.width, box.height)) / Math.max(maxX - minX, maxY - minY);
    const toScreen = (i: number) => [
      box.x + box.width / 2 + (xy[2 * i] - (minX + maxX) / 2) * scale,
      box.y + box.height / 2 + (xy[2 * i + 1] - (minY + maxY) / 2) * scale,
    ];
    const r = 25;
    let best = 0;
    let bestCount = -1;
    for (let i = 0; i < xy.length / 2; i += 7) {
      const [x, y] = toScreen(i);
      let c = 0;
      for (let j = 0; j < xy.length / 2; j++) {
        const [u, v] = toScreen(j);
        if (Math.abs(u - x) < r * 0.8 && Math.abs(v - y) < r * 0.8) c++;
      }
      if (c > bestCount) [best, bestCount] = [i, c];
    }
    const [cx, cy] = toScreen(best);
    await page.mouse.move(cx - r, cy - r);
    await page.mouse.down();
    for (const [x, y] of [
      [cx + r, cy - r],
      [cx + r, cy + r],
      [cx - r, cy + r],
      [cx - r, cy - r + 2],
    ])
      await page.mouse.move(x, y, { steps: 6 });
    await e.screenshot('map-lasso');
    await page.mouse.up();
    const countText = (await page.getByTestId('map-selection-count').textContent()) ?? '';
    const n = Number(countText.replace(/\D/g, ''));
    expect(n).toBeGreaterThan(0);
    const lastBatch = () =>
      (e.engine.project.db.prepare(`SELECT max(id) FROM label_batches`).pluck().get() as number | null) ?? 0;
    const batch0 = lastBatch();
    const before = e.engine.project.stats().labelsPerClass['target cell'] ?? 0;
    await page.keyboard.press('6');
    await waitUntil('lasso label', () => lastBatch() > batch0);
    // Some lassoed cells may already be target cells (Chula annotations): only the others change.
    const changed = e.engine.project.db
      .prepare(`SELECT count(*) FROM annotations WHERE batch_id = ?`)
      .pluck()
      .get(lastBatch()) as number;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThanOrEqual(n);
    expect(e.engine.project.stats().labelsPerClass['target cell']).toBe(before + changed);
    await page.getByTestId('map-open-gallery').click();
    await page.getByTestId('gallery-source').waitFor();
    expect(await page.getByTestId('gallery-total').textContent()).toContain(n.toLocaleString('en-US'));
    await page.getByTestId('gallery-show-all').click();
  });

  it('accepts, rejects and reassigns suggestions in the review queue', async () => {
    const { page } = e;
    await page.getByTestId('nav-models').click();
    await page.getByTestId('model-row').first().waitFor();
    await e.screenshot('models');
    await page.getByTestId('nav-review').click();
    const card = page.getByTestId('suggestion').first();
    await card.waitFor();
    await e.screenshot('review');
    const first = Number(await card.getAttribute('data-cell-id'));
    const firstHistory = e.engine.project.cellHistory(first).length;
    await page.keyboard.press('x');
    await waitUntil('reject', async () => Number(await card.getAttribute('data-cell-id')) !== first);
    expect(e.engine.project.cellHistory(first).length).toBe(firstHistory);
    const second = Number(await card.getAttribute('data-cell-id'));
    await page.keyboard.press('s');
    await waitUntil('reassign', () => labelOf(second) === classId('schizont'));
    // The store is written before the card moves on: read the next cell only once the card shows it.
    await waitUntil('next card', async () => Number(await card.getAttribute('data-cell-id')) !== second);
    const third = Number(await card.getAttribute('data-cell-id'));
    const hasPrediction = (await page.getByTestId('suggestion-prediction').first().textContent())?.includes(
      '%',
    );
    await page.keyboard.press('a');
    if (hasPrediction) {
      await waitUntil('accept', () => labelOf(third) > 0);
      const last = e.engine.project.cellHistory(third).at(-1)!;
      expect(last.source).toBe('suggestion');
    }
    expect(await page.getByTestId('suggest-counts').textContent()).toMatch(/rejected 1 · reassigned 1/);
  });

  it('propagates a label to similar cells as one undoable step', async () => {
    const { page } = e;
    await page.getByTestId('nav-gallery').click();
    const tiles = page.getByTestId('gallery-tile');
    await tiles.first().waitFor();
    // A seed with similar cells at the threshold used below, as the engine's own preview finds them (which cells
    // the gallery shows first depends on the ingest, so the tile is chosen rather than fixed).
    let seedTile = -1;
    for (let i = 8; i < Math.min(40, await tiles.count()) && seedTile < 0; i++) {
      const id = Number(await tiles.nth(i).getAttribute('data-cell-id'));
      const preview = (await e.engine.call('propagate.preview', {
        seedCellIds: [id],
        k: 50,
        minSimilarity: 0.6,
      })) as unknown[];
      if (preview.length > 0) seedTile = i;
    }
    expect(seedTile).toBeGreaterThanOrEqual(0);
    await tiles.nth(seedTile).click();
    await page.getByTestId('gallery-propagate').click();
    await page.getByTestId('propagate-count').waitFor();
    // Morphology vectors are less tightly clustered than RedDino's: lower the threshold from the 0.9 default.
    await page.getByTestId('propagate-threshold').fill('0.6');
    await page.getByTestId('propagate-candidate').first().waitFor();
    await e.screenshot('propagate');
    const chosen = await page
      .getByTestId('propagate-candidate')
      .evaluateAll((els) => els.filter((el) => el.getAttribute('aria-pressed') === 'true').length);
    expect(chosen).toBeGreaterThan(0);
    const before = e.engine.project.stats().labeled;
    await page.getByTestId('propagate-commit').click();
    await page.getByTestId('propagate-panel').waitFor({ state: 'detached' });
    const batch = e.engine.project.db
      .prepare(`SELECT id, source FROM label_batches ORDER BY id DESC LIMIT 1`)
      .get() as { id: number; source: string };
    expect(batch.source).toBe('propagated');
    const changed = e.engine.project.db
      .prepare(`SELECT count(*) FROM annotations WHERE batch_id = ?`)
      .pluck()
      .get(batch.id) as number;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThanOrEqual(chosen);
    await page.keyboard.press('Control+z');
    await waitUntil('undo propagation', () => e.engine.project.stats().labeled === before);
    expect(e.consoleErrors).toEqual([]);
  });

  it('records the annotator from settings, keeps undo across a reopen, and has a dark theme', async () => {
    const { page } = e;
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('settings-annotator').fill('tech-a');
    await page.getByTestId('settings-save').click();
    await page.getByTestId('settings-saved').waitFor();
    await page.getByTestId('nav-gallery').click();
    const tiles = page.getByTestId('gallery-tile');
    await tiles.first().waitFor();
    const id = Number(await tiles.nth(6).getAttribute('data-cell-id'));
    const before = labelOf(id);
    await tiles.nth(6).click();
    await page.keyboard.press('8');
    await waitUntil('teardrop', () => labelOf(id) === classId('teardrop'));
    expect(e.engine.project.cellHistory(id).at(-1)!.annotator).toBe('tech-a');

    // Close and reopen through the recent list: the undo stack lives in the project file.
    const projectPath = e.engine.project.dir;
    await page.getByRole('button', { name: 'Close project' }).click();
    await page.getByTestId('welcome').waitFor();
    await page.getByRole('button', { name: projectPath }).click();
    await page.getByTestId('project-name').waitFor();
    await page.keyboard.press('Control+z');
    await waitUntil('undo after reopen', () => labelOf(id) === before);

    await page.getByTestId('theme-toggle').click();
    await page.getByTestId('nav-gallery').click();
    await tiles.first().waitFor();
    await page.waitForTimeout(500);
    await e.screenshot('gallery-dark');
    await page.getByTestId('nav-map').click();
    await page.getByTestId('map-info').waitFor();
    await page.getByTestId('map-color').selectOption('prediction');
    await page.waitForTimeout(800);
    await e.screenshot('map-dark-prediction');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(e.consoleErrors).toEqual([]);
  });
});
