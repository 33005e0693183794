import { seededGaussian, seededRandom, sampleIndices } from './random';

/**
 * Principal component analysis on row-major Float32 matrices (n rows x dims), sized for a million 384-d cells.
 *
 * The axes come from the covariance of a row sample (sample size shrinks as dims^2 grows, so fitting costs about
 * the same ~1.5e8 multiply-adds for 384 or 1024 dims); projecting all rows is one pass of n x dims x components.
 * Leading axes of a covariance are stable long before every row is seen, which is what makes 1M rows take
 * seconds, not minutes.
 */
export interface PcaBasis {
  dims: number;
  components: number;
  /** Mean of the (optionally L2-normalised) sample rows, length dims. */
  mean: Float32Array;
  /** components x dims, row-major, orthonormal rows, sorted by decreasing variance. */
  axes: Float32Array;
  /** Variance along each axis, length components. */
  variances: Float64Array;
  /** Rows are scaled to unit length before centring (cosine geometry). */
  normalizeRows: boolean;
}

export interface PcaOptions {
  seed?: number;
  /** Rows used to estimate the covariance; default scales with 1/dims^2 (2k rows at 384 dims, never below 2k). */
  sampleSize?: number;
  normalizeRows?: boolean;
}

const COVARIANCE_BUDGET = 3e8;

function rowScale(vectors: Float32Array, offset: number, dims: number, normalize: boolean): number {
  if (!normalize) return 1;
  let sum = 0;
  for (let j = 0; j < dims; j++) sum += vectors[offset + j] * vectors[offset + j];
  return sum > 0 ? 1 / Math.sqrt(sum) : 0;
}

/** Orthonormalises the `count` rows of `basis` (each `dims` long) in place; modified Gram-Schmidt, applied twice. */
function orthonormalizeRows(basis: Float64Array, count: number, dims: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let r = 0; r < count; r++) {
      const ro = r * dims;
      for (let p = 0; p < r; p++) {
        const po = p * dims;
        let dot = 0;
        for (let j = 0; j < dims; j++) dot += basis[ro + j] * basis[po + j];
        for (let j = 0; j < dims; j++) basis[ro + j] -= dot * basis[po + j];
      }
      let norm = 0;
      for (let j = 0; j < dims; j++) norm += basis[ro + j] * basis[ro + j];
      norm = Math.sqrt(norm) || 1;
      for (let j = 0; j < dims; j++) basis[ro + j] /= norm;
    }
  }
}

/** Eigen-decomposition of a small symmetric matrix (cyclic Jacobi); returns eigenvalues and column eigenvectors. */
function symmetricEigen(matrix: Float64Array, size: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(size * size);
  for (let i = 0; i < size; i++) v[i * size + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < size; p++) for (let q = p + 1; q < size; q++) off += a[p * size + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < size; p++) {
      for (let q = p + 1; q < size; q++) {
        const apq = a[p * size + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * size + q] - a[p * size + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < size; k++) {
          const akp = a[k * size + p];
          const akq = a[k * size + q];
          a[k * size + p] = c * akp - s * akq;
          a[k * size + q] = s * akp + c * akq;
        }
        for (let k = 0; k < size; k++) {
          const apk = a[p * size + k];
          const aqk = a[q * size + k];
          a[p * size + k] = c * apk - s * aqk;
          a[q * size + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < size; k++) {
          const vkp = v[k * size + p];
          const vkq = v[k * size + q];
          v[k * size + p] = c * vkp - s * vkq;
          v[k * size + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(size);
  for (let i = 0; i < size; i++) values[i] = a[i * size + i];
  return { values, vectors: v };
}

/** Fits the leading `components` principal axes. Deterministic for a seed. */
export function fitPca(
  vectors: Float32Array,
  n: number,
  dims: number,
  components: number,
  options: PcaOptions = {},
): PcaBasis {
  if (vectors.length < n * dims)
    throw new Error(`fitPca: expected ${n * dims} values, got ${vectors.length}`);
  if (n < 1) throw new Error('fitPca: no rows');
  const seed = options.seed ?? 42;
  const normalize = options.normalizeRows ?? false;
  const count = Math.min(components, dims);
  const defaultSample = Math.max(2000, Math.floor(COVARIANCE_BUDGET / (dims * dims)));
  const rows = sampleIndices(n, Math.min(n, options.sampleSize ?? defaultSample), seed);
  const m = rows.length;

  const mean = new Float64Array(dims);
  for (let r = 0; r < m; r++) {
    const offset = rows[r] * dims;
    const scale = rowScale(vectors, offset, dims, normalize);
    for (let j = 0; j < dims; j++) mean[j] += vectors[offset + j] * scale;
  }
  for (let j = 0; j < dims; j++) mean[j] /= m;

  // Upper triangle of the scatter matrix; the centred row is staged in float64 so the inner loop is a plain axpy.
  const cov = new Float64Array(dims * dims);
  const row = new Float64Array(dims);
  for (let r = 0; r < m; r++) {
    const offset = rows[r] * dims;
    const scale = rowScale(vectors, offset, dims, normalize);
    for (let j = 0; j < dims; j++) row[j] = vectors[offset + j] * scale - mean[j];
    for (let i = 0; i < dims; i++) {
      const xi = row[i];
      if (xi === 0) continue;
      const base = i * dims;
      for (let j = i; j < dims; j++) cov[base + j] += xi * row[j];
    }
  }
  for (let i = 0; i < dims; i++) {
    for (let j = i; j < dims; j++) {
      const value = cov[i * dims + j] / Math.max(1, m - 1);
      cov[i * dims + j] = value;
      cov[j * dims + i] = value;
    }
  }

  // Subspace iteration on the dims x dims covariance with a few extra vectors, then Rayleigh-Ritz.
  const block = Math.min(dims, count + 8);
  const gaussian = seededGaussian(seededRandom(seed ^ 0x9e3779b9));
  let basis = new Float64Array(block * dims);
  for (let i = 0; i < basis.length; i++) basis[i] = gaussian();
  orthonormalizeRows(basis, block, dims);
  const product = new Float64Array(block * dims);
  const iterations = block >= dims ? 1 : 40;
  for (let iteration = 0; iteration < iterations; iteration++) {
    product.fill(0);
    for (let b = 0; b < block; b++) {
      const bo = b * dims;
      for (let i = 0; i < dims; i++) {
        const ci = i * dims;
        let acc = 0;
        for (let j = 0; j < dims; j++) acc += cov[ci + j] * basis[bo + j];
        product[bo + i] = acc;
      }
    }
    basis = Float64Array.from(product);
    orthonormalizeRows(basis, block, dims);
  }
  const projected = new Float64Array(block * dims);
  for (let b = 0; b < block; b++) {
    const bo = b * dims;
    for (let i = 0; i < dims; i++) {
      const ci = i * dims;
      let acc = 0;
      for (let j = 0; j < dims; j++) acc += cov[ci + j] * basis[bo + j];
      projected[bo + i] = acc;
    }
  }
  const small = new Float64Array(block * block);
  for (let p = 0; p < block; p++) {
    for (let q = 0; q < block; q++) {
      let acc = 0;
      for (let j = 0; j < dims; j++) acc += basis[p * dims + j] * projected[q * dims + j];
      small[p * block + q] = acc;
    }
  }
  const eigen = symmetricEigen(small, block);
  const order = Array.from({ length: block }, (_, i) => i).sort((x, y) => eigen.values[y] - eigen.values[x]);

  const axes = new Float32Array(count * dims);
  const variances = new Float64Array(count);
  for (let c = 0; c < count; c++) {
    const column = order[c];
    variances[c] = Math.max(0, eigen.values[column]);
    let largest = 0;
    for (let j = 0; j < dims; j++) {
      let acc = 0;
      for (let p = 0; p < block; p++) acc += eigen.vectors[p * block + column] * basis[p * dims + j];
      axes[c * dims + j] = acc;
      if (Math.abs(acc) > Math.abs(largest)) largest = acc;
    }
    // Eigenvectors have no sign of their own; fixing it keeps maps from flipping between runs and versions.
    if (largest < 0) for (let j = 0; j < dims; j++) axes[c * dims + j] = -axes[c * dims + j];
  }
  return {
    dims,
    components: count,
    mean: Float32Array.from(mean),
    axes,
    variances,
    normalizeRows: normalize,
  };
}

/**
 * Coordinates of rows [rowStart, rowStart + count) of `vectors` on the basis axes, written to `out`
 * (count x components). Four axes per pass so each loaded input value feeds four multiply-adds.
 */
export function projectPca(
  basis: PcaBasis,
  vectors: Float32Array,
  rowStart: number,
  count: number,
  out: Float32Array = new Float32Array(count * basis.components),
): Float32Array {
  const { dims, components, axes, mean } = basis;
  let meanDot = new Float64Array(components);
  meanDot = meanDot.map((_, c) => {
    let acc = 0;
    for (let j = 0; j < dims; j++) acc += axes[c * dims + j] * mean[j];
    return acc;
  });
  for (let r = 0; r < count; r++) {
    const offset = (rowStart + r) * dims;
    const scale = rowScale(vectors, offset, dims, basis.normalizeRows);
    const o = r * components;
    let c = 0;
    for (; c + 3 < components; c += 4) {
      const a0 = c * dims;
      const a1 = a0 + dims;
      const a2 = a1 + dims;
      const a3 = a2 + dims;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = 0; j < dims; j++) {
        const x = vectors[offset + j];
        s0 += x * axes[a0 + j];
        s1 += x * axes[a1 + j];
        s2 += x * axes[a2 + j];
        s3 += x * axes[a3 + j];
      }
      out[o + c] = s0 * scale - meanDot[c];
      out[o + c + 1] = s1 * scale - meanDot[c + 1];
      out[o + c + 2] = s2 * scale - meanDot[c + 2];
      out[o + c + 3] = s3 * scale - meanDot[c + 3];
    }
    for (; c < components; c++) {
      const a0 = c * dims;
      let s0 = 0;
      for (let j = 0; j < dims; j++) s0 += vectors[offset + j] * axes[a0 + j];
      out[o + c] = s0 * scale - meanDot[c];
    }
  }
  return out;
}

/**
 * 2-D PCA map of n rows (n x 2 result, row-major). Immediate: ~1.5e8 multiply-adds to fit plus 2 per input value
 * to project, so a first map of a million cells shows in seconds while UMAP runs.
 */
export function pca2d(
  vectors: Float32Array,
  n: number,
  dims: number,
  options: PcaOptions = {},
): Float32Array {
  const basis = fitPca(vectors, n, dims, 2, options);
  const out = projectPca(basis, vectors, 0, n);
  if (basis.components === 2) return out;
  // dims === 1: second coordinate stays 0.
  const padded = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) padded[i * 2] = out[i];
  return padded;
}
