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
import { CellDetector } from '../src/main/engine/ingest/segment/detector';
import { segmentFieldWithDetections } from '../src/main/engine/ingest/segment/guided';
import {
  RESCORE_FEATURES,
  expandFeatures,
  rescoreFeatures,
  standardise,
  type RescoreModel,
} from '../src/main/engine/ingest/segment/rescore';
import { dataPath } from '../test/helpers/data';
import { centreOwners, inHeldOutHalf, matchBoxes, readCentres, readYolo } from '../bench/detection-truth';

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
    .filter((f) => f.endsWith('.jpg') && inHeldOutHalf(f, 'odd'))
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
    const annotations = file.replace(/\.jpg$/, '.txt');
    if (set === 'txl-dev') {
      const truth = readYolo(annotations, img.width, img.height, 1);
      const boxes = feats.index.map((i) =>
        detectionOf[i] >= 0 ? found.detections[detectionOf[i]].bbox : cells[i].bbox,
      );
      const kept = new Set(matchBoxes(boxes, truth, 0.5).map(([i]) => i));
      feats.rows.forEach((r, k) => {
        rows.push(r);
        labels.push(kept.has(k) ? 1 : 0);
        weights.push(1);
      });
      counts.txlFields++;
      counts.txlCandidates += feats.rows.length;
      counts.txlKept += kept.size;
    } else {
      // The RBC candidates that hold a labeled centre.
      const rbcs = feats.index.map((i) => cells[i]);
      const owners = centreOwners(rbcs, readCentres(annotations), img.width, img.height);
      const positives = new Set(owners.filter((o) => o >= 0));
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
