// Ground truth of the dev data and how detections are scored against it: shared by bench/detect.ts and the
// scripts that train on the same half split (scripts/train_detector_rescore.ts, seg_prepare_chula_pseudo.ts).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { rasterizeContour } from '../src/main/engine/ingest/segment/contour';
import { boxIou } from '../src/main/engine/ingest/segment/rescore';
import type { SegmentedCell } from '../src/main/engine/ingest/segment/types';

export type Box = [number, number, number, number];

/** Deterministic half split by file name (sha256 first byte even/odd), shared with the training scripts. */
export function inHeldOutHalf(name: string, half: 'even' | 'odd'): boolean {
  const byte = createHash('sha256').update(name).digest()[0];
  return (byte % 2 === 0) === (half === 'even');
}

/** Greedy one-to-one matching by descending IoU; returns matched pairs (pred index, truth index). */
export function matchBoxes(
  pred: readonly Box[] | ReadonlyArray<readonly [number, number, number, number]>,
  truth: readonly Box[],
  minIou: number,
): Array<[number, number]> {
  const pairs: Array<[number, number, number]> = [];
  for (let i = 0; i < pred.length; i++) {
    for (let j = 0; j < truth.length; j++) {
      const v = boxIou(pred[i], truth[j]);
      if (v >= minIou) pairs.push([v, i, j]);
    }
  }
  pairs.sort((a, b) => b[0] - a[0]);
  const usedP = new Set<number>();
  const usedT = new Set<number>();
  const out: Array<[number, number]> = [];
  for (const [, i, j] of pairs) {
    if (usedP.has(i) || usedT.has(j)) continue;
    usedP.add(i);
    usedT.add(j);
    out.push([i, j]);
  }
  return out;
}

/** YOLO boxes (`class cx cy w h`, normalised) of one class, in image px. */
export function readYolo(file: string, width: number, height: number, cls: number): Box[] {
  const boxes: Box[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const p = line.trim().split(/\s+/).map(Number);
    if (p.length < 5 || p[0] !== cls) continue;
    boxes.push([(p[1] - p[3] / 2) * width, (p[2] - p[4] / 2) * height, p[3] * width, p[4] * height]);
  }
  return boxes;
}

/** Chula labeled cell centres (`x y class` per line). */
export function readCentres(file: string): Array<[number, number]> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((p) => p.length >= 3 && Number.isFinite(p[0]))
    .map((p) => [p[0], p[1]] as [number, number]);
}

/**
 * Which of `cells` holds each centre (its index, or -1): the cell whose rasterized contour covers the centre's
 * pixel (rounded, clamped to the image); where two cover it (one inside the other's filled hole), the later one.
 */
export function centreOwners(
  cells: readonly SegmentedCell[],
  centres: ReadonlyArray<readonly [number, number]>,
  width: number,
  height: number,
): number[] {
  const owner = new Int32Array(width * height).fill(-1);
  cells.forEach((c, i) => {
    const m = rasterizeContour(c.contour, c.bbox);
    const [bx, by, bw, bh] = c.bbox;
    for (let y = 0; y < bh; y++)
      for (let x = 0; x < bw; x++) if (m[y * bw + x]) owner[(by + y) * width + bx + x] = i;
  });
  return centres.map(([x, y]) => {
    const xi = Math.min(width - 1, Math.max(0, Math.round(x)));
    const yi = Math.min(height - 1, Math.max(0, Math.round(y)));
    return owner[yi * width + xi];
  });
}
