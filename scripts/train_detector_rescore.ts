/**
 * Trains the rescorer of the shipped detector pair (src/main/engine/ingest/segment/rescore.ts) and writes the
 * pair's sidecar, resources/models/detector-cells.json:
 *   node bin/run-ts.mjs scripts/train_detector_rescore.ts [--primary resources/models/detector-cells.onnx]
 *     [--companion resources/models/detector-cells-recall.onnx] [--chula-weight 2] [--cut 0.4] [--out FILE]
 * DEV data only, training half only (file-name hash odd; bench/detect.ts --split even is held out):
 * - txl-dev: every RBC candidate, labelled kept when it matches a ground-truth RBC box at IoU >= 0.5 (greedy);
 * - chula-dev: the candidates that hold a labeled cell centre, labelled kept, weighted --chula-weight (Chula labels
 *   only some cells, so its other candidates say nothing and are left out).
 * Logistic regression on standardised features (rescore.ts expandFeatures), full-batch gradient descent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { decodeImage } from '../src/main/engine/ingest/decode';
import { rasterizeContour } from '../src/main/engine/ingest/segment/contour';
import { CellDetector } from '../src/main/engine/ingest/segment/detector';
import { segmentFieldWithDetections } from '../src/main/engine/ingest/segment/guided';
import {
  RESCORE_FEATURES,
  boxIou,
  expandFeatures,
  rescoreFeatures,
  standardise,
  type RescoreModel,
} from '../src/main/engine/ingest/segment/rescore';
import { dataPath } from '../test/helpers/data';

type Box = readonly [number, number, number, number];
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const primaryPath = path.resolve(arg('--primary', 'resources/models/detector-cells.onnx'));
const companionPath = path.resolve(arg('--companion', 'resources/models/detector-cells-recall.onnx'));
const chulaWeight = Number(arg('--chula-weight', '2'));
const cut = Number(arg('--cut', '0.4'));
const outPath = path.resolve(arg('--out', 'resources/models/detector-cells.json'));
const ITERATIONS = 4000;
const RATE = 0.1;
const L2 = 1e-3;

const trainingHalf = (name: string) => createHash('sha256').update(name).digest()[0] % 2 === 1;

/** Greedy one-to-one matching by descending IoU (as bench/detect.ts scores): the matched prediction indices. */
function matched(pred: Box[], truth: Box[]): Set<number> {
  const pairs: Array<[number, number, number]> = [];
  pred.forEach((p, i) =>
    truth.forEach((t, j) => {
      const v = boxIou(p, t);
      if (v >= 0.5) pairs.push([v, i, j]);
    }),
  );
  pairs.sort((a, b) => b[0] - a[0]);
  const usedP = new Set<number>();
  const usedT = new Set<number>();
  for (const [, i, j] of pairs) {
    if (usedP.has(i) || usedT.has(j)) continue;
    usedP.add(i);
    usedT.add(j);
  }
  return usedP;
}

const pair = CellDetector.pair(
  await CellDetector.load(primaryPath, 1, true),
  await CellDetector.load(companionPath, 1, true),
  null,
);
const rows: number[][] = [];
const labels: number[] = [];
const weights: number[] = [];
const counts = { txlFields: 0, txlCandidates: 0, txlKept: 0, chulaFields: 0, chulaPositives: 0 };

for (const set of ['txl-dev', 'chula-dev'] as const) {
  const dir = dataPath(set);
  for (const f of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.jpg') && trainingHalf(f))
    .sort()) {
    const file = path.join(dir, f);
    const img = await decodeImage(file);
    const found = await pair.detect(img);
    const detectionOf: number[] = [];
    const cells = segmentFieldWithDetections(img, found.detections, found.cellDiameter, { detectionOf });
    const feats = rescoreFeatures(
      cells,
      detectionOf,
      found.detections,
      found.scores ?? [],
      found.cellDiameter,
    );
    const ann = fs.readFileSync(file.replace(/\.jpg$/, '.txt'), 'utf8').split('\n');
    if (set === 'txl-dev') {
      const truth: Box[] = ann
        .map((l) => l.trim().split(/\s+/).map(Number))
        .filter((p) => p.length >= 5 && p[0] === 1)
        .map((p) => [
          (p[1] - p[3] / 2) * img.width,
          (p[2] - p[4] / 2) * img.height,
          p[3] * img.width,
          p[4] * img.height,
        ]);
      const boxes = feats.index.map((i) =>
        detectionOf[i] >= 0 ? found.detections[detectionOf[i]].bbox : cells[i].bbox,
      );
      const kept = matched(boxes, truth);
      feats.rows.forEach((r, k) => {
        rows.push(r);
        labels.push(kept.has(k) ? 1 : 0);
        weights.push(1);
      });
      counts.txlFields++;
      counts.txlCandidates += feats.rows.length;
      counts.txlKept += kept.size;
    } else {
      // Each labeled centre's owner: the first RBC candidate whose outline holds it.
      const owner = new Int32Array(img.width * img.height).fill(-1);
      for (let k = feats.index.length - 1; k >= 0; k--) {
        const c = cells[feats.index[k]];
        const m = rasterizeContour(c.contour, c.bbox);
        const [bx, by, bw, bh] = c.bbox;
        for (let y = 0; y < bh; y++)
          for (let x = 0; x < bw; x++) if (m[y * bw + x]) owner[(by + y) * img.width + bx + x] = k;
      }
      const positives = new Set<number>();
      for (const line of ann) {
        const p = line.trim().split(/\s+/).map(Number);
        if (p.length < 3 || !Number.isFinite(p[0])) continue;
        const x = Math.min(img.width - 1, Math.max(0, Math.round(p[0])));
        const y = Math.min(img.height - 1, Math.max(0, Math.round(p[1])));
        if (owner[y * img.width + x] >= 0) positives.add(owner[y * img.width + x]);
      }
      for (const k of [...positives].sort((a, b) => a - b)) {
        rows.push(feats.rows[k]);
        labels.push(1);
        weights.push(chulaWeight);
      }
      counts.chulaFields++;
      counts.chulaPositives += positives.size;
    }
  }
}

const d = RESCORE_FEATURES.length;
const mean = new Array<number>(d).fill(0);
const std = new Array<number>(d).fill(0);
for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j] / rows.length;
for (const r of rows) for (let j = 0; j < d; j++) std[j] += (r[j] - mean[j]) ** 2 / rows.length;
for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) + 1e-6;
const X = rows.map((r) => expandFeatures(standardise(r, { mean, std })));
const dims = X[0].length;
const w = new Float64Array(dims);
const totalWeight = weights.reduce((a, b) => a + b, 0);
for (let it = 0; it < ITERATIONS; it++) {
  const grad = new Float64Array(dims);
  for (let i = 0; i < X.length; i++) {
    const x = X[i];
    let t = 0;
    for (let j = 0; j < dims; j++) t += x[j] * w[j];
    const g = ((1 / (1 + Math.exp(-t)) - labels[i]) * weights[i]) / totalWeight;
    for (let j = 0; j < dims; j++) grad[j] += g * x[j];
  }
  for (let j = 0; j < dims; j++) w[j] -= RATE * (grad[j] + L2 * w[j]);
}
let loss = 0;
for (let i = 0; i < X.length; i++) {
  let t = 0;
  for (let j = 0; j < dims; j++) t += X[i][j] * w[j];
  const p = Math.min(1 - 1e-12, Math.max(1e-12, 1 / (1 + Math.exp(-t))));
  loss -= (weights[i] * (labels[i] * Math.log(p) + (1 - labels[i]) * Math.log(1 - p))) / totalWeight;
}

const digest = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16);
const rescore: RescoreModel = { features: RESCORE_FEATURES, mean, std, weights: Array.from(w), cut };
const sidecar = {
  companion: path.relative(path.dirname(outPath), companionPath),
  rescore,
  provenance: {
    script: 'scripts/train_detector_rescore.ts',
    primary: { file: path.basename(primaryPath), sha256: digest(primaryPath) },
    companion: { file: path.basename(companionPath), sha256: digest(companionPath) },
    data: 'txl-dev and chula-dev, training half (sha256(file name)[0] odd)',
    chulaWeight,
    iterations: ITERATIONS,
    learningRate: RATE,
    l2: L2,
    ...counts,
    trainingLoss: Math.round(loss * 1e5) / 1e5,
  },
};
fs.writeFileSync(outPath, JSON.stringify(sidecar, null, 2) + '\n');
console.log(JSON.stringify({ out: path.relative(process.cwd(), outPath), ...sidecar.provenance }, null, 2));
