/**
 * Agreement of the TypeScript linear probe and kNN classifier with scikit-learn on the committed fixture
 * (test/fixtures/learn/sklearn-probe.json, written by scripts/sklearn_probe_fixture.py), plus probe training time.
 *
 *   node bin/run-ts.mjs bench/learn-sklearn.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import { probeProbabilities, trainLinearProbe } from '../src/main/engine/learn/linear-probe';
import { knnClassify } from '../src/main/engine/learn/knn-classifier';
import { classificationReport } from '../src/main/engine/learn/evaluate';

interface Fixture {
  sklearn: string;
  dims: number;
  classes: number[];
  trainX: number[];
  trainY: number[];
  testX: number[];
  testY: number[];
  linear: { probabilities: number[]; predicted: number[]; accuracy: number; weightedF1: number };
  knn1: { predicted: number[]; accuracy: number };
  knn20: { predicted: number[]; accuracy: number; weightedF1: number };
}

const fixture = JSON.parse(fs.readFileSync('test/fixtures/learn/sklearn-probe.json', 'utf8')) as Fixture;
const dims = fixture.dims;
const trainX = Float32Array.from(fixture.trainX);
const trainY = Int32Array.from(fixture.trainY);
const testX = Float32Array.from(fixture.testX);
const testY = Int32Array.from(fixture.testY);

const t = performance.now();
const probe = trainLinearProbe(trainX, trainY, dims);
const trainMs = performance.now() - t;
const probabilities = probeProbabilities(probe, testX);
const K = probe.classes.length;
let maxError = 0;
let meanError = 0;
for (let i = 0; i < probabilities.length; i++) {
  const e = Math.abs(probabilities[i] - fixture.linear.probabilities[i]);
  maxError = Math.max(maxError, e);
  meanError += e / probabilities.length;
}
const linearPredicted = Int32Array.from({ length: testY.length }, (_, i) => {
  let best = 0;
  for (let c = 1; c < K; c++) if (probabilities[i * K + c] > probabilities[i * K + best]) best = c;
  return probe.classes[best];
});
const agreement = (a: ArrayLike<number>, b: number[]): number =>
  Array.from(a).filter((v, i) => v === b[i]).length / b.length;
const report = classificationReport(testY, linearPredicted);

const knn = Object.fromEntries(
  ([1, 20] as const).map((k) => {
    const reference = k === 1 ? fixture.knn1 : fixture.knn20;
    const ours = knnClassify(trainX, trainY, testX, dims, { k, weighting: 'uniform' });
    const oursExp = knnClassify(trainX, trainY, testX, dims, { k });
    return [
      `k${k}`,
      {
        predictionAgreementUniform: agreement(ours.predicted, reference.predicted),
        accuracyOursUniform: classificationReport(testY, ours.predicted).accuracy,
        accuracySklearn: reference.accuracy,
        accuracyOursExpT007: classificationReport(testY, oursExp.predicted).accuracy,
      },
    ];
  }),
);

const result = {
  bench: 'learn-sklearn',
  sklearn: fixture.sklearn,
  data: `${trainY.length} train / ${testY.length} test rows, ${dims} dims, ${K} classes (synthetic overlapping Gaussians)`,
  linear: {
    probabilityMaxAbsError: maxError,
    probabilityMeanAbsError: meanError,
    predictionAgreement: agreement(linearPredicted, fixture.linear.predicted),
    accuracyOurs: report.accuracy,
    accuracySklearn: fixture.linear.accuracy,
    weightedF1Ours: report.weightedF1,
    weightedF1Sklearn: fixture.linear.weightedF1,
    lbfgsIterations: probe.iterations,
    trainMs: Math.round(trainMs),
  },
  knn,
  load: os.loadavg().map((v) => Math.round(v * 100) / 100),
};
const json = JSON.stringify(result, null, 2);
console.log(json);
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync('bench/results/learn-sklearn.json', json + '\n');
