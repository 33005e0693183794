/**
 * Morphology embedder benchmark: speed (cells/s, one core) and kNN quality (k=20, cosine on standardized
 * features, slide-disjoint 5-fold grouped CV) on Chula RBC-12 classes, NIH parasitized vs uninfected and
 * MP-IDB P. falciparum stages, against a trivial baseline (mean colour + area).
 *
 *   node bin/run-ts.mjs bench/morphology.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MORPHOLOGY_DIMS,
  MORPHOLOGY_FEATURE_NAMES,
  MORPHOLOGY_MODEL_NAME,
  applyStandardizer,
  fitStandardizer,
  morphologyFeaturesBatch,
} from '../src/main/engine/embed/morphology';
import {
  CHULA_WINDOW,
  type KnnResult,
  type LabeledCells,
  groupedFolds,
  groupedKnn,
  loadChula,
  loadFolders,
  mpidbSmear,
  nihSlide,
  round,
} from './morphology-data';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DATA = path.resolve(ROOT, '../shared/data');
const FOLDS = 5;
const K = 20;

const BASELINE = ['colour_mean_r', 'colour_mean_g', 'colour_mean_b', 'area_px'];
const GROUPS: Record<string, (name: string) => boolean> = {
  size_shape_boundary: (n) =>
    /^(area|equivalent|perimeter|major|minor|feret|inscribed|log_area|border|circularity|convexity|solidity|eccentricity|elongation|extent|radius|axial|fourier|boundary|spicule)/.test(
      n,
    ),
  pallor: (n) => /^(pallor|cell_optical|centre_optical)/.test(n),
  colour_inclusions: (n) => /^(colour|chroma|purple|darkness|intensity_skew|inclusion)/.test(n),
  texture: (n) => /^(texture|glcm|lbp)/.test(n),
};

function select(
  x: Float32Array,
  n: number,
  names: readonly string[],
  keep: (name: string) => boolean,
): { x: Float32Array; dims: number } {
  const idx = names.map((name, i) => (keep(name) ? i : -1)).filter((i) => i >= 0);
  const out = new Float32Array(n * idx.length);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < idx.length; j++) out[i * idx.length + j] = x[i * names.length + idx[j]];
  return { x: out, dims: idx.length };
}

function evaluate(x: Float32Array, dims: number, cells: LabeledCells, foldOf: Int32Array): KnnResult {
  const n = cells.labels.length;
  // Fitted on all cells of the set, as the app fits it per project: uses no labels.
  const z = applyStandardizer(x, n, dims, fitStandardizer(x, n, dims));
  return groupedKnn(z, dims, cells.labels, foldOf, K);
}

function timeFeatures(cells: LabeledCells): { features: Float32Array; cellsPerSecond: number } {
  // Warm-up so the JIT has compiled the hot loops before timing.
  morphologyFeaturesBatch(cells.crops.slice(0, 200));
  const t0 = process.hrtime.bigint();
  const features = morphologyFeaturesBatch(cells.crops);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { features, cellsPerSecond: Math.round(cells.crops.length / seconds) };
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

async function runDataset(
  name: string,
  cells: LabeledCells,
  withAblations: boolean,
): Promise<Record<string, unknown>> {
  const n = cells.labels.length;
  const { features, cellsPerSecond } = timeFeatures(cells);
  const foldOf = groupedFolds(cells.groups, FOLDS);
  const full = evaluate(features, MORPHOLOGY_DIMS, cells, foldOf);
  const base = select(features, n, MORPHOLOGY_FEATURE_NAMES, (f) => BASELINE.includes(f));
  const baseline = evaluate(base.x, base.dims, cells, foldOf);
  const result: Record<string, unknown> = {
    cells: n,
    groups: new Set(cells.groups).size,
    classes: countBy(cells.labels),
    cropSize: `${cells.crops[0].width}x${cells.crops[0].height}`,
    cellsPerSecond,
    morphology: full,
    baselineMeanColourArea: baseline,
  };
  if (withAblations) {
    const ablations: Record<string, { only: number; without: number }> = {};
    for (const [group, keep] of Object.entries(GROUPS)) {
      const only = select(features, n, MORPHOLOGY_FEATURE_NAMES, keep);
      const without = select(features, n, MORPHOLOGY_FEATURE_NAMES, (f) => !keep(f));
      ablations[group] = {
        only: evaluate(only.x, only.dims, cells, foldOf).weightedF1,
        without: evaluate(without.x, without.dims, cells, foldOf).weightedF1,
      };
    }
    result.ablationsWeightedF1 = ablations;
  }
  process.stderr.write(
    `${name}: wF1 ${full.weightedF1} (baseline ${baseline.weightedF1}), ${cellsPerSecond} cells/s\n`,
  );
  return result;
}

const ablate = !process.argv.includes('--no-ablations');
const loadBefore = os.loadavg();
const started = Date.now();
const chula = await loadChula(path.join(DATA, 'chula-dev'), CHULA_WINDOW);
const nih = await loadFolders(path.join(DATA, 'nih-dev'), nihSlide);
const mpidb = await loadFolders(path.join(DATA, 'fixture', 'mpidb_pf_crops'), mpidbSmear);

const report = {
  benchmark: 'morphology',
  model: MORPHOLOGY_MODEL_NAME,
  dims: MORPHOLOGY_DIMS,
  protocol:
    `kNN k=${K}, cosine on z-scored features (standardizer fitted on all cells of the set, no labels), ` +
    `${FOLDS}-fold CV grouped by slide/image (deterministic balanced assignment); chula: ${CHULA_WINDOW}px ` +
    'window around each labeled centre, class 10 (uncategorised) left out; nih: group = C<n> slide code; ' +
    'mpidb: fixture stage crops (mpidb-dev has only rings), group = smear id. Speed: one thread, features ' +
    'from decoded RGB crops incl. segmentation (no masks given), after a 200-cell warm-up.',
  datasets: {
    chula: await runDataset('chula', chula, ablate),
    nih: await runDataset('nih', nih, ablate),
    mpidbStages: await runDataset('mpidb', mpidb, false),
  },
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
  loadAverageBefore: loadBefore.map((v) => round(v, 2)),
  loadAverageAfter: os.loadavg().map((v) => round(v, 2)),
  seconds: round((Date.now() - started) / 1000, 1),
};

const json = JSON.stringify(report, null, 2);
fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'morphology.json'), `${json}\n`);
process.stdout.write(`${json}\n`);
