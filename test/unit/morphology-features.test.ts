import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CellCrop,
  MORPHOLOGY_DIMS,
  MORPHOLOGY_FEATURE_NAMES,
  STANDARD_CLIP,
  applyStandardizer,
  fitStandardizer,
  maskFromCrop,
  morphologyFeatures,
  morphologyFeaturesBatch,
} from '../../src/main/engine/embed/morphology';
import { dataPath } from '../helpers/data';

interface Labeled {
  crop: CellCrop;
  label: string;
  group: string;
}

async function decode(file: string): Promise<CellCrop> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data), width: info.width, height: info.height };
}

function window(field: CellCrop, cx: number, cy: number, side: number): CellCrop {
  const rgb = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    const sy = Math.min(field.height - 1, Math.max(0, Math.round(cy - side / 2) + y));
    for (let x = 0; x < side; x++) {
      const sx = Math.min(field.width - 1, Math.max(0, Math.round(cx - side / 2) + x));
      for (let c = 0; c < 3; c++) rgb[(y * side + x) * 3 + c] = field.rgb[(sy * field.width + sx) * 3 + c];
    }
  }
  return { rgb, width: side, height: side };
}

async function loadFolders(dir: string, groupOf: (f: string) => string): Promise<Labeled[]> {
  const out: Labeled[] = [];
  for (const label of fs.readdirSync(dir).sort()) {
    for (const f of fs.readdirSync(path.join(dir, label)).sort()) {
      if (f.endsWith('.png'))
        out.push({ crop: await decode(path.join(dir, label, f)), label, group: groupOf(f) });
    }
  }
  return out;
}

/** Chula fixture fields: 80 px windows around labeled centres, label = class number. */
async function loadChula(): Promise<Labeled[]> {
  const dir = dataPath('fixture', 'chula_fields');
  const out: Labeled[] = [];
  for (const f of fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.txt'))
    .sort()) {
    const id = f.slice(0, -4);
    const field = await decode(path.join(dir, `${id}.jpg`));
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      const [x, y, cls] = line.trim().split(/\s+/).map(Number);
      if (!Number.isFinite(cls)) continue;
      out.push({ crop: window(field, x, y, 80), label: String(cls), group: id });
    }
  }
  return out;
}

const column = (x: Float32Array, name: string, rows: number[]): number[] => {
  const d = MORPHOLOGY_FEATURE_NAMES.indexOf(name);
  expect(d).toBeGreaterThanOrEqual(0);
  return rows.map((i) => x[i * MORPHOLOGY_DIMS + d]);
};
const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

let nih: Labeled[];
let mpidb: Labeled[];
let chula: Labeled[];

beforeAll(async () => {
  nih = await loadFolders(dataPath('fixture', 'nih_cells'), (f) => /^(C\d+)/.exec(f)?.[1] ?? f);
  mpidb = await loadFolders(dataPath('fixture', 'mpidb_pf_crops'), (f) => /^(\d+)/.exec(f)?.[1] ?? f);
  chula = await loadChula();
});

describe('morphology features', () => {
  it('names every dimension once', () => {
    expect(MORPHOLOGY_FEATURE_NAMES.length).toBe(MORPHOLOGY_DIMS);
    expect(new Set(MORPHOLOGY_FEATURE_NAMES).size).toBe(MORPHOLOGY_DIMS);
    expect(MORPHOLOGY_DIMS).toBeGreaterThanOrEqual(64);
    expect(MORPHOLOGY_DIMS).toBeLessThanOrEqual(128);
  });

  it('gives fixed-length, finite, deterministic vectors on every fixture crop', () => {
    const all = [...nih, ...mpidb, ...chula].map((c) => c.crop);
    const batch = morphologyFeaturesBatch(all);
    expect(batch.length).toBe(all.length * MORPHOLOGY_DIMS);
    for (let i = 0; i < batch.length; i++) {
      if (!Number.isFinite(batch[i])) {
        throw new Error(
          `feature ${MORPHOLOGY_FEATURE_NAMES[i % MORPHOLOGY_DIMS]} of crop ${Math.floor(i / MORPHOLOGY_DIMS)} is ${batch[i]}`,
        );
      }
    }
    for (const i of [0, 57, all.length - 1]) {
      const again = morphologyFeatures(all[i]);
      expect(again.length).toBe(MORPHOLOGY_DIMS);
      expect(Array.from(again)).toEqual(
        Array.from(batch.subarray(i * MORPHOLOGY_DIMS, (i + 1) * MORPHOLOGY_DIMS)),
      );
    }
  });

  it('gives the same vector with the mask it would segment itself', () => {
    // 80 px windows are analysed at full resolution, so a supplied full-resolution mask is used as is.
    for (const { crop } of chula.slice(0, 20)) {
      const withMask = morphologyFeatures({ ...crop, mask: maskFromCrop(crop) });
      expect(Array.from(withMask)).toEqual(Array.from(morphologyFeatures(crop)));
    }
  });

  it('uses a supplied mask: a smaller mask gives a smaller area', () => {
    const crop = chula[0].crop;
    const mask = maskFromCrop(crop);
    const half = mask.slice();
    for (let y = 0; y < crop.height / 2; y++) half.fill(0, y * crop.width, (y + 1) * crop.width);
    const area = MORPHOLOGY_FEATURE_NAMES.indexOf('area_px');
    expect(morphologyFeatures({ ...crop, mask: half })[area]).toBeLessThan(
      morphologyFeatures({ ...crop, mask })[area],
    );
  });

  it('segments the centred cell: plausible area on NIH crops and Chula windows', () => {
    const fractions = [...nih.slice(0, 60), ...chula.slice(0, 60)].map(({ crop }) => {
      const m = maskFromCrop(crop);
      let a = 0;
      for (const v of m) a += v;
      return a / m.length;
    });
    const plausible = fractions.filter((f) => f > 0.08 && f < 0.97).length;
    expect(plausible / fractions.length).toBeGreaterThan(0.9);
    // NIH crops are tight cut-outs (cell fills most of the crop); Chula windows hold one cell of 40-60 px.
    expect(mean(fractions.slice(0, 60))).toBeGreaterThan(mean(fractions.slice(60)));
  });

  it('separates NIH parasitized from uninfected cells (slide-disjoint kNN)', () => {
    const x = morphologyFeaturesBatch(nih.map((c) => c.crop));
    const n = nih.length;
    const z = applyStandardizer(x, n, MORPHOLOGY_DIMS, fitStandardizer(x, n, MORPHOLOGY_DIMS));
    const slides = [...new Set(nih.map((c) => c.group))].sort();
    let correct = 0;
    for (let i = 0; i < n; i++) {
      // Leave one slide out: neighbours only from other slides.
      const sims: { s: number; label: string }[] = [];
      for (let j = 0; j < n; j++) {
        if (nih[j].group === nih[i].group) continue;
        sims.push({ s: cosine(z, i, j), label: nih[j].label });
      }
      sims.sort((a, b) => b.s - a.s);
      const top = sims.slice(0, 10);
      const parasitized = top.filter((t) => t.label === 'parasitized').length;
      if ((parasitized > 5 ? 'parasitized' : 'uninfected') === nih[i].label) correct++;
    }
    expect(slides.length).toBeGreaterThan(2);
    const accuracy = correct / n;
    const majority =
      Math.max(...['parasitized', 'uninfected'].map((l) => nih.filter((c) => c.label === l).length)) / n;
    expect(accuracy).toBeGreaterThan(majority + 0.15);
  });

  it('measures more boundary crenation on burr cells (echinocytes) than on normal cells', () => {
    const x = morphologyFeaturesBatch(chula.map((c) => c.crop));
    const burr = chula.flatMap((c, i) => (c.label === '8' ? [i] : []));
    const normal = chula.flatMap((c, i) => (c.label === '0' ? [i] : []));
    expect(burr.length).toBeGreaterThan(30);
    expect(normal.length).toBeGreaterThan(30);
    expect(mean(column(x, 'boundary_energy_9_16', burr))).toBeGreaterThan(
      mean(column(x, 'boundary_energy_9_16', normal)),
    );
    expect(mean(column(x, 'spicule_count', burr))).toBeGreaterThan(mean(column(x, 'spicule_count', normal)));
    expect(mean(column(x, 'convexity', burr))).toBeLessThan(mean(column(x, 'convexity', normal)));
  });

  it('finds more purple inclusions in parasitized than uninfected NIH cells', () => {
    const x = morphologyFeaturesBatch(nih.map((c) => c.crop));
    const para = nih.flatMap((c, i) => (c.label === 'parasitized' ? [i] : []));
    const uninf = nih.flatMap((c, i) => (c.label === 'uninfected' ? [i] : []));
    expect(mean(column(x, 'purple_p99_excess', para))).toBeGreaterThan(
      mean(column(x, 'purple_p99_excess', uninf)),
    );
    expect(mean(column(x, 'inclusion_fraction_0.2', para))).toBeGreaterThan(
      mean(column(x, 'inclusion_fraction_0.2', uninf)),
    );
  });

  it('measures a drawn disc and ellipse as such', () => {
    const side = 80;
    const draw = (rx: number, ry: number): CellCrop => {
      const rgb = new Uint8Array(side * side * 3).fill(230);
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          if (((x - 39.5) / rx) ** 2 + ((y - 39.5) / ry) ** 2 <= 1)
            rgb.fill(120, (y * side + x) * 3, (y * side + x) * 3 + 3);
        }
      }
      return { rgb, width: side, height: side };
    };
    const get = (v: Float32Array, name: string): number => v[MORPHOLOGY_FEATURE_NAMES.indexOf(name)];
    const disc = morphologyFeatures(draw(20, 20));
    const ellipse = morphologyFeatures(draw(28, 14));
    expect(get(disc, 'equivalent_diameter_px')).toBeGreaterThan(38);
    expect(get(disc, 'equivalent_diameter_px')).toBeLessThan(42);
    expect(get(disc, 'circularity')).toBeGreaterThan(0.9);
    expect(get(disc, 'elongation')).toBeLessThan(1.05);
    expect(get(ellipse, 'elongation')).toBeGreaterThan(1.9);
    expect(get(ellipse, 'fourier_h2')).toBeGreaterThan(5 * get(disc, 'fourier_h2'));
  });
});

describe('standardizer', () => {
  it('z-scores each dimension and maps constant dimensions to 0', () => {
    const x = morphologyFeaturesBatch(nih.slice(0, 80).map((c) => c.crop));
    const n = 80;
    const s = fitStandardizer(x, n, MORPHOLOGY_DIMS);
    const z = applyStandardizer(x, n, MORPHOLOGY_DIMS, s);
    const constantDim = MORPHOLOGY_FEATURE_NAMES.indexOf('cell_optical_density'); // black padding: always 0
    for (let d = 0; d < MORPHOLOGY_DIMS; d++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += z[i * MORPHOLOGY_DIMS + d];
      expect(Math.abs(m / n)).toBeLessThan(0.35);
    }
    for (let i = 0; i < n; i++) {
      expect(z[i * MORPHOLOGY_DIMS + constantDim]).toBe(0);
      for (let d = 0; d < MORPHOLOGY_DIMS; d++)
        expect(Math.abs(z[i * MORPHOLOGY_DIMS + d])).toBeLessThanOrEqual(STANDARD_CLIP);
    }
    const area = MORPHOLOGY_FEATURE_NAMES.indexOf('area_px');
    let v = 0;
    for (let i = 0; i < n; i++) v += z[i * MORPHOLOGY_DIMS + area] ** 2;
    expect(Math.sqrt(v / (n - 1))).toBeGreaterThan(0.9);
    expect(Math.sqrt(v / (n - 1))).toBeLessThan(1.1);
  });

  it('rejects a standardizer of another width', () => {
    const s = fitStandardizer(new Float32Array(6), 2, 3);
    expect(() => applyStandardizer(new Float32Array(8), 2, 4, s)).toThrow(/dims/);
  });
});

function cosine(z: Float32Array, i: number, j: number): number {
  let dot = 0;
  let a = 0;
  let b = 0;
  for (let d = 0; d < MORPHOLOGY_DIMS; d++) {
    const u = z[i * MORPHOLOGY_DIMS + d];
    const v = z[j * MORPHOLOGY_DIMS + d];
    dot += u * v;
    a += u * u;
    b += v * v;
  }
  return dot / Math.sqrt(a * b || 1);
}
