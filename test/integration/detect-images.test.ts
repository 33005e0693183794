import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectImages, type DetectedImage } from '../../src/main/engine/ingest/detect';
import { rasterizeContour } from '../../src/main/engine/ingest/segment/contour';
import { segmentCells } from '../../src/main/engine/ingest/segment/cells';
import { CellDetector, defaultDetectorPath } from '../../src/main/engine/ingest/segment/detector';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { dataPath, tempDir } from '../helpers/data';

type Box = [number, number, number, number];

const TXL = [
  '01e4af27-0d62-557e-b967-cd665b590d45',
  '02db46d5-f0f3-511c-b2cc-e907946e88e2',
  '04b0c5c4-6135-51fa-a213-57c40224a22f',
  '09436e64-f0d3-5bf4-8b7a-a1402cef406e',
  '0bc2ead0-d362-5d7c-808d-c6500cfe3ed4',
  '0e7d7e94-bb72-5813-92cd-df08a161f8b1',
];
const CBC = ['BloodImage_00339', 'BloodImage_00340', 'BloodImage_00343'];

function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  return (ix * iy) / (a[2] * a[3] + b[2] * b[3] - ix * iy);
}

/** Greedy one-to-one matches at IoU >= minIou. */
function matches(pred: Box[], truth: Box[], minIou: number): number {
  const pairs: Array<[number, number, number]> = [];
  pred.forEach((p, i) => truth.forEach((t, j) => pairs.push([iou(p, t), i, j])));
  pairs.sort((a, b) => b[0] - a[0]);
  const usedP = new Set<number>();
  const usedT = new Set<number>();
  for (const [v, i, j] of pairs) {
    if (v < minIou || usedP.has(i) || usedT.has(j)) continue;
    usedP.add(i);
    usedT.add(j);
  }
  return usedP.size;
}

const tmp = tempDir('reddino-detect-');
let results: DetectedImage[];
const txlPaths = TXL.map((id) => dataPath('fixture', 'txl_fields', `${id}.jpg`));
const cbcPaths = CBC.map((id) => dataPath('fixture', 'cbc_fields', `${id}.jpg`));

beforeAll(async () => {
  const broken = path.join(tmp.dir, 'broken.jpg');
  fs.writeFileSync(broken, fs.readFileSync(txlPaths[0]).subarray(0, 2000));
  results = await detectImages([...txlPaths, ...cbcPaths, broken]);
});
afterAll(() => tmp.cleanup());

describe('detectImages with the shipped detector', () => {
  it('ships a detector model small enough to bundle', () => {
    expect(fs.statSync(defaultDetectorPath()).size).toBeLessThan(5 * 1024 * 1024);
  });

  it('finds the annotated RBCs of TXL-PBC fixture fields (F1 at IoU 0.5)', () => {
    let tp = 0;
    let predicted = 0;
    let annotated = 0;
    for (const [k, p] of txlPaths.entries()) {
      const r = results[k];
      expect(r.image).toBe(p);
      const truth: Box[] = fs
        .readFileSync(p.replace(/\.jpg$/, '.txt'), 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/).map(Number))
        .filter((v) => v.length >= 5 && v[0] === 1)
        .map((v) => [
          (v[1] - v[3] / 2) * r.width,
          (v[2] - v[4] / 2) * r.height,
          v[3] * r.width,
          v[4] * r.height,
        ]);
      const pred = r.cells.filter((c) => c.kind === 'rbc').map((c) => c.bbox);
      tp += matches(pred, truth, 0.5);
      predicted += pred.length;
      annotated += truth.length;
    }
    const precision = tp / predicted;
    const recall = tp / annotated;
    expect(annotated).toBeGreaterThan(50);
    // TXL boxes miss some cells (README), which caps measurable precision.
    expect(recall).toBeGreaterThan(0.75);
    expect((2 * precision * recall) / (precision + recall)).toBeGreaterThan(0.7);
  });

  it('recalls the BCCD fixture RBC boxes (Pascal VOC) at IoU 0.5', () => {
    let tp = 0;
    let annotated = 0;
    for (const [k, p] of cbcPaths.entries()) {
      const xml = fs.readFileSync(p.replace(/\.jpg$/, '.xml'), 'utf8');
      const truth: Box[] = [];
      for (const m of xml.matchAll(/<object>([\s\S]*?)<\/object>/g)) {
        if (!/<name>\s*RBC\s*<\/name>/.test(m[1])) continue;
        const num = (tag: string) => Number(new RegExp(`<${tag}>\\s*([\\d.]+)`).exec(m[1])?.[1]);
        truth.push([num('xmin'), num('ymin'), num('xmax') - num('xmin'), num('ymax') - num('ymin')]);
      }
      const pred = results[TXL.length + k].cells.filter((c) => c.kind === 'rbc').map((c) => c.bbox);
      tp += matches(pred, truth, 0.5);
      annotated += truth.length;
    }
    expect(annotated).toBeGreaterThan(20);
    expect(tp / annotated).toBeGreaterThan(0.85);
  });

  it('reports cells in full-resolution pixels with consistent fields', () => {
    for (const r of results.slice(0, -1)) {
      expect(r.error).toBeUndefined();
      expect(r.cells.length).toBeGreaterThan(3);
      for (const c of r.cells) {
        const [x, y, w, h] = c.bbox;
        expect(x).toBeGreaterThanOrEqual(0);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(x + w).toBeLessThanOrEqual(r.width);
        expect(y + h).toBeLessThanOrEqual(r.height);
        expect(c.centroid[0]).toBeGreaterThanOrEqual(x);
        expect(c.centroid[0]).toBeLessThanOrEqual(x + w);
        expect(c.area).toBeGreaterThan(0);
        expect(c.area).toBeLessThanOrEqual(w * h);
        expect(c.score).toBeGreaterThan(0);
        expect(c.touchesBorder).toBe(x <= 0 || y <= 0 || x + w >= r.width || y + h >= r.height);
      }
    }
    // Round-trips through JSON unchanged: the `reddino detect` output.
    expect(JSON.parse(JSON.stringify(results))).toEqual(results);
  });

  it('reports an undecodable file in place and goes on', () => {
    const last = results.at(-1)!;
    expect(last.error?.reason).toBe('truncated');
    expect(last.cells).toEqual([]);
  });
});

describe('segmentCells with the detector on Chula fields, one crowded', () => {
  it('holds each labeled cell centre in its own detected RBC', async () => {
    const detector = await CellDetector.load();
    let centres = 0;
    let alone = 0;
    for (const id of ['28', '94', '2', '10']) {
      const img = await decodeImage(dataPath('fixture', 'chula_fields', `${id}.jpg`));
      const { cells, method } = await segmentCells(img, { detector });
      expect(method).toBe('detector');
      const owner = new Int32Array(img.width * img.height).fill(-1);
      cells
        .filter((c) => c.kind === 'rbc')
        .forEach((c, i) => {
          const m = rasterizeContour(c.contour, c.bbox);
          const [bx, by, bw, bh] = c.bbox;
          for (let y = 0; y < bh; y++)
            for (let x = 0; x < bw; x++) if (m[y * bw + x]) owner[(by + y) * img.width + bx + x] = i;
        });
      const points = fs
        .readFileSync(dataPath('fixture', 'chula_fields', `${id}.txt`), 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/).map(Number))
        .filter((p) => p.length >= 3);
      const own = points.map(([x, y]) => owner[Math.round(y) * img.width + Math.round(x)]);
      const held = new Map<number, number>();
      for (const o of own) if (o >= 0) held.set(o, (held.get(o) ?? 0) + 1);
      centres += points.length;
      alone += own.filter((o) => o >= 0 && held.get(o) === 1).length;
    }
    expect(centres).toBeGreaterThan(300);
    // Field 28 (stacked target cells) is the known hard case: about 40 of its 111 centres are missed or shared.
    expect(alone / centres).toBeGreaterThan(0.85);
  });
});
