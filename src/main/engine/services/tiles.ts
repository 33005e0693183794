import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import sharp, { type Sharp } from 'sharp';
import { isTileOf, pyramidLevels, TILE_SIZE, type PyramidLevel } from '../../../shared/pyramid';
import type { CellStore } from '../store/store';
import { StoreError } from '../store/errors';
import { decodeImage } from '../ingest/decode';

export interface TileIndex {
  level: number;
  x: number;
  y: number;
}

export interface Pyramid {
  dir: string;
  levels: PyramidLevel[];
}

const STALE_BUILD_MS = 60 * 60 * 1000;

/** Builds in progress, by target folder: concurrent tile requests for one field share one build. */
const building = new Map<string, Promise<void>>();

/**
 * Where a field's pyramid lives: the project's media folder, keyed by image id and content hash, so a re-imported
 * file with the same id but other pixels never meets stale tiles.
 */
export function pyramidDir(store: CellStore, image: { id: number; sha256: string }): string {
  return path.join(store.mediaDir, 'tiles', `${image.id}-${image.sha256.slice(0, 16)}`);
}

/**
 * The field's tile pyramid, built on first request: one libvips pass (sharp's DeepZoom writer) over the oriented
 * 8-bit RGB field writes every level, each half the one below, as JPEG tiles of TILE_SIZE px. It is written to a
 * temporary folder and renamed into place, so a crash mid-build leaves no half pyramid that looks finished.
 */
export async function ensurePyramid(store: CellStore, imageId: number): Promise<Pyramid> {
  const image = store.getImage(imageId);
  if (!image) throw new StoreError('not-found', `No image with id ${imageId}.`);
  const dir = pyramidDir(store, image);
  const levels = pyramidLevels(image.width, image.height);
  if (!fs.existsSync(dir)) {
    let job = building.get(dir);
    if (!job) {
      job = buildPyramid(image, dir, levels.length).finally(() => building.delete(dir));
      building.set(dir, job);
    }
    await job;
  }
  return { dir, levels };
}

async function buildPyramid(
  image: { path: string; format: string; width: number; height: number },
  dir: string,
  levelCount: number,
): Promise<void> {
  if (!fs.existsSync(image.path))
    throw new StoreError('not-found', `The field's file ${image.path} is gone.`);
  removeStaleBuilds(dir);
  const tmp = `${dir}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const source = await orientedRgb(image);
    const meta = await source.clone().metadata();
    await source
      .jpeg({ quality: 90 })
      .tile({ size: TILE_SIZE, overlap: 0, layout: 'dz', depth: 'onetile', container: 'fs' })
      .toFile(path.join(tmp, 'p.dz'));
    // DeepZoom numbers levels from the single-tile one up; the app's level 0 is full resolution. Check that the
    // writer made exactly the levels the shared geometry expects before anyone reads them.
    const written = fs.readdirSync(path.join(tmp, 'p_files')).filter((n) => /^\d+$/.test(n)).length;
    if (written !== levelCount) {
      throw new Error(
        `tile pyramid of ${image.path} has ${written} levels, expected ${levelCount} (${meta.width}x${meta.height} px read, ${image.width}x${image.height} stored)`,
      );
    }
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // Another process finished the same pyramid first: theirs is as good as ours.
      if (!fs.existsSync(dir)) throw err;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Half-written pyramids of this field left by a killed process (older than any build takes) are removed. */
function removeStaleBuilds(dir: string): void {
  const parent = path.dirname(dir);
  if (!fs.existsSync(parent)) return;
  const prefix = `${path.basename(dir)}.tmp-`;
  const cutoff = Date.now() - STALE_BUILD_MS;
  for (const name of fs.readdirSync(parent)) {
    const p = path.join(parent, name);
    if (name.startsWith(prefix) && fs.statSync(p).mtimeMs < cutoff)
      fs.rmSync(p, { recursive: true, force: true });
  }
}

/** The field as stored at ingest: EXIF orientation applied, alpha flattened on white, 8-bit sRGB. */
async function orientedRgb(image: { path: string; format: string }): Promise<Sharp> {
  if (image.format === 'bmp') {
    // libvips reads no BMP; the ingest's own decoder does.
    const d = await decodeImage(image.path, { maxPixels: Number.MAX_SAFE_INTEGER });
    return sharp(d.data, { raw: { width: d.width, height: d.height, channels: 3 } });
  }
  return sharp(image.path, { autoOrient: true, limitInputPixels: false, failOn: 'truncated' })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha();
}

/** One tile's JPEG bytes, or null when (level, x, y) is outside the field's pyramid. */
export async function readTile(store: CellStore, imageId: number, t: TileIndex): Promise<Buffer | null> {
  const image = store.getImage(imageId);
  if (!image || !isTileOf(image.width, image.height, t.level, t.x, t.y)) return null;
  const { dir, levels } = await ensurePyramid(store, imageId);
  const dzLevel = levels.length - 1 - t.level;
  return fs.promises.readFile(path.join(dir, 'p_files', String(dzLevel), `${t.x}_${t.y}.jpeg`));
}
