import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import sharp, { type OverlayOptions, type Sharp } from 'sharp';
import { CellStore } from '../../src/main/engine/store/store';
import { ensurePyramid, pyramidDir, readTile } from '../../src/main/engine/services/tiles';
import { pyramidLevels, TILE_SIZE, usesTiles } from '../../src/shared/pyramid';
import { dataPath, tempDir } from '../helpers/data';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import { mediaResponse } from '../../src/main/engine/media';

const FIELD = dataPath('fixture', 'chula_fields', '2.jpg');
// Odd sides, so every level rounds and the edge tiles are cut short.
const W = 4481;
const H = 1201;

let tmp: { dir: string; cleanup: () => void };
let store: CellStore;
let imageId: number;
let big: { data: Buffer; width: number; height: number };

/** A field larger than one texture, made by repeating a real Chula smear field (640x480) across W x H. */
async function bigField(file: string): Promise<void> {
  const composites: OverlayOptions[] = [];
  for (let y = 0; y < H; y += 480)
    for (let x = 0; x < W; x += 640) {
      const piece = await sharp(FIELD)
        .extract({ left: 0, top: 0, width: Math.min(640, W - x), height: Math.min(480, H - y) })
        .toBuffer();
      composites.push({ input: piece, left: x, top: y });
    }
  await sharp({ create: { width: W, height: H, channels: 3, background: '#ffffff' } })
    .composite(composites)
    .png()
    .toFile(file);
}

/** Mean absolute difference per channel between two RGB buffers of the same size. */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

async function rgb(input: Buffer | Sharp): Promise<{ data: Buffer; width: number; height: number }> {
  const s = Buffer.isBuffer(input) ? sharp(input) : input;
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

beforeAll(async () => {
  tmp = tempDir('reddino-tiles-');
  const file = path.join(tmp.dir, 'big-field.png');
  await bigField(file);
  big = await rgb(sharp(file));
  store = CellStore.create(path.join(tmp.dir, 'tiles.rdproj'));
  imageId = store.addImage({
    path: file,
    name: 'big-field.png',
    sha256: 'ab'.repeat(32),
    width: W,
    height: H,
    format: 'png',
  });
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('slide tile pyramid', () => {
  it('has levels halving (rounding up) down to one tile', () => {
    expect(usesTiles(W, H)).toBe(true);
    expect(usesTiles(640, 480)).toBe(false);
    expect(pyramidLevels(W, H).map((l) => [l.width, l.height, l.cols, l.rows])).toEqual([
      [4481, 1201, 9, 3],
      [2241, 601, 5, 2],
      [1121, 301, 3, 1],
      [561, 151, 2, 1],
      [281, 76, 1, 1],
    ]);
  });

  it('builds the pyramid lazily, once, with tiles of the right sizes at every level', async () => {
    const dir = pyramidDir(store, store.getImage(imageId)!);
    expect(fs.existsSync(dir)).toBe(false);
    // Leftovers of builds killed mid-way: an old one is cleared, a recent one (maybe still running) is not.
    const stale = `${dir}.tmp-999-old`;
    const recent = `${dir}.tmp-999-new`;
    for (const d of [stale, recent]) fs.mkdirSync(d, { recursive: true });
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    fs.utimesSync(stale, twoHoursAgo, twoHoursAgo);
    // Concurrent first requests share one build.
    const [a, b] = await Promise.all([ensurePyramid(store, imageId), ensurePyramid(store, imageId)]);
    expect(a.dir).toBe(dir);
    expect(b.dir).toBe(dir);
    expect(fs.readdirSync(path.dirname(dir)).sort()).toEqual([path.basename(dir), path.basename(recent)]);
    fs.rmSync(recent, { recursive: true });
    for (const l of pyramidLevels(W, H)) {
      for (let y = 0; y < l.rows; y++)
        for (let x = 0; x < l.cols; x++) {
          const t = await readTile(store, imageId, { level: l.level, x, y });
          const m = await sharp(t!).metadata();
          expect([m.format, m.width, m.height]).toEqual([
            'jpeg',
            Math.min(TILE_SIZE, l.width - x * TILE_SIZE),
            Math.min(TILE_SIZE, l.height - y * TILE_SIZE),
          ]);
        }
      expect(await readTile(store, imageId, { level: l.level, x: l.cols, y: 0 })).toBeNull();
      expect(await readTile(store, imageId, { level: l.level, x: 0, y: l.rows })).toBeNull();
    }
    expect(await readTile(store, imageId, { level: 5, x: 0, y: 0 })).toBeNull();
  });

  it('holds the field pixels: full resolution tiles match the field, coarser levels its downsampling', async () => {
    // Level 0, tile (3, 1) and the bottom-right edge tile: the field's own pixels (JPEG q90 error only).
    for (const [x, y] of [
      [3, 1],
      [8, 2],
    ]) {
      const tile = await rgb((await readTile(store, imageId, { level: 0, x, y }))!);
      const want = await rgb(
        sharp(big.data, { raw: { width: W, height: H, channels: 3 } }).extract({
          left: x * TILE_SIZE,
          top: y * TILE_SIZE,
          width: tile.width,
          height: tile.height,
        }),
      );
      expect(meanAbsDiff(tile.data, want.data)).toBeLessThan(3);
    }
    // Level 2 (4x smaller), tile (1, 0): the same region of the field shrunk 4x by box averaging.
    const tile = await rgb((await readTile(store, imageId, { level: 2, x: 1, y: 0 }))!);
    // Level 2 is 301 px high for 1201 field rows (rounded up): clamp the region to the field.
    const region = {
      left: 4 * TILE_SIZE,
      top: 0,
      width: tile.width * 4,
      height: Math.min(tile.height * 4, H),
    };
    const want = await rgb(
      sharp(big.data, { raw: { width: W, height: H, channels: 3 } })
        .extract(region)
        .resize(tile.width, tile.height, { kernel: 'linear', fit: 'fill' }),
    );
    expect(meanAbsDiff(tile.data, want.data)).toBeLessThan(4);
    // And it is not just any smear: a tile from elsewhere in the field differs clearly.
    const other = await rgb((await readTile(store, imageId, { level: 2, x: 0, y: 0 }))!);
    const sameSize = await rgb(
      sharp(other.data, { raw: { width: other.width, height: other.height, channels: 3 } }).resize(
        tile.width,
        tile.height,
        { fit: 'fill' },
      ),
    );
    expect(meanAbsDiff(sameSize.data, want.data)).toBeGreaterThan(8);
  });

  it('is served as a media route: tiles as JPEG, 404 for a tile outside the pyramid or a field moved away', async () => {
    const engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
    try {
      await engine.call('project.create', { path: path.join(tmp.dir, 'media.rdproj') });
      const { id: _id, ...src } = store.getImage(imageId)!;
      const here = engine.project.addImage({ ...src, name: 'big.png' });
      const gone = engine.project.addImage({
        ...src,
        path: path.join(tmp.dir, 'moved.png'),
        sha256: 'cd'.repeat(32),
      });
      const ok = await mediaResponse(engine, 'tile', here, { level: 1, x: 4, y: 1 });
      expect([ok.status, ok.type]).toEqual([200, 'image/jpeg']);
      expect((await sharp(ok.body as Buffer).metadata()).width).toBe(2241 - 4 * TILE_SIZE);
      expect((await mediaResponse(engine, 'tile', here, { level: 1, x: 5, y: 0 })).status).toBe(404);
      expect((await mediaResponse(engine, 'tile', gone, { level: 0, x: 0, y: 0 })).status).toBe(404);
    } finally {
      await engine.dispose();
    }
  });

  it('reuses the cached pyramid from the project folder', async () => {
    const dir = pyramidDir(store, store.getImage(imageId)!);
    const marker = path.join(dir, 'p_files', '0', '0_0.jpeg');
    const before = fs.statSync(marker).mtimeMs;
    await readTile(store, imageId, { level: 4, x: 0, y: 0 });
    expect(fs.statSync(marker).mtimeMs).toBe(before);
    expect(dir.startsWith(path.join(store.dir, 'media', 'tiles'))).toBe(true);
  });
});
