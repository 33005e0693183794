/**
 * Frame time of the map and the gallery with a large project, in a real browser against the web host (the same
 * UI and API as the desktop app). Meant for a GPU machine: it reports the WebGL renderer, and figures from a
 * software renderer (SwiftShader, llvmpipe) are not the app's frame rates, only a check that the bench runs.
 *
 *   npm run build:web && node bin/run-ts.mjs bench/frame-1m.ts [--cells 1000000] [--seconds 6]
 *   env: CHROMIUM_PATH (default /usr/bin/chromium); FRAME_GL=egl|vulkan|none (default egl: ANGLE on EGL)
 *
 * The project (bench/synthetic-project.ts) holds a stored 2-D map of every cell and the same small thumbnail for
 * the first 20k cells. Frames are timed with requestAnimationFrame while the mouse pans and zooms the map, then
 * while the wheel scrolls the gallery.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { chromium, type Page } from 'playwright-core';
import { Engine } from '../src/main/engine/engine';
import { SettingsFile } from '../src/main/engine/settings';
import { startWebHost } from '../src/web/server';
import { machine, writeResult } from './common';
import { buildSyntheticProject } from './synthetic-project';
import { CHROMIUM_FLAGS } from '../test/e2e/harness';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const n = arg('cells', 1_000_000);
const seconds = arg('seconds', 6);
const gl = process.env.FRAME_GL ?? 'egl';
const GL_FLAGS: Record<string, string[]> = {
  egl: ['--use-gl=angle', '--use-angle=gl-egl', '--ignore-gpu-blocklist', '--enable-gpu-rasterization'],
  vulkan: ['--use-angle=vulkan', '--enable-features=Vulkan', '--ignore-gpu-blocklist'],
  none: [],
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-frame-'));
const dir = path.join(tmp, 'big.rdproj');
const thumb = await sharp({
  create: { width: 96, height: 96, channels: 3, background: { r: 210, g: 120, b: 130 } },
})
  .jpeg({ quality: 85 })
  .toBuffer();
const t0 = performance.now();
buildSyntheticProject(dir, n, { thumbnail: { bytes: thumb, cells: 20_000 } });
const buildSeconds = (performance.now() - t0) / 1000;

const engine = new Engine({ settings: new SettingsFile(path.join(tmp, 'config')) });
await engine.call('project.open', { path: dir });
const host = await startWebHost(engine, { port: 0 });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [...CHROMIUM_FLAGS, ...(GL_FLAGS[gl] ?? [])],
  headless: true,
});

/** Frame intervals (ms) recorded by requestAnimationFrame while `act` runs. */
async function frames(page: Page, act: () => Promise<void>) {
  // Scripts as strings: tsx's name helpers inside a function would not exist in the page.
  await page.evaluate(`(() => {
    window.__frames = [];
    window.__recording = true;
    const tick = (t) => {
      window.__frames.push(t);
      if (window.__recording) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })()`);
  await act();
  const stamps = (await page.evaluate(`(() => {
    window.__recording = false;
    return window.__frames;
  })()`)) as number[];
  const gaps = stamps
    .slice(1)
    .map((t, i) => t - stamps[i])
    .sort((a, b) => a - b);
  const q = (p: number) => Number(gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))].toFixed(1));
  return {
    frames: gaps.length,
    medianMs: q(0.5),
    p95Ms: q(0.95),
    p99Ms: q(0.99),
    maxMs: Number(gaps[gaps.length - 1].toFixed(1)),
    fps: Number((gaps.length / ((stamps[stamps.length - 1] - stamps[0]) / 1000)).toFixed(1)),
  };
}

try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.setDefaultTimeout(300_000);
  const renderer = (await page.evaluate(`(() => {
    const c = document.createElement('canvas').getContext('webgl2');
    if (!c) return 'no WebGL2';
    const ext = c.getExtension('WEBGL_debug_renderer_info');
    return String(ext ? c.getParameter(ext.UNMASKED_RENDERER_WEBGL) : c.getParameter(c.RENDERER));
  })()`)) as string;
  const tLoad = performance.now();
  await page.goto(host.url);
  await page.getByTestId('nav-map').click();
  await page.getByTestId('map-info').waitFor();
  const box = (await page.getByTestId('map-canvas').boundingBox())!;
  // Let the first frames (buffer upload) pass before timing.
  await page.waitForTimeout(1000);
  const mapShownSeconds = (performance.now() - tLoad) / 1000;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const map = await frames(page, async () => {
    const end = performance.now() + seconds * 1000;
    let k = 0;
    while (performance.now() < end) {
      await page.mouse.move(cx, cy);
      await page.mouse.down();
      for (let s = 1; s <= 10; s++) await page.mouse.move(cx + s * 20 * (k % 2 ? -1 : 1), cy + s * 10);
      await page.mouse.up();
      await page.mouse.wheel(0, k % 2 ? 300 : -300);
      k++;
    }
  });
  await page.getByTestId('nav-gallery').click();
  await page.getByTestId('gallery-tile').first().waitFor();
  const grid = (await page.getByTestId('gallery-tile').first().boundingBox())!;
  await page.mouse.move(grid.x + grid.width / 2, grid.y + grid.height / 2);
  const gallery = await frames(page, async () => {
    const end = performance.now() + seconds * 1000;
    let k = 0;
    while (performance.now() < end) {
      await page.mouse.wheel(0, k++ % 20 < 10 ? 600 : -600);
      await page.waitForTimeout(16);
    }
  });
  const software = /swiftshader|llvmpipe|software/i.test(renderer);
  // A software renderer's run is only a check that the bench works: kept apart from the GPU figure.
  writeResult(software ? 'frame-1m-software-check' : 'frame-1m', {
    bench: 'frame-1m',
    cells: n,
    renderer,
    gl,
    softwareRenderer: software,
    viewport: [1600, 1000],
    buildSeconds: Number(buildSeconds.toFixed(1)),
    mapShownSeconds: Number(mapShownSeconds.toFixed(2)),
    map,
    gallery,
    ...machine(),
  });
} finally {
  await browser.close();
  await host.close();
  await engine.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
}
