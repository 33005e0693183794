import { chromium, type Browser, type Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import { startWebHost, type WebHost } from '../../src/web/server';
import { PROJECT_ROOT, tempDir } from '../helpers/data';

export const SCREENSHOTS = path.join(PROJECT_ROOT, 'test-results/screenshots');

export interface E2E {
  engine: Engine;
  host: WebHost;
  browser: Browser;
  page: Page;
  dir: string;
  consoleErrors: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Chromium flags for a quiet, offline headless run (the e2e tests add --disable-gpu; bench/frame-1m.ts a GL). */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The real UI in headless Chromium against the web host, with a fresh data folder and browser profile per test. */
export async function startE2E(): Promise<E2E> {
  const tmp = tempDir('reddino-e2e-');
  const engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
  const host = await startWebHost(engine, { port: 0 });
  // Playwright gives every launch a fresh, empty user-data-dir of its own.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_FLAGS, '--disable-gpu'],
    headless: true,
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // Software WebGL on two shared cores renders slowly while the engine refits predictions: give actions time.
  page.setDefaultTimeout(90_000);
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(host.url);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    engine,
    host,
    browser,
    page,
    dir: tmp.dir,
    consoleErrors,
    async screenshot(name) {
      const file = path.join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    async close() {
      await browser.close();
      await host.close();
      await engine.dispose();
      tmp.cleanup();
    },
  };
}

/** Creates a project through the welcome screen and waits for the shell to show it. */
export async function createProjectViaUi(e: E2E, name: string): Promise<string> {
  const dir = path.join(e.dir, `${name}.rdproj`);
  await e.page.getByTestId('welcome').waitFor();
  await e.page.getByTestId('project-path').fill(dir);
  await e.page.getByTestId('create-project').click();
  await e.page.getByTestId('project-name').waitFor();
  return dir;
}

/** Resolves when the latest job of `kind` in the open project has ended; throws with its error if it failed. */
export async function waitForJob(e: E2E, kind: string, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const job = e.engine.project.listJobs().find((j) => j.kind === kind);
    if (job && !['running', 'queued'].includes(job.state)) {
      if (job.state !== 'done') throw new Error(`${kind} job ${job.state}: ${job.error ?? ''}`);
      return;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`${kind} job did not finish in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Polls until `ok` holds (every 100 ms); throws naming `what` after timeoutMs. */
export async function waitUntil(
  what: string,
  ok: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
