import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import sharp, { type OverlayOptions, type Region } from 'sharp';
import { createProjectViaUi, startE2E, waitForJob, type E2E } from './harness';
import { dataPath } from '../helpers/data';
import { pyramidLevels, usesTiles } from '../../src/shared/pyramid';

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

// Above the 4096 px tiling threshold, yet small enough (4.4 MP, a few hundred cells) for software WebGL.
const W = 4608;
const H = 960;

/** A wide field: a real Chula smear field (640x480) repeated across W x H. */
async function writeBigField(file: string): Promise<void> {
  const field = dataPath('fixture', 'chula_fields', '2.jpg');
  const composites: OverlayOptions[] = [];
  for (let y = 0; y < H; y += 480)
    for (let x = 0; x < W; x += 640) {
      const input = await sharp(field)
        .extract({ left: 0, top: 0, width: Math.min(640, W - x), height: 480 })
        .toBuffer();
      composites.push({ input, left: x, top: y });
    }
  await sharp({ create: { width: W, height: H, channels: 3, background: '#ffffff' } })
    .composite(composites)
    .jpeg({ quality: 92 })
    .toFile(file);
}

/**
 * Per-channel medians (robust to the thin cell outlines drawn over the field) and the green channel's spread of
 * an image region (the whole image without a region).
 */
async function regionStats(img: Buffer, region?: Region): Promise<{ median: number[]; stdev: number }> {
  const cut = region ? await sharp(img).extract(region).removeAlpha().png().toBuffer() : img;
  const { channels } = await sharp(cut).removeAlpha().stats();
  const { data } = await sharp(cut).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const median = [0, 1, 2].map((c) => {
    const hist = new Uint32Array(256);
    for (let i = c; i < data.length; i += 3) hist[data[i]]++;
    let seen = 0;
    for (let v = 0; v < 256; v++) if ((seen += hist[v]) * 2 >= data.length / 3) return v;
    return 255;
  });
  return { median, stdev: channels[1].stdev };
}

describe('slide viewer with a field too large for one texture', () => {
  it('shows the field through pyramid tiles at the level that fits the view', async () => {
    const { page } = e;
    await createProjectViaUi(e, 'tiles');
    // Every media request from here on, the slide list's thumbnail included.
    const tiles: Array<{ level: number; x: number; y: number; status: number }> = [];
    const wholeImage: string[] = [];
    page.on('response', (r) => {
      const m = /\/media\/tile\/(\d+)\/(\d+)\/(\d+)\/(\d+)$/.exec(r.url());
      if (m) tiles.push({ level: Number(m[2]), x: Number(m[3]), y: Number(m[4]), status: r.status() });
      if (/\/media\/image\//.test(r.url())) wholeImage.push(r.url());
    });
    const fields = path.join(e.dir, 'wide');
    fs.mkdirSync(fields);
    await writeBigField(path.join(fields, 'wide-field.jpg'));
    await e.engine.call('ingest.start', { paths: [fields] });
    await waitForJob(e, 'ingest');
    const slide = e.engine.project.listSlides()[0];
    expect([slide.width, slide.height]).toEqual([W, H]);
    expect(usesTiles(W, H)).toBe(true);
    expect(slide.cellCount).toBeGreaterThan(100);
    expect(slide.cellCount).toBeLessThan(10_000);

    await page.getByTestId('nav-slides').click();
    await page.getByTestId('slide-row').first().click();
    await page.getByTestId('slide-tiled').waitFor();
    const canvas = page.getByTestId('slide-canvas');
    const box = (await canvas.boundingBox())!;
    // The viewer fits the field at 95% of the limiting side; deck.gl fetches tiles at z = ceil(zoom) = -level.
    const scale = 0.95 * Math.min(box.width / W, box.height / H);
    const levels = pyramidLevels(W, H);
    const level = Math.min(levels.length - 1, Math.max(0, -Math.ceil(Math.log2(scale))));
    const want = levels[level];
    const top = levels.length - 1;
    expect(level).toBeLessThan(top);
    const inViewer = () => tiles.filter((t) => t.level !== top);
    const t0 = Date.now();
    while (inViewer().length < want.cols * want.rows && Date.now() - t0 < 60_000)
      await page.waitForTimeout(200);
    await page.waitForTimeout(1500);

    await page.getByTestId('slide-tiled').filter({ hasNotText: 'preparing' }).waitFor();
    // The whole field is never sent: the list thumbnail is the single-tile level, the viewer shows tiles.
    expect(wholeImage).toEqual([]);
    expect(tiles.filter((t) => t.level === top)).toEqual([{ level: top, x: 0, y: 0, status: 200 }]);
    expect(tiles.every((t) => t.status === 200)).toBe(true);
    expect(new Set(inViewer().map((t) => t.level))).toEqual(new Set([level]));
    // The whole field is in view, so every tile of that level comes, each once.
    expect(
      inViewer()
        .map((t) => `${t.x},${t.y}`)
        .sort(),
    ).toEqual(
      Array.from(
        { length: want.cols * want.rows },
        (_, i) => `${i % want.cols},${Math.floor(i / want.cols)}`,
      ).sort(),
    );

    // The pixels are on screen: the field's area has the smear's colour and texture, the margin above it not.
    const shot = await canvas.screenshot();
    const cw = Math.round(box.width);
    const ch = Math.round(box.height);
    const fw = W * scale;
    const fh = H * scale;
    const inside = {
      left: Math.round(cw / 2 - fw * 0.4),
      top: Math.round(ch / 2 - fh * 0.4),
      width: Math.round(fw * 0.8),
      height: Math.round(fh * 0.8),
    };
    const field = await regionStats(fs.readFileSync(path.join(fields, 'wide-field.jpg')));
    const shown = await regionStats(shot, inside);
    // At this zoom the unlabeled cells' grey outlines cover much of the field, so the colour is only close (an
    // empty or unloaded canvas is the dark background, ~90 levels away).
    for (let c = 0; c < 3; c++) expect(Math.abs(shown.median[c] - field.median[c])).toBeLessThan(25);
    expect(shown.stdev).toBeGreaterThan(8);
    const marginHeight = Math.floor((ch - fh) / 2) - 4;
    if (marginHeight > 10) {
      const margin = await regionStats(shot, {
        left: inside.left,
        top: 2,
        width: inside.width,
        height: marginHeight,
      });
      expect(Math.max(...margin.median.map((m, c) => Math.abs(m - field.median[c])))).toBeGreaterThan(30);
      expect(margin.stdev).toBeLessThan(2);
    }
    await e.screenshot('slide-viewer-tiled');

    // Zooming in on the middle switches to finer levels, fetching only tiles near the view.
    const before = tiles.length;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 3; i++) {
      await page.mouse.wheel(0, -400);
      await page.waitForTimeout(250);
    }
    const t1 = Date.now();
    while (!tiles.slice(before).some((t) => t.level < level) && Date.now() - t1 < 60_000)
      await page.waitForTimeout(200);
    // Settled: no new tile for 1.5 s.
    for (let n = -1; n !== tiles.length;) {
      n = tiles.length;
      await page.waitForTimeout(1500);
    }
    const finer = tiles.slice(before).filter((t) => t.level < level);
    expect(finer.length).toBeGreaterThan(0);
    expect(tiles.every((t) => t.status === 200)).toBe(true);
    const finest = Math.min(...finer.map((t) => t.level));
    expect(finer.filter((t) => t.level === finest).length).toBeLessThan(
      levels[finest].cols * levels[finest].rows,
    );
    await e.screenshot('slide-viewer-tiled-zoomed');
    expect(e.consoleErrors).toEqual([]);
  });
});
