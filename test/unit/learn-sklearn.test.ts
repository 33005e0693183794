import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/data';
import {
  probeProbabilities,
  REFRESH_PROBE_OPTIONS,
  trainLinearProbe,
} from '../../src/main/engine/learn/linear-probe';
import { knnClassify } from '../../src/main/engine/learn/knn-classifier';
import { classificationReport, evaluate } from '../../src/main/engine/learn/evaluate';

/** Written by scripts/sklearn_probe_fixture.py (scikit-learn 1.2.1). */
interface Fixture {
  dims: number;
  C: number;
  classes: number[];
  trainX: number[];
  trainY: number[];
  testX: number[];
  testY: number[];
  linear: {
    probabilities: number[];
    predicted: number[];
    accuracy: number;
    weightedF1: number;
    macroF1: number;
    balancedAccuracy: number;
  };
  knn1: { predicted: number[]; accuracy: number };
  knn20: { predicted: number[]; accuracy: number; weightedF1: number; balancedAccuracy: number };
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/learn/sklearn-probe.json'), 'utf8'),
) as Fixture;
const dims = fixture.dims;
const trainX = Float32Array.from(fixture.trainX);
const trainY = Int32Array.from(fixture.trainY);
const testX = Float32Array.from(fixture.testX);
const testY = Int32Array.from(fixture.testY);

describe('linear probe vs scikit-learn LogisticRegression (multinomial, lbfgs, StandardScaler)', () => {
  const probe = trainLinearProbe(trainX, trainY, dims);

  it('uses the RedDino C = dims x classes / 100 and converges', () => {
    expect(Array.from(probe.classes)).toEqual(fixture.classes);
    expect(probe.converged).toBe(true);
  });

  it('reproduces the probabilities and predictions', () => {
    const probabilities = probeProbabilities(probe, testX);
    let maxError = 0;
    for (let i = 0; i < probabilities.length; i++) {
      maxError = Math.max(maxError, Math.abs(probabilities[i] - fixture.linear.probabilities[i]));
    }
    expect(maxError).toBeLessThan(2e-3);
    const K = probe.classes.length;
    const predicted = Array.from({ length: testY.length }, (_, i) => {
      let best = 0;
      for (let c = 1; c < K; c++) if (probabilities[i * K + c] > probabilities[i * K + best]) best = c;
      return probe.classes[best];
    });
    expect(predicted).toEqual(fixture.linear.predicted);
  });

  it('warm start from a probe trained on fewer labels reaches the same optimum in fewer iterations', () => {
    const fewer = Int32Array.from(trainY, (c, i) => (i % 12 === 0 ? -1 : c));
    const previous = trainLinearProbe(trainX, fewer, dims);
    const warm = trainLinearProbe(trainX, trainY, dims, { initial: previous });
    expect(warm.converged).toBe(true);
    expect(warm.iterations).toBeLessThan(probe.iterations);
    const a = probeProbabilities(warm, testX);
    const b = probeProbabilities(probe, testX);
    let maxError = 0;
    for (let i = 0; i < a.length; i++) maxError = Math.max(maxError, Math.abs(a[i] - b[i]));
    expect(maxError).toBeLessThan(1e-3);
  });

  it('the refresh settings (float32 SIMD objective, tolerance 1e-4) give the same predictions', () => {
    const fast = trainLinearProbe(trainX, trainY, dims, REFRESH_PROBE_OPTIONS);
    expect(fast.converged).toBe(true);
    expect(fast.iterations).toBeLessThan(probe.iterations);
    const a = probeProbabilities(fast, testX);
    let maxError = 0;
    for (let i = 0; i < a.length; i++)
      maxError = Math.max(maxError, Math.abs(a[i] - fixture.linear.probabilities[i]));
    expect(maxError).toBeLessThan(5e-3);
    const K = fast.classes.length;
    const predicted = Array.from({ length: testY.length }, (_, i) => {
      let best = 0;
      for (let c = 1; c < K; c++) if (a[i * K + c] > a[i * K + best]) best = c;
      return fast.classes[best];
    });
    expect(predicted).toEqual(fixture.linear.predicted);
    // Fully converged in float32 SIMD, the probe is as close to scikit-learn's as the float64 one.
    const tight = probeProbabilities(trainLinearProbe(trainX, trainY, dims, { simd: true }), testX);
    let tightError = 0;
    for (let i = 0; i < tight.length; i++)
      tightError = Math.max(tightError, Math.abs(tight[i] - fixture.linear.probabilities[i]));
    expect(tightError).toBeLessThan(5e-4);
  });

  it('evaluate(linear) reports scikit-learn metrics', () => {
    const report = evaluate(trainX, trainY, testX, testY, dims, { protocol: 'linear' });
    expect(report.accuracy).toBeCloseTo(fixture.linear.accuracy, 10);
    expect(report.weightedF1).toBeCloseTo(fixture.linear.weightedF1, 10);
    expect(report.macroF1).toBeCloseTo(fixture.linear.macroF1, 10);
    expect(report.balancedAccuracy).toBeCloseTo(fixture.linear.balancedAccuracy, 10);
    expect(report.confusion.flat().reduce((a, b) => a + b, 0)).toBe(testY.length);
  });
});

describe('kNN classifier vs scikit-learn KNeighborsClassifier (cosine, uniform)', () => {
  it.each([1, 20])('k = %i gives the same predictions', (k) => {
    const reference = k === 1 ? fixture.knn1 : fixture.knn20;
    const result = knnClassify(trainX, trainY, testX, dims, { k, weighting: 'uniform' });
    const agree = Array.from(result.predicted).filter((c, i) => c === reference.predicted[i]).length;
    // Exact agreement expected; a vote tie broken differently would be the only allowed difference.
    expect(agree).toBeGreaterThanOrEqual(testY.length - 1);
    expect(classificationReport(testY, result.predicted).accuracy).toBeCloseTo(reference.accuracy, 1);
  });

  it('k = 20 metrics match through evaluate()', () => {
    const report = evaluate(trainX, trainY, testX, testY, dims, {
      protocol: 'knn',
      k: 20,
      knn: { weighting: 'uniform' },
    });
    expect(report.weightedF1).toBeCloseTo(fixture.knn20.weightedF1, 6);
    expect(report.balancedAccuracy).toBeCloseTo(fixture.knn20.balancedAccuracy, 6);
  });

  it('exp-weighted probabilities are a distribution with margin = top1 - top2', () => {
    const result = knnClassify(trainX, trainY, testX, dims, { k: 20 });
    for (let i = 0; i < testY.length; i++) {
      expect(result.probability[i]).toBeGreaterThan(0);
      expect(result.probability[i]).toBeLessThanOrEqual(1 + 1e-6);
      expect(result.margin[i]).toBeGreaterThanOrEqual(0);
      expect(result.margin[i]).toBeLessThanOrEqual(result.probability[i] + 1e-6);
    }
  });
});
