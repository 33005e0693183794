/**
 * Real crops on which morphology-v2 vectors are pinned (test/fixtures/morphology-v2): any speed-up of the
 * embedder must reproduce them, since a changed vector is a new model version. Chula windows (80 px, cells
 * analysed at factor 2-3), NIH crops (128 px, factor 4 with central sampling) and MP-IDB crops (~89 px).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { CellCrop } from '../../src/main/engine/embed/morphology';
import { decodeRgb, windowCrop } from '../../bench/morphology-data';

export const GOLDEN_DIR = 'test/fixtures/morphology-v2';

export interface GoldenCrop {
  /** Where the crop comes from, relative to ../shared/data (plus the window centre for Chula). */
  source: string;
  crop: CellCrop;
}

/** The pinned crops, in a fixed order: every 6th labeled Chula cell, every other NIH crop, all MP-IDB crops. */
export async function goldenCrops(dataRoot: string): Promise<GoldenCrop[]> {
  const out: GoldenCrop[] = [];
  const chula = path.join(dataRoot, 'fixture', 'chula_fields');
  let seen = 0;
  for (const f of fs
    .readdirSync(chula)
    .filter((n) => n.endsWith('.txt'))
    .sort()) {
    const id = f.slice(0, -4);
    const image = path.join(chula, `${id}.jpg`);
    if (!fs.existsSync(image)) continue;
    const field = await decodeRgb(image);
    for (const line of fs.readFileSync(path.join(chula, f), 'utf8').split('\n')) {
      const [x, y] = line.trim().split(/\s+/).map(Number);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if (seen++ % 6 !== 0) continue;
      out.push({ source: `fixture/chula_fields/${id}.jpg@${x},${y}`, crop: windowCrop(field, x, y, 80) });
    }
  }
  for (const [folder, step] of [
    ['nih_cells', 2],
    ['mpidb_pf_crops', 1],
  ] as const) {
    const dir = path.join(dataRoot, 'fixture', folder);
    for (const label of fs.readdirSync(dir).sort()) {
      if (!fs.statSync(path.join(dir, label)).isDirectory()) continue;
      const files = fs
        .readdirSync(path.join(dir, label))
        .filter((n) => n.endsWith('.png'))
        .sort();
      for (let i = 0; i < files.length; i += step) {
        const rel = `fixture/${folder}/${label}/${files[i]}`;
        out.push({ source: rel, crop: await decodeRgb(path.join(dataRoot, rel)) });
      }
    }
  }
  return out;
}

export function maskDigest(mask: Uint8Array): string {
  return createHash('sha256').update(mask).digest('hex').slice(0, 16);
}

export interface GoldenMeta {
  model: string;
  dims: number;
  /** Commit whose code wrote the vectors. */
  writtenBy: string;
  cells: { source: string; width: number; height: number; mask: string }[];
}

/** vectors.bin: float32 little-endian, per cell the mask-supplied vector then the segmenting one. */
export function readGolden(root: string): { meta: GoldenMeta; vectors: Float32Array } {
  const meta = JSON.parse(fs.readFileSync(path.join(root, GOLDEN_DIR, 'golden.json'), 'utf8')) as GoldenMeta;
  const bytes = fs.readFileSync(path.join(root, GOLDEN_DIR, 'vectors.bin'));
  const vectors = new Float32Array(bytes.length / 4);
  for (let i = 0; i < vectors.length; i++) vectors[i] = bytes.readFloatLE(i * 4);
  return { meta, vectors };
}
