import { describe, expect, it } from 'vitest';
import {
  findAbParams,
  fuzzyUnion,
  membershipStrengths,
  smoothKnnDistances,
} from '../../src/main/engine/map/fuzzy';

describe('fuzzy simplicial set', () => {
  it('fits the a, b curve parameters umap-learn derives for its defaults', () => {
    // umap-learn 0.5 find_ab_params(1.0, 0.1) -> (1.5769434603113077, 0.8950608779109733)
    const defaults = findAbParams(1, 0.1);
    expect(defaults.a).toBeCloseTo(1.577, 2);
    expect(defaults.b).toBeCloseTo(0.895, 2);
    // A larger minimum distance flattens the curve near zero: smaller a, larger b.
    const loose = findAbParams(1, 0.5);
    expect(loose.a).toBeLessThan(defaults.a);
    expect(loose.b).toBeGreaterThan(defaults.b);
  });

  it('smooth kNN distances make each row of memberships sum to log2(k)', () => {
    const k = 6;
    const count = 3;
    const distances = new Float32Array([
      0, 0.5, 0.7, 1.1, 1.3, 2, 0, 0.1, 0.1, 0.2, 0.9, 3, 0, 2, 2.5, 2.6, 4, 4.2,
    ]);
    const indices = new Int32Array([0, 1, 2, 3, 4, 5, 1, 0, 2, 3, 4, 5, 2, 0, 1, 3, 4, 5]);
    const { rhos, sigmas } = smoothKnnDistances(distances, count, k, true);
    expect(Array.from(rhos)).toEqual([0.5, Math.fround(0.1), 2]);
    const strengths = membershipStrengths(
      indices,
      distances,
      count,
      k,
      rhos,
      sigmas,
      new Int32Array([0, 1, 2]),
    );
    for (let i = 0; i < count; i++) {
      expect(strengths[i * k]).toBe(0);
      let sum = 0;
      for (let j = 1; j < k; j++) sum += strengths[i * k + j];
      expect(sum).toBeCloseTo(Math.log2(k), 3);
      expect(strengths[i * k + 1]).toBe(1);
    }
  });

  it('the union is symmetric with w = a + b - ab', () => {
    // 0 -> 1 (0.5), 1 -> 0 (0.4), 2 -> 1 (1), 1 -> 2 absent.
    const indices = new Int32Array([1, 0, 1]);
    const strengths = new Float32Array([0.5, 0.4, 1]);
    const graph = fuzzyUnion(indices, strengths, 3, 1);
    const weight = (i: number, j: number): number => {
      for (let e = graph.rowPtr[i]; e < graph.rowPtr[i + 1]; e++)
        if (graph.cols[e] === j) return graph.weights[e];
      return 0;
    };
    expect(weight(0, 1)).toBeCloseTo(0.5 + 0.4 - 0.2, 6);
    expect(weight(1, 0)).toBeCloseTo(0.7, 6);
    expect(weight(1, 2)).toBe(1);
    expect(weight(2, 1)).toBe(1);
    expect(weight(0, 2)).toBe(0);
    expect(graph.rowPtr[3]).toBe(4);
  });
});
