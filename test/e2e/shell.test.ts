import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { startE2E, type E2E } from './harness';

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

describe('app shell in headless Chromium', () => {
  it('renders the welcome screen, creates a project through the UI and shows it', async () => {
    const { page } = e;
    await page.getByTestId('app-shell').waitFor();
    await page.getByTestId('welcome').waitFor();
    expect(await page.title()).toBe('RedDino Studio');
    await e.screenshot('shell-welcome');

    const projectDir = path.join(e.dir, 'ward 3 ü.rdproj');
    await page.getByTestId('project-path').fill(projectDir);
    await page.getByTestId('create-project').click();
    await page.getByTestId('project-name').waitFor();
    expect(await page.getByTestId('project-name').textContent()).toBe('ward 3 ü');
    await page.getByTestId('slides-empty').waitFor();
    expect(await page.getByTestId('status-bar').textContent()).toContain('0 slides');
    const shot = await e.screenshot('shell-project');
    expect(fs.statSync(shot).size).toBeGreaterThan(5000);
    // The UI went through the engine: the project file exists on disk.
    expect(fs.existsSync(path.join(projectDir, 'cells.db'))).toBe(true);
    expect(e.consoleErrors).toEqual([]);
  });

  it('shows a clear error for a project folder that does not exist', async () => {
    const { page } = e;
    await page.getByRole('button', { name: 'Close project' }).click();
    await page.getByTestId('welcome').waitFor();
    await page.getByTestId('project-path').fill(path.join(e.dir, 'nope.rdproj'));
    await page.getByTestId('open-project').click();
    const banner = page.getByTestId('error-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/No RedDino project at .*nope\.rdproj/);
  });
});
