/**
 * Morphology embedder benchmark: speed (cells/s, one core and all cores) and kNN quality (k=20, cosine on standardized
 * features, slide-disjoint 5-fold grouped CV) on Chula RBC-12 classes, NIH parasitized vs uninfected and
 * MP-IDB P. falciparum stages, against a trivial baseline (mean colour + area).
 *
 *   node bin/run-ts.mjs bench/morphology.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { startModuleWorker } from '../src/main/engine/util/module-worker';
import vm from 'node:vm';
import {
  MORPHOLOGY_DIMS,
  MORPHOLOGY_FEATURE_NAMES,
  MORPHOLOGY_MODEL_NAME,
  applyStandardizer,
  fitStandardizer,
  maskFromCrop,
  morphologyFeaturesBatch,
} from '../src/main/engine/embed/morphology';
import {
  CHULA_WINDOW,
  type BenchDataset,
  type KnnResult,
  type LabeledCells,
  groupedFolds,
  groupedKnn,
  loadDataset,
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

interface Speed {
  cellsPerWallSecond: number;
  /** Cells per second of this process's CPU time: what one core gives when the machine is shared. */
  cellsPerCpuSecond: number;
}

// A full collection before each timed section: the previous datasets' crops (hundreds of MB of buffers) are
// garbage by then, and collecting them inside a timed section charged that to the embedder.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

function timed(run: () => void, cells: number): Speed {
  collectGarbage();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  run();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  return {
    cellsPerWallSecond: Math.round(cells / wall),
    cellsPerCpuSecond: Math.round(cells / ((cpu.user + cpu.system) / 1e6)),
  };
}

/**
 * Sets smaller than this are timed over repeated passes (the MP-IDB fixture's 57 crops take ~15 ms: one pass
 * measures the JIT's warm-up more than the embedder).
 */
const MIN_TIMED_CELLS = 2000;

/**
 * Features of every crop, timed twice: as crop folders arrive (segmentation included) and as smear cells
 * arrive from ingest (mask supplied, here the mask segmentation found).
 */
function timeFeatures(cells: LabeledCells): {
  features: Float32Array;
  segmenting: Speed;
  maskSupplied: Speed;
  timedPasses: number;
} {
  const n = cells.crops.length;
  const timedPasses = Math.ceil(MIN_TIMED_CELLS / n);
  const repeated = <T>(items: T[]): T[] => Array.from({ length: timedPasses }, () => items).flat();
  const crops = repeated(cells.crops);
  // Warm-up so the JIT has compiled the hot loops before timing.
  morphologyFeaturesBatch(crops.slice(0, 200));
  let features: Float32Array = new Float32Array(0);
  const segmenting = timed(() => {
    features = morphologyFeaturesBatch(crops).slice(0, n * MORPHOLOGY_DIMS);
  }, crops.length);
  const masked = repeated(cells.crops.map((c) => ({ ...c, mask: maskFromCrop(c) })));
  morphologyFeaturesBatch(masked.slice(0, 200));
  const maskSupplied = timed(() => morphologyFeaturesBatch(masked), masked.length);
  return { features, segmenting, maskSupplied, timedPasses };
}

/**
 * The same mask-supplied features on every core at once, as the app computes them (ingest and re-embedding run
 * one worker per core): one worker thread per core, each with an equal share of the crops, loaded and warmed
 * up before a common start; cells per wall second from the start until the last worker is done.
 */
async function allCores(dataset: BenchDataset, n: number, timedPasses: number) {
  const parts = os.availableParallelism();
  const workers = Array.from({ length: parts }, (_, part) =>
    startModuleWorker(import.meta.url, 'morphology-worker', {
      dataset,
      dataDir: DATA,
      part,
      parts,
      passes: timedPasses,
    }),
  );
  const next = (w: (typeof workers)[number]) =>
    new Promise<{ cells: number }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await Promise.all(workers.map(next));
  const done = workers.map(next);
  const t0 = process.hrtime.bigint();
  for (const w of workers) w.postMessage('go');
  const results = await Promise.all(done);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all(workers.map((w) => w.terminate()));
  const cells = results.reduce((a, r) => a + r.cells, 0);
  if (cells !== n * timedPasses)
    throw new Error(`all-cores run did ${cells} cells, expected ${n * timedPasses}`);
  return { workers: parts, cellsPerWallSecond: Math.round(cells / wall) };
}

/** ns per element of a dependent multiply-add loop: shows how contended this run's CPU was. */
function calibrationLoop(): number {
  const a = new Float32Array(4096).map((_, i) => i % 7);
  let s = 0;
  const c0 = process.cpuUsage();
  for (let r = 0; r < 5000; r++) for (let i = 0; i < a.length; i++) s += a[i] * 0.5;
  const cpu = process.cpuUsage(c0);
  return s > 0 ? round(((cpu.user + cpu.system) * 1e3) / (5000 * a.length), 2) : 0;
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

async function runDataset(
  name: BenchDataset,
  cells: LabeledCells,
  withAblations: boolean,
): Promise<Record<string, unknown>> {
  const n = cells.labels.length;
  const { features, segmenting, maskSupplied, timedPasses } = timeFeatures(cells);
  const maskSuppliedAllCores = await allCores(name, n, timedPasses);
  const foldOf = groupedFolds(cells.groups, FOLDS);
  const full = evaluate(features, MORPHOLOGY_DIMS, cells, foldOf);
  const base = select(features, n, MORPHOLOGY_FEATURE_NAMES, (f) => BASELINE.includes(f));
  const baseline = evaluate(base.x, base.dims, cells, foldOf);
  const result: Record<string, unknown> = {
    cells: n,
    groups: new Set(cells.groups).size,
    classes: countBy(cells.labels),
    cropSize: `${cells.crops[0].width}x${cells.crops[0].height}`,
    speed: { segmenting, maskSupplied, maskSuppliedAllCores, timedPasses },
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
    `${name}: wF1 ${full.weightedF1} (baseline ${baseline.weightedF1}), ${JSON.stringify({ segmenting, maskSupplied, maskSuppliedAllCores })}\n`,
  );
  return result;
}

const ablate = !process.argv.includes('--no-ablations');
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? process.argv[onlyArg + 1] : undefined;
const loadBefore = os.loadavg();
const started = Date.now();
const datasets: Record<string, Record<string, unknown>> = {};
if (!only || only === 'chula')
  datasets.chula = await runDataset('chula', await loadDataset('chula', DATA), ablate);
if (!only || only === 'nih') datasets.nih = await runDataset('nih', await loadDataset('nih', DATA), ablate);
if (!only || only === 'mpidb') {
  datasets.mpidbStages = await runDataset('mpidb', await loadDataset('mpidb', DATA), false);
}

const report = {
  benchmark: 'morphology',
  model: MORPHOLOGY_MODEL_NAME,
  dims: MORPHOLOGY_DIMS,
  protocol:
    `kNN k=${K}, cosine on z-scored features (standardizer fitted on all cells of the set, no labels), ` +
    `${FOLDS}-fold CV grouped by slide/image (deterministic balanced assignment); chula: ${CHULA_WINDOW}px ` +
    'window around each labeled centre, class 10 (uncategorised) left out; nih: group = C<n> slide code; ' +
    'mpidb: fixture stage crops (mpidb-dev has only rings), group = smear id. Speed: one thread, features ' +
    'from decoded RGB crops, segmenting (no mask given) and with the mask supplied (as ingest supplies it), ' +
    `after a 200-cell warm-up and a full garbage collection, sets under ${MIN_TIMED_CELLS} cells timed over ` +
    'repeated passes (timedPasses); maskSuppliedAllCores: the same on one worker thread per core at once, ' +
    'each with an equal share of the crops, cells per wall second of the whole set (as the app runs it); ' +
    'wall and process-CPU time reported, with the load average (2 shared cores).',
  datasets,
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
  calibrationLoopCpuNsPerElement: calibrationLoop(),
  loadAverageBefore: loadBefore.map((v) => round(v, 2)),
  loadAverageAfter: os.loadavg().map((v) => round(v, 2)),
  seconds: round((Date.now() - started) / 1000, 1),
};

const json = JSON.stringify(report, null, 2);
if (!only) {
  fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'morphology.json'), `${json}\n`);
}
process.stdout.write(`${json}\n`);
