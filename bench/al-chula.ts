/**
 * Active-learning simulation on Chula RBC-12 (chula-dev) with the built-in morphology embedder.
 *
 * Cells: the labeled centres of every field (`<id>.txt`, class 10 "uncategorised" skipped), an 80 px window
 * around each, morphology features (cached in .cache/al-chula-features.bin, keyed by the model name and a hash
 * of the embedder's sources), z-scored. A slide-disjoint split
 * (30% of the fields) is the held-out test set; the rest is the pool. An oracle reveals the true class of each
 * suggested cell. After every batch of 20 labels a linear probe (the app's predictor) is trained on the labeled
 * pool cells and scored on the test set (weighted F1). Strategies: `mix` (the app default, cold start included),
 * `margin` (the usual baseline) and `random`, averaged over seeds. Writes bench/results/al-chula.json and
 * bench/results/al-chula.svg.
 *
 *   node bin/run-ts.mjs bench/al-chula.ts [seeds=5]
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadChula } from './morphology-data';
import {
  applyStandardizer,
  fitStandardizer,
  MORPHOLOGY_DIMS,
  MORPHOLOGY_MODEL_NAME,
  morphologyFeaturesBatch,
} from '../src/main/engine/embed/morphology';
import { VectorIndex } from '../src/main/engine/search/vector-index';
import { predictAll } from '../src/main/engine/learn/predict';
import { suggest, type SuggestionStrategy } from '../src/main/engine/learn/suggest';
import { evaluate, groupSplit, seededRandom } from '../src/main/engine/learn/evaluate';
import { dataPath } from '../test/helpers/data';

const seeds = Number(process.argv[2] ?? 5);
const BATCH = 20;
const BUDGET = 300;
const dims = MORPHOLOGY_DIMS;
const started = performance.now();

interface Cells {
  x: Float32Array;
  labels: Int32Array;
  groups: string[];
  classNames: string[];
}

/**
 * Cache key: the model name plus a hash of the embedder's sources and the crop loader, so a change to the
 * morphology code (a constant such as CELL_DIAMETER_MAX included) rebuilds the features even when
 * MORPHOLOGY_MODEL_VERSION was not bumped.
 */
function featureFingerprint(): string {
  const dir = path.resolve('src/main/engine/embed/morphology');
  const files = [
    path.resolve('src/main/engine/embed/morphology.ts'),
    ...fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .sort()
      .map((f) => path.join(dir, f)),
    path.resolve('bench/morphology-data.ts'),
  ];
  const hash = createHash('sha256');
  for (const f of files) hash.update(path.basename(f)).update(fs.readFileSync(f));
  return `${MORPHOLOGY_MODEL_NAME}:${hash.digest('hex').slice(0, 16)}`;
}

async function loadCells(): Promise<Cells> {
  const fingerprint = featureFingerprint();
  const cacheFile = path.resolve('.cache/al-chula-features.bin');
  const metaFile = cacheFile.replace(/\.bin$/, '.json');
  if (fs.existsSync(cacheFile) && fs.existsSync(metaFile)) {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as {
      model: string;
      fingerprint?: string;
      labels: number[];
      groups: string[];
      classNames: string[];
    };
    if (meta.model === MORPHOLOGY_MODEL_NAME && meta.fingerprint === fingerprint) {
      const bytes = fs.readFileSync(cacheFile);
      const x = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      return { x, labels: Int32Array.from(meta.labels), groups: meta.groups, classNames: meta.classNames };
    }
  }
  const data = await loadChula(dataPath('chula-dev'));
  const features = morphologyFeaturesBatch(data.crops);
  const classNames = [...new Set(data.labels)].sort();
  const labels = Int32Array.from(data.labels, (l) => classNames.indexOf(l));
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  fs.writeFileSync(cacheFile, new Uint8Array(features.buffer));
  fs.writeFileSync(
    metaFile,
    JSON.stringify({
      model: MORPHOLOGY_MODEL_NAME,
      fingerprint,
      labels: Array.from(labels),
      groups: data.groups,
      classNames,
    }),
  );
  return { x: features, labels, groups: data.groups, classNames };
}

const cells = await loadCells();
const n = cells.labels.length;
const x = applyStandardizer(cells.x, n, dims, fitStandardizer(cells.x, n, dims));
const split = groupSplit(cells.groups, { testFraction: 0.3, seed: 1 });
const poolRows = Array.from(split.train);
const testRows = Array.from(split.test);

// Pool index: cell id = row number. Evaluation reads the index's normalised vectors so train and test match.
const index = new VectorIndex(dims);
index.add(
  Int32Array.from(poolRows),
  Float32Array.from(poolRows.flatMap((r) => Array.from(x.subarray(r * dims, (r + 1) * dims)))),
);
const testIndex = new VectorIndex(dims, { workers: 1 });
testIndex.add(
  Int32Array.from(testRows),
  Float32Array.from(testRows.flatMap((r) => Array.from(x.subarray(r * dims, (r + 1) * dims)))),
);
const testX = testIndex.vectors(testRows);
const testY = Int32Array.from(testRows, (r) => cells.labels[r]);

function scoreLabels(labeled: Map<number, number>): number {
  const ids = [...labeled.keys()];
  const trainY = Int32Array.from(ids, (id) => labeled.get(id)!);
  return evaluate(index.vectors(ids), trainY, testX, testY, dims, { protocol: 'linear' }).weightedF1;
}

type Strategy = 'mix' | 'margin' | 'random';

async function run(strategy: Strategy, seed: number): Promise<number[]> {
  const rand = seededRandom(1000 + seed);
  const labeled = new Map<number, number>();
  const curve: number[] = [];
  const unlabeledRandom = (count: number): number[] => {
    const rest = poolRows.filter((r) => !labeled.has(r));
    const out: number[] = [];
    for (let i = 0; i < count && rest.length > 0; i++)
      out.push(rest.splice(Math.floor(rand() * rest.length), 1)[0]);
    return out;
  };
  while (labeled.size < BUDGET) {
    let picks: number[];
    if (strategy === 'random') {
      picks = unlabeledRandom(BATCH);
    } else if (labeled.size === 0) {
      // The app's cold start for mix; margin sampling conventionally starts from a random batch.
      picks =
        strategy === 'mix'
          ? (await suggest({ index, labels: labeled }, { count: BATCH, seed })).map((s) => s.cellId)
          : unlabeledRandom(BATCH);
    } else {
      const predictions = await predictAll(index, {
        ids: [...labeled.keys()],
        labels: [...labeled.values()],
      });
      const suggestionStrategy: SuggestionStrategy = strategy === 'mix' ? 'mix' : 'margin';
      picks = (
        await suggest(
          { index, labels: labeled, predictions },
          { strategy: suggestionStrategy, count: BATCH, seed },
        )
      ).map((s) => s.cellId);
    }
    for (const id of picks) labeled.set(id, cells.labels[id]);
    curve.push(scoreLabels(labeled));
  }
  return curve;
}

const strategies: Strategy[] = ['mix', 'margin', 'random'];
const curves: Record<Strategy, number[][]> = { mix: [], margin: [], random: [] };
let budgets: number[] = [];
function writeReport(seedsDone: number): void {
  budgets = Array.from({ length: BUDGET / BATCH }, (_, i) => (i + 1) * BATCH);
  const mean = (rows: number[][]): number[] =>
    budgets.map((_, i) => rows.reduce((a, r) => a + r[i], 0) / rows.length);
  const std = (rows: number[][]): number[] => {
    const m = mean(rows);
    return budgets.map((_, i) => Math.sqrt(rows.reduce((a, r) => a + (r[i] - m[i]) ** 2, 0) / rows.length));
  };
  const meanCurves = Object.fromEntries(strategies.map((s) => [s, mean(curves[s])])) as Record<
    Strategy,
    number[]
  >;
  const randomAt200 = meanCurves.random[budgets.indexOf(200)];
  /** Labels a strategy needs to reach random's F1 at 200 labels (linear interpolation between checkpoints). */
  function labelsToReach(curve: number[], target: number): number | null {
    for (let i = 0; i < curve.length; i++) {
      if (curve[i] >= target) {
        if (i === 0) return budgets[0];
        const t = (target - curve[i - 1]) / (curve[i] - curve[i - 1]);
        return Math.round(budgets[i - 1] + t * BATCH);
      }
    }
    return null;
  }

  const round = (v: number): number => Math.round(v * 10000) / 10000;
  const result = {
    bench: 'al-chula',
    data: 'chula-dev (Chula RBC-12), class 10 skipped, 80 px windows around labeled centres',
    embedder: MORPHOLOGY_MODEL_NAME,
    dims,
    cells: n,
    classes: cells.classNames,
    split: { poolCells: poolRows.length, testCells: testRows.length, testFields: split.testGroups.length },
    protocol: `batches of ${BATCH}, linear probe (C = dims x classes / 100) trained on labeled pool cells, weighted F1 on the slide-disjoint test set, mean of ${seedsDone} seeds`,
    budgets,
    weightedF1: Object.fromEntries(strategies.map((s) => [s, meanCurves[s].map(round)])),
    weightedF1Std: Object.fromEntries(strategies.map((s) => [s, std(curves[s]).map(round)])),
    randomF1At200: round(randomAt200),
    labelsToReachRandomAt200: Object.fromEntries(
      strategies.map((s) => [s, labelsToReach(meanCurves[s], randomAt200)]),
    ),
    goal: "default strategy reaches random's 200-label F1 with <= 100 labels",
    seconds: Math.round((performance.now() - started) / 1000),
    cpuSeconds: Math.round(process.cpuUsage().user / 1e6),
    load: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };

  // Plot: weighted F1 vs labels, one line per strategy, random's 200-label level dashed.
  const W = 640;
  const H = 400;
  const pad = { l: 60, r: 130, t: 30, b: 50 };
  const all = strategies.flatMap((s) => meanCurves[s]);
  const yMin = Math.floor(Math.min(...all) * 20) / 20;
  const yMax = Math.ceil(Math.max(...all) * 20) / 20;
  const sx = (v: number): number => pad.l + ((v - 0) / BUDGET) * (W - pad.l - pad.r);
  const sy = (v: number): number => H - pad.b - ((v - yMin) / (yMax - yMin)) * (H - pad.t - pad.b);
  const colors: Record<Strategy, string> = { mix: '#c0392b', margin: '#2471a3', random: '#7f8c8d' };
  const lines = strategies
    .map((s) => {
      const points = budgets
        .map((b, i) => `${sx(b).toFixed(1)},${sy(meanCurves[s][i]).toFixed(1)}`)
        .join(' ');
      const last = meanCurves[s][meanCurves[s].length - 1];
      return (
        `<polyline fill="none" stroke="${colors[s]}" stroke-width="2" points="${points}"/>` +
        `<text x="${W - pad.r + 8}" y="${sy(last).toFixed(1)}" fill="${colors[s]}" font-size="13">${s === 'mix' ? 'mix (default)' : s}</text>`
      );
    })
    .join('\n');
  const yTicks = [];
  for (let v = yMin; v <= yMax + 1e-9; v += 0.05) {
    yTicks.push(
      `<line x1="${pad.l}" x2="${W - pad.r}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#eee"/>` +
        `<text x="${pad.l - 8}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${v.toFixed(2)}</text>`,
    );
  }
  const xTicks = [0, 50, 100, 150, 200, 250, 300].map(
    (v) =>
      `<text x="${sx(v).toFixed(1)}" y="${H - pad.b + 18}" text-anchor="middle" font-size="11">${v}</text>` +
      `<line x1="${sx(v).toFixed(1)}" x2="${sx(v).toFixed(1)}" y1="${H - pad.b}" y2="${H - pad.b + 4}" stroke="#333"/>`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${pad.l}" y="18" font-size="14">Chula RBC-12, morphology features: weighted F1 (slide-disjoint test) vs labels, ${seedsDone} seeds</text>
${yTicks.join('\n')}
${xTicks.join('\n')}
<line x1="${pad.l}" x2="${W - pad.r}" y1="${H - pad.b}" y2="${H - pad.b}" stroke="#333"/>
<line x1="${pad.l}" x2="${pad.l}" y1="${pad.t}" y2="${H - pad.b}" stroke="#333"/>
<line x1="${pad.l}" x2="${W - pad.r}" y1="${sy(randomAt200).toFixed(1)}" y2="${sy(randomAt200).toFixed(1)}" stroke="#7f8c8d" stroke-dasharray="4 4"/>
<text x="${pad.l + 4}" y="${(sy(randomAt200) - 4).toFixed(1)}" font-size="11" fill="#7f8c8d">random @ 200 labels</text>
${lines}
<text x="${(pad.l + W - pad.r) / 2}" y="${H - 12}" text-anchor="middle" font-size="12">labeled cells</text>
<text x="16" y="${(pad.t + H - pad.b) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${(pad.t + H - pad.b) / 2})">weighted F1</text>
</svg>
`;

  const json = JSON.stringify(result, null, 2);
  if (seedsDone === seeds) console.log(json);
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync('bench/results/al-chula.json', json + '\n');
  fs.writeFileSync('bench/results/al-chula.svg', svg);
}

for (let seed = 0; seed < seeds; seed++) {
  for (const strategy of strategies) {
    curves[strategy].push(await run(strategy, seed));
    process.stderr.write(
      `${strategy} seed ${seed} done ${Math.round((performance.now() - started) / 1000)} s\n`,
    );
  }
  // Written after every seed so a long run under load still leaves its completed seeds behind.
  writeReport(seed + 1);
}
await index.close();
await testIndex.close();
