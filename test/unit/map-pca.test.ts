import { describe, expect, it } from 'vitest';
import { fitPca, pca2d, projectPca } from '../../src/main/engine/map/pca';
import { seededGaussian, seededRandom } from '../../src/main/engine/map/random';

/** Rows with planted variance 25 along axis `first` and 4 along axis `second`, 0.09 elsewhere, offset by 1. */
function plantedRows(n: number, dims: number, first: number, second: number, seed = 3): Float32Array {
  const gaussian = seededGaussian(seededRandom(seed));
  const rows = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    const a = gaussian() * 5;
    const b = gaussian() * 2;
    for (let j = 0; j < dims; j++) {
      rows[i * dims + j] = 1 + gaussian() * 0.3 + (j === first ? a : 0) + (j === second ? b : 0);
    }
  }
  return rows;
}

describe('pca', () => {
  it('recovers planted leading axes and their variances', () => {
    const dims = 96;
    const rows = plantedRows(6000, dims, 11, 40);
    const basis = fitPca(rows, 6000, dims, 2);
    expect(Math.abs(basis.axes[11])).toBeGreaterThan(0.99);
    expect(Math.abs(basis.axes[dims + 40])).toBeGreaterThan(0.99);
    expect(basis.variances[0]).toBeGreaterThan(20);
    expect(basis.variances[0]).toBeLessThan(30);
    expect(basis.variances[1]).toBeGreaterThan(3);
    expect(basis.variances[1]).toBeLessThan(5);
    let dot = 0;
    for (let j = 0; j < dims; j++) dot += basis.axes[j] * basis.axes[dims + j];
    expect(Math.abs(dot)).toBeLessThan(1e-5);
  });

  it('pca2d projects every row, centred, and is deterministic with a fixed sign', () => {
    const dims = 64;
    const n = 5000;
    const rows = plantedRows(n, dims, 5, 9);
    const first = pca2d(rows, n, dims, { seed: 1 });
    const second = pca2d(rows, n, dims, { seed: 1 });
    expect(first).toEqual(second);
    expect(first.length).toBe(n * 2);
    let mean = 0;
    let variance = 0;
    for (let i = 0; i < n; i++) mean += first[2 * i] / n;
    for (let i = 0; i < n; i++) variance += (first[2 * i] - mean) ** 2 / n;
    expect(Math.abs(mean)).toBeLessThan(0.5);
    expect(variance).toBeGreaterThan(20);
    // Another seed samples other rows, yet the axes (and their signs) agree.
    const reseeded = pca2d(rows, n, dims, { seed: 99 });
    let agreement = 0;
    for (let i = 0; i < n; i++) agreement += Math.sign(first[2 * i]) === Math.sign(reseeded[2 * i]) ? 1 : 0;
    expect(agreement / n).toBeGreaterThan(0.95);
  });

  it('normalised rows use cosine geometry, and single-dimension input pads a zero axis', () => {
    const rows = new Float32Array([1, 0, 2, 0, 0, 1, 0, 3]);
    const basis = fitPca(rows, 4, 2, 2, { normalizeRows: true });
    const projected = projectPca(basis, rows, 0, 4);
    expect(projected[0]).toBeCloseTo(projected[2], 5);
    expect(projected[4]).toBeCloseTo(projected[6], 5);
    const line = pca2d(new Float32Array([1, 2, 3, 4]), 4, 1);
    expect(Array.from(line.filter((_, i) => i % 2 === 1))).toEqual([0, 0, 0, 0]);
    expect(line[6] - line[0]).not.toBe(0);
  });
});
