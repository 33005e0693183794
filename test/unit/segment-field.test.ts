import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { rasterizeContour } from '../../src/main/engine/ingest/segment/contour';
import {
  backgroundLevels,
  foregroundThreshold,
  segmentField,
  segmentFieldDetailed,
  stainMaps,
  workingForeground,
} from '../../src/main/engine/ingest/segment/field';
import { boxBlur, fillHoles, labelComponents } from '../../src/main/engine/ingest/segment/raster';
import type { RgbImage, SegmentedCell } from '../../src/main/engine/ingest/segment/types';
import { dataPath } from '../helpers/data';

const CHULA = ['2', '10', '28', '94'];

function chulaCentres(id: string): Array<[number, number]> {
  return fs
    .readFileSync(dataPath('fixture', 'chula_fields', `${id}.txt`), 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((p) => p.length >= 3 && Number.isFinite(p[0]))
    .map((p) => [p[0], p[1]]);
}

/** Index of the cell whose mask holds each point, -1 for none. */
function owners(cells: SegmentedCell[], img: RgbImage, points: Array<[number, number]>): number[] {
  const owner = new Int32Array(img.width * img.height).fill(-1);
  cells.forEach((c, i) => {
    const m = rasterizeContour(c.contour, c.bbox);
    const [bx, by, bw, bh] = c.bbox;
    for (let y = 0; y < bh; y++)
      for (let x = 0; x < bw; x++) if (m[y * bw + x]) owner[(by + y) * img.width + bx + x] = i;
  });
  return points.map(([x, y]) => owner[Math.round(y) * img.width + Math.round(x)]);
}

const fields = new Map<string, RgbImage>();
beforeAll(async () => {
  for (const id of CHULA) fields.set(id, await decodeImage(dataPath('fixture', 'chula_fields', `${id}.jpg`)));
  fields.set('bccd', await decodeImage(dataPath('fixture', 'cbc_fields', 'BloodImage_00339.jpg')));
});

describe('segmentField on real Chula fields', () => {
  it('puts nearly every labeled cell centre inside a segmented RBC, one cell per centre', () => {
    let centres = 0;
    let inside = 0;
    let alone = 0;
    for (const id of CHULA) {
      const img = fields.get(id)!;
      const rbcs = segmentField(img).filter((c) => c.kind === 'rbc');
      const points = chulaCentres(id);
      const own = owners(rbcs, img, points);
      const held = new Map<number, number>();
      for (const o of own) if (o >= 0) held.set(o, (held.get(o) ?? 0) + 1);
      centres += points.length;
      inside += own.filter((o) => o >= 0).length;
      alone += own.filter((o) => o >= 0 && held.get(o) === 1).length;
    }
    expect(centres).toBeGreaterThan(200);
    expect(inside / centres).toBeGreaterThan(0.95);
    expect(alone / centres).toBeGreaterThan(0.7);
  });

  it('splits touching cells on a crowded field: far fewer labeled centres share a cell than without splitting', () => {
    const img = fields.get('28')!;
    const { cells, cellRadius } = segmentFieldDetailed(img);
    const smooth = boxBlur(stainMaps(img).odGreen, img.width, img.height, 1);
    // Without the watershed: each connected blob of the same foreground would be one cell.
    const fg = workingForeground(smooth, img.width, img.height, foregroundThreshold(smooth), cellRadius);
    expect(fg.scale).toBe(1);
    const { labels } = labelComponents(fg.mask, fg.width, fg.height);
    const points = chulaCentres('28');
    const sharing = (owner: number[]) => {
      const held = new Map<number, number>();
      for (const o of owner) if (o >= 0) held.set(o, (held.get(o) ?? 0) + 1);
      return owner.filter((o) => o >= 0 && (held.get(o) ?? 0) > 1).length / owner.length;
    };
    const blobOwner = points.map(([x, y]) => labels[Math.round(y) * img.width + Math.round(x)] || -1);
    const cellOwner = owners(
      cells.filter((c) => c.kind === 'rbc'),
      img,
      points,
    );
    expect(sharing(blobOwner)).toBeGreaterThan(0.3);
    expect(sharing(cellOwner)).toBeLessThan(sharing(blobOwner) * 0.75);
  });

  it('emits contours that rasterize back to exactly the measured cell area', () => {
    const cells = segmentField(fields.get('2')!);
    expect(cells.length).toBeGreaterThan(50);
    let exact = 0;
    for (const c of cells) {
      const m = rasterizeContour(c.contour, c.bbox);
      let a = 0;
      for (const v of m) a += v;
      if (a === c.morph.area) exact++;
      expect(a).toBeGreaterThanOrEqual(c.morph.area);
      expect(c.bbox[0]).toBeGreaterThanOrEqual(0);
      expect(c.bbox[1] + c.bbox[3]).toBeLessThanOrEqual(480);
      expect(c.touchesBorder).toBe(
        c.bbox[0] === 0 || c.bbox[1] === 0 || c.bbox[0] + c.bbox[2] === 640 || c.bbox[1] + c.bbox[3] === 480,
      );
    }
    // Regions that enclose a hole (a ring of merged cells) rasterize with the hole filled.
    expect(exact / cells.length).toBeGreaterThan(0.9);
  });

  it('gives RBCs consistent morphometrics', () => {
    const rbcs = segmentField(fields.get('2')!).filter((c) => c.kind === 'rbc' && !c.touchesBorder);
    const circ = rbcs.map((c) => c.morph.circularity).sort((a, b) => a - b);
    const ecc = rbcs.map((c) => c.morph.eccentricity).sort((a, b) => a - b);
    expect(circ[Math.floor(circ.length / 2)]).toBeGreaterThan(0.4);
    expect(circ[circ.length - 1]).toBeLessThanOrEqual(1);
    expect(ecc[Math.floor(ecc.length / 2)]).toBeLessThan(0.6);
    const convexity = rbcs.map((c) => c.morph.convexity).sort((a, b) => a - b);
    expect(convexity[Math.floor(convexity.length / 2)]).toBeGreaterThan(0.8);
    for (const c of rbcs) {
      expect(c.morph.convexity).toBeGreaterThan(0);
      expect(c.morph.convexity).toBeLessThanOrEqual(1);
      expect(c.morph.equivalentDiameter).toBeCloseTo(Math.sqrt((4 * c.morph.area) / Math.PI), 6);
    }
    // Stained cells absorb green: darker than the field's background in that channel.
    const backgroundGreen = backgroundLevels(fields.get('2')!)[1];
    expect(
      rbcs.filter((c) => c.morph.meanColor[1] < backgroundGreen - 5).length / rbcs.length,
    ).toBeGreaterThan(0.9);
  });
});

describe('pallor filling on a pale BCCD field', () => {
  it('fills central pallor so each RBC mask contains its own centroid', () => {
    const img = fields.get('bccd')!;
    const smooth = boxBlur(stainMaps(img).odGreen, img.width, img.height, 1);
    const t = foregroundThreshold(smooth);
    const mask = new Uint8Array(smooth.length);
    for (let i = 0; i < mask.length; i++) mask[i] = smooth[i] > t ? 1 : 0;
    const holesIn = (m: Uint8Array) => {
      const inverse = m.map((v) => (v ? 0 : 1));
      const { labels, count } = labelComponents(inverse, img.width, img.height, true);
      const border = new Set<number>();
      for (let x = 0; x < img.width; x++) border.add(labels[x]).add(labels[(img.height - 1) * img.width + x]);
      for (let y = 0; y < img.height; y++)
        border.add(labels[y * img.width]).add(labels[y * img.width + img.width - 1]);
      let holes = 0;
      for (let l = 1; l <= count; l++) if (!border.has(l)) holes++;
      return holes;
    };
    const before = holesIn(mask);
    expect(before).toBeGreaterThan(3);
    const filled = mask.slice();
    fillHoles(filled, img.width, img.height, 2000);
    expect(holesIn(filled)).toBeLessThan(before / 2);

    const rbcs = segmentField(img).filter((c) => c.kind === 'rbc' && !c.touchesBorder);
    expect(rbcs.length).toBeGreaterThan(3);
    const own = owners(
      rbcs,
      img,
      rbcs.map((c) => c.centroid),
    );
    expect(own.filter((o, i) => o === i).length / rbcs.length).toBeGreaterThan(0.7);
  });
});
