import { knnClassify, type KnnOptions } from './knn-classifier';
import { probeProbabilities, trainLinearProbe, type LinearProbeOptions } from './linear-probe';

/**
 * Evaluation as in the RedDino paper: a linear probe or a kNN classifier trained on one set of cells and
 * tested on another (slide- or source-disjoint, see groupSplit), reported as weighted F1, balanced accuracy and
 * accuracy with per-class precision / recall / F1 and the confusion matrix.
 */

export interface ClassReport {
  class: number;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Evaluation {
  weightedF1: number;
  macroF1: number;
  balancedAccuracy: number;
  accuracy: number;
  /** Classes present in the test labels or the predictions, ascending. */
  classes: number[];
  perClass: ClassReport[];
  /** confusion[i][j]: test cells of classes[i] predicted as classes[j]. */
  confusion: number[][];
}

/** Metrics of predicted vs true class ids (rows with truth -1 are skipped). Matches scikit-learn's definitions. */
export function classificationReport(truth: Int32Array, predicted: Int32Array): Evaluation {
  const rows: number[] = [];
  for (let i = 0; i < truth.length; i++) if (truth[i] >= 0) rows.push(i);
  const classes = [...new Set(rows.flatMap((i) => [truth[i], predicted[i]]).filter((c) => c >= 0))].sort(
    (a, b) => a - b,
  );
  const at = new Map(classes.map((c, i) => [c, i]));
  const confusion = classes.map(() => new Array<number>(classes.length).fill(0));
  let correct = 0;
  let missing = 0;
  for (const i of rows) {
    const t = at.get(truth[i])!;
    const p = at.get(predicted[i]);
    if (p === undefined) missing++;
    else confusion[t][p]++;
    if (truth[i] === predicted[i]) correct++;
  }
  const perClass: ClassReport[] = classes.map((c, i) => {
    const support = confusion[i].reduce((a, b) => a + b, 0) + 0;
    const tp = confusion[i][i];
    const predictedCount = confusion.reduce((a, row) => a + row[i], 0);
    const precision = predictedCount > 0 ? tp / predictedCount : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { class: c, precision, recall, f1, support };
  });
  // Rows predicted as "nothing" (-1) count as errors of their true class.
  if (missing > 0) {
    for (const i of rows) {
      if (at.get(predicted[i]) === undefined) {
        const report = perClass[at.get(truth[i])!];
        report.support++;
        report.recall =
          report.support > 0 ? confusion[at.get(truth[i])!][at.get(truth[i])!] / report.support : 0;
        const { precision, recall } = report;
        report.f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
      }
    }
  }
  const total = rows.length;
  const present = perClass.filter((r) => r.support > 0);
  const weightedF1 = total > 0 ? present.reduce((a, r) => a + r.f1 * r.support, 0) / total : 0;
  const macroF1 = present.length > 0 ? present.reduce((a, r) => a + r.f1, 0) / present.length : 0;
  const balancedAccuracy =
    present.length > 0 ? present.reduce((a, r) => a + r.recall, 0) / present.length : 0;
  return {
    weightedF1,
    macroF1,
    balancedAccuracy,
    accuracy: total > 0 ? correct / total : 0,
    classes,
    perClass,
    confusion,
  };
}

export interface EvaluateOptions {
  protocol: 'knn' | 'linear';
  /** kNN neighbours (default 20). */
  k?: number;
  knn?: KnnOptions;
  linear?: LinearProbeOptions;
}

/** Trains on (trainX, trainY) and reports metrics on (testX, testY); rows are n x dims, labels -1 are skipped. */
export function evaluate(
  trainX: Float32Array,
  trainY: Int32Array,
  testX: Float32Array,
  testY: Int32Array,
  dims: number,
  options: EvaluateOptions,
): Evaluation {
  return classificationReport(testY, predictClasses(trainX, trainY, testX, dims, options));
}

export function predictClasses(
  trainX: Float32Array,
  trainY: Int32Array,
  testX: Float32Array,
  dims: number,
  options: EvaluateOptions,
): Int32Array {
  if (options.protocol === 'knn') {
    return knnClassify(trainX, trainY, testX, dims, { ...options.knn, k: options.k ?? options.knn?.k ?? 20 })
      .predicted;
  }
  const probe = trainLinearProbe(trainX, trainY, dims, options.linear);
  const probabilities = probeProbabilities(probe, testX);
  const K = probe.classes.length;
  const n = testX.length / dims;
  const predicted = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < K; c++) if (probabilities[i * K + c] > probabilities[i * K + best]) best = c;
    predicted[i] = probe.classes[best];
  }
  return predicted;
}

export interface GroupSplit {
  /** Row indices. */
  train: Int32Array;
  test: Int32Array;
  trainGroups: string[];
  testGroups: string[];
}

/**
 * Splits rows by group (slide, source, subject) so that no group is on both sides.
 * - `testGroups`: these groups are the test set, all others train (train on one source, test on another).
 * - otherwise a deterministic shuffle of the distinct groups (seeded) puts about `testFraction` of the rows in
 *   test, adding whole groups until the fraction is reached.
 */
export function groupSplit(
  groups: ArrayLike<string>,
  options: { testGroups?: Iterable<string>; testFraction?: number; seed?: number } = {},
): GroupSplit {
  const rowsOf = new Map<string, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    let rows = rowsOf.get(g);
    if (!rows) rowsOf.set(g, (rows = []));
    rows.push(i);
  }
  let testSet: Set<string>;
  if (options.testGroups) {
    testSet = new Set(options.testGroups);
  } else {
    const names = [...rowsOf.keys()].sort();
    const rand = seededRandom(options.seed ?? 0);
    for (let i = names.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [names[i], names[j]] = [names[j], names[i]];
    }
    const want = (options.testFraction ?? 0.3) * groups.length;
    testSet = new Set();
    let taken = 0;
    for (const name of names) {
      if (taken >= want || testSet.size === names.length - 1) break;
      testSet.add(name);
      taken += rowsOf.get(name)!.length;
    }
  }
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < groups.length; i++) (testSet.has(groups[i]) ? test : train).push(i);
  const all = [...rowsOf.keys()].sort();
  return {
    train: Int32Array.from(train),
    test: Int32Array.from(test),
    trainGroups: all.filter((g) => !testSet.has(g)),
    testGroups: all.filter((g) => testSet.has(g)),
  };
}

/** Leave-one-group-out folds: each distinct group is the test set once. */
export function leaveOneGroupOut(groups: ArrayLike<string>): GroupSplit[] {
  const names = [...new Set(Array.from(groups))].sort();
  return names.map((g) => groupSplit(groups, { testGroups: [g] }));
}

/** Rows of a row-major matrix (n x dims) selected by index. */
export function takeRows(x: Float32Array, dims: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * dims);
  for (let i = 0; i < rows.length; i++) out.set(x.subarray(rows[i] * dims, (rows[i] + 1) * dims), i * dims);
  return out;
}

export function takeLabels(y: Int32Array, rows: ArrayLike<number>): Int32Array {
  return Int32Array.from({ length: rows.length }, (_, i) => y[rows[i]]);
}

/** mulberry32: small deterministic generator for splits and simulations. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
