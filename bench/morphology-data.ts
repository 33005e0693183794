/**
 * Labeled cell crops from the shared public datasets and a grouped kNN evaluation, for the morphology
 * benchmark. Groups are slides/images so no slide is both in training and test.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { CellCrop } from '../src/main/engine/embed/morphology';

export interface LabeledCells {
  crops: CellCrop[];
  labels: string[];
  groups: string[];
}

/** Chula window side: cells are 40-60 px across at 1000x in the 640x480 fields. */
export const CHULA_WINDOW = 80;
export const CHULA_CLASS_NAMES = [
  'normal',
  'macrocyte',
  'microcyte',
  'spherocyte',
  'target',
  'stomatocyte',
  'ovalocyte',
  'teardrop',
  'burr',
  'schistocyte',
  'uncategorised',
  'hypochromia',
  'elliptocyte',
];

export async function decodeRgb(file: string): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
  };
}

/** Square window centred on (cx, cy); outside the field the edge pixels are repeated. */
export function windowCrop(
  field: { rgb: Uint8Array; width: number; height: number },
  cx: number,
  cy: number,
  side: number,
): CellCrop {
  const rgb = new Uint8Array(side * side * 3);
  const x0 = Math.round(cx - side / 2);
  const y0 = Math.round(cy - side / 2);
  for (let y = 0; y < side; y++) {
    const sy = Math.min(field.height - 1, Math.max(0, y0 + y));
    for (let x = 0; x < side; x++) {
      const sx = Math.min(field.width - 1, Math.max(0, x0 + x));
      const s = (sy * field.width + sx) * 3;
      const d = (y * side + x) * 3;
      rgb[d] = field.rgb[s];
      rgb[d + 1] = field.rgb[s + 1];
      rgb[d + 2] = field.rgb[s + 2];
    }
  }
  return { rgb, width: side, height: side };
}

/** Chula RBC-12 labeled cells: `<id>.txt` lines `x y class`; group = image id. Class 10 (uncategorised) skipped. */
export async function loadChula(dir: string, side = CHULA_WINDOW): Promise<LabeledCells> {
  const out: LabeledCells = { crops: [], labels: [], groups: [] };
  const ids = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => f.slice(0, -4))
    .sort((a, b) => Number(a) - Number(b));
  for (const id of ids) {
    const image = path.join(dir, `${id}.jpg`);
    if (!fs.existsSync(image)) continue;
    const field = await decodeRgb(image);
    for (const line of fs.readFileSync(path.join(dir, `${id}.txt`), 'utf8').split('\n')) {
      const parts = line.trim().split(/\s+/).map(Number);
      if (parts.length < 3 || parts.some((v) => !Number.isFinite(v))) continue;
      const [x, y, cls] = parts;
      if (cls === 10) continue;
      out.crops.push(windowCrop(field, x, y, side));
      out.labels.push(CHULA_CLASS_NAMES[cls] ?? String(cls));
      out.groups.push(id);
    }
  }
  return out;
}

/** Class-folder crop sets (NIH, MP-IDB); group from the file name. */
export async function loadFolders(
  dir: string,
  groupOf: (file: string) => string,
  limitPerClass = Infinity,
): Promise<LabeledCells> {
  const out: LabeledCells = { crops: [], labels: [], groups: [] };
  for (const cls of fs.readdirSync(dir).sort()) {
    const classDir = path.join(dir, cls);
    if (!fs.statSync(classDir).isDirectory()) continue;
    const files = fs
      .readdirSync(classDir)
      .filter((f) => f.endsWith('.png'))
      .sort()
      .slice(0, limitPerClass);
    for (const f of files) {
      out.crops.push(await decodeRgb(path.join(classDir, f)));
      out.labels.push(cls);
      out.groups.push(groupOf(f));
    }
  }
  return out;
}

export const nihSlide = (file: string): string => /^(C\d+)/.exec(file)?.[1] ?? file;
export const mpidbSmear = (file: string): string => /^(\d+)/.exec(file)?.[1] ?? file;

export type BenchDataset = 'chula' | 'nih' | 'mpidb';

/**
 * The labelled cells bench/morphology.ts evaluates (and its all-cores workers time), from the shared data folder:
 * chula-dev windows, nih-dev crops, the fixture's MP-IDB stage crops (mpidb-dev has only rings).
 */
export function loadDataset(name: BenchDataset, dataDir: string): Promise<LabeledCells> {
  if (name === 'chula') return loadChula(path.join(dataDir, 'chula-dev'), CHULA_WINDOW);
  if (name === 'nih') return loadFolders(path.join(dataDir, 'nih-dev'), nihSlide);
  return loadFolders(path.join(dataDir, 'fixture', 'mpidb_pf_crops'), mpidbSmear);
}

/**
 * Grouped folds: groups sorted by size (largest first, ties by name) go to the fold holding fewest cells,
 * so folds are balanced and the assignment is deterministic.
 */
export function groupedFolds(groups: string[], folds: number): Int32Array {
  const size = new Map<string, number>();
  for (const g of groups) size.set(g, (size.get(g) ?? 0) + 1);
  const order = [...size.keys()].sort((a, b) => size.get(b)! - size.get(a)! || a.localeCompare(b));
  const load = new Array<number>(folds).fill(0);
  const foldOf = new Map<string, number>();
  for (const g of order) {
    let best = 0;
    for (let f = 1; f < folds; f++) if (load[f] < load[best]) best = f;
    foldOf.set(g, best);
    load[best] += size.get(g)!;
  }
  return Int32Array.from(groups, (g) => foldOf.get(g)!);
}

export interface KnnResult {
  weightedF1: number;
  accuracy: number;
  balancedAccuracy: number;
  perClassF1: Record<string, number>;
  n: number;
}

/** kNN (cosine, majority of k, ties by summed similarity) with grouped cross-validation. */
export function groupedKnn(
  x: Float32Array,
  dims: number,
  labels: string[],
  foldOf: Int32Array,
  k = 20,
): KnnResult {
  const n = labels.length;
  const classes = [...new Set(labels)].sort();
  const y = Int32Array.from(labels, (l) => classes.indexOf(l));
  const unit = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dims; d++) s += x[i * dims + d] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < dims; d++) unit[i * dims + d] = x[i * dims + d] * inv;
  }
  const pred = new Int32Array(n);
  const folds = Math.max(...foldOf) + 1;
  const topSim = new Float64Array(k);
  const topIdx = new Int32Array(k);
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    for (let i = 0; i < n; i++) if (foldOf[i] !== f) train.push(i);
    for (let i = 0; i < n; i++) {
      if (foldOf[i] !== f) continue;
      topSim.fill(-Infinity);
      topIdx.fill(-1);
      const qi = i * dims;
      for (const j of train) {
        const tj = j * dims;
        let s = 0;
        for (let d = 0; d < dims; d++) s += unit[qi + d] * unit[tj + d];
        if (s <= topSim[k - 1]) continue;
        let p = k - 1;
        while (p > 0 && topSim[p - 1] < s) {
          topSim[p] = topSim[p - 1];
          topIdx[p] = topIdx[p - 1];
          p--;
        }
        topSim[p] = s;
        topIdx[p] = j;
      }
      const votes = new Float64Array(classes.length);
      const simSum = new Float64Array(classes.length);
      for (let t = 0; t < k; t++) {
        if (topIdx[t] < 0) continue;
        votes[y[topIdx[t]]]++;
        simSum[y[topIdx[t]]] += topSim[t];
      }
      let best = 0;
      for (let c = 1; c < classes.length; c++) {
        if (votes[c] > votes[best] || (votes[c] === votes[best] && simSum[c] > simSum[best])) best = c;
      }
      pred[i] = best;
    }
  }
  return scores(y, pred, classes);
}

function scores(y: Int32Array, pred: Int32Array, classes: string[]): KnnResult {
  const C = classes.length;
  const tp = new Float64Array(C);
  const fp = new Float64Array(C);
  const fn = new Float64Array(C);
  const support = new Float64Array(C);
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    support[y[i]]++;
    if (y[i] === pred[i]) {
      tp[y[i]]++;
      correct++;
    } else {
      fp[pred[i]]++;
      fn[y[i]]++;
    }
  }
  let wf1 = 0;
  let bal = 0;
  const perClassF1: Record<string, number> = {};
  for (let c = 0; c < C; c++) {
    const f1 = tp[c] + fp[c] + fn[c] > 0 ? (2 * tp[c]) / (2 * tp[c] + fp[c] + fn[c]) : 0;
    perClassF1[classes[c]] = round(f1);
    wf1 += f1 * support[c];
    bal += support[c] > 0 ? tp[c] / support[c] : 0;
  }
  return {
    weightedF1: round(wf1 / y.length),
    accuracy: round(correct / y.length),
    balancedAccuracy: round(bal / C),
    perClassF1,
    n: y.length,
  };
}

export const round = (v: number, digits = 4): number => Math.round(v * 10 ** digits) / 10 ** digits;
