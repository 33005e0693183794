/**
 * UMAP's fuzzy simplicial set on typed arrays: per-point smooth kNN distances (rho, sigma), membership strengths,
 * and the symmetric union w = a + b - ab as a CSR matrix. Follows umap-learn (smooth_knn_dist,
 * compute_membership_strengths, fuzzy_simplicial_set with set_op_mix_ratio = 1, local_connectivity = 1).
 */

export interface SparseGraph {
  n: number;
  /** n + 1 offsets into cols/weights. */
  rowPtr: Int32Array;
  cols: Int32Array;
  weights: Float32Array;
}

const SMOOTH_K_TOLERANCE = 1e-5;
const MIN_K_DIST_SCALE = 1e-3;

/**
 * rho (distance to the nearest non-identical neighbour) and sigma (scale so that the memberships of a row sum
 * to log2(k)) per row of a k-wide distance matrix. `skipFirst`: column 0 is the point itself.
 */
export function smoothKnnDistances(
  distances: Float32Array,
  count: number,
  k: number,
  skipFirst: boolean,
): { rhos: Float32Array; sigmas: Float32Array } {
  const rhos = new Float32Array(count);
  const sigmas = new Float32Array(count);
  const target = Math.log2(skipFirst ? k : k + 1);
  let meanAll = 0;
  let finite = 0;
  for (let i = 0; i < distances.length; i++) {
    if (Number.isFinite(distances[i])) {
      meanAll += distances[i];
      finite++;
    }
  }
  meanAll = finite > 0 ? meanAll / finite : 0;
  const first = skipFirst ? 1 : 0;
  for (let i = 0; i < count; i++) {
    const row = i * k;
    let rho = 0;
    let rowMean = 0;
    let rowCount = 0;
    for (let j = 0; j < k; j++) {
      const d = distances[row + j];
      if (!Number.isFinite(d)) continue;
      rowMean += d;
      rowCount++;
      if (rho === 0 && d > 0) rho = d;
    }
    rowMean = rowCount > 0 ? rowMean / rowCount : 0;
    rhos[i] = rho;
    let lo = 0;
    let hi = Infinity;
    let mid = 1;
    for (let iteration = 0; iteration < 64; iteration++) {
      let sum = 0;
      for (let j = first; j < k; j++) {
        const d = distances[row + j];
        if (!Number.isFinite(d)) continue;
        const excess = d - rho;
        sum += excess > 0 ? Math.exp(-excess / mid) : 1;
      }
      if (Math.abs(sum - target) < SMOOTH_K_TOLERANCE) break;
      if (sum > target) {
        hi = mid;
        mid = (lo + hi) / 2;
      } else {
        lo = mid;
        mid = hi === Infinity ? mid * 2 : (lo + hi) / 2;
      }
    }
    const floor = MIN_K_DIST_SCALE * (rho > 0 ? rowMean : meanAll);
    sigmas[i] = Math.max(mid, floor);
  }
  return { rhos, sigmas };
}

/** Membership strength of each kNN edge (count x k); 0 for the point itself and for missing neighbours. */
export function membershipStrengths(
  indices: Int32Array,
  distances: Float32Array,
  count: number,
  k: number,
  rhos: Float32Array,
  sigmas: Float32Array,
  selfIds: Int32Array | null,
): Float32Array {
  const strengths = new Float32Array(count * k);
  for (let i = 0; i < count; i++) {
    const self = selfIds ? selfIds[i] : -1;
    for (let j = 0; j < k; j++) {
      const e = i * k + j;
      const neighbour = indices[e];
      if (neighbour < 0 || neighbour === self) continue;
      const excess = distances[e] - rhos[i];
      strengths[e] = excess <= 0 || sigmas[i] === 0 ? 1 : Math.exp(-excess / sigmas[i]);
    }
  }
  return strengths;
}

/**
 * Symmetric fuzzy union of the directed kNN graph of n points: w_ij = a + b - ab with a = w(i->j), b = w(j->i).
 * Rows come out sorted by column.
 */
export function fuzzyUnion(indices: Int32Array, strengths: Float32Array, n: number, k: number): SparseGraph {
  const counts = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const e = i * k + j;
      if (strengths[e] <= 0) continue;
      counts[i + 1]++;
      counts[indices[e] + 1]++;
    }
  }
  for (let i = 0; i < n; i++) counts[i + 1] += counts[i];
  const total = counts[n];
  const fill = counts.slice(0, n);
  const cols = new Int32Array(total);
  const values = new Float32Array(total);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const e = i * k + j;
      const w = strengths[e];
      if (w <= 0) continue;
      const target = indices[e];
      cols[fill[i]] = target;
      values[fill[i]++] = w;
      cols[fill[target]] = i;
      values[fill[target]++] = w;
    }
  }

  // Sort each row by column (packed key: column, then position) and merge the two directions of each pair.
  const rowPtr = new Int32Array(n + 1);
  const outCols = new Int32Array(total);
  const outWeights = new Float32Array(total);
  const keys = new Float64Array(total);
  const POSITION_SPAN = 4194304;
  let written = 0;
  for (let i = 0; i < n; i++) {
    const start = counts[i];
    const end = counts[i + 1];
    const rowKeys = keys.subarray(start, end);
    for (let e = start; e < end; e++) rowKeys[e - start] = cols[e] * POSITION_SPAN + (e - start);
    rowKeys.sort();
    rowPtr[i] = written;
    let previous = -1;
    for (let r = 0; r < rowKeys.length; r++) {
      const position = start + (rowKeys[r] % POSITION_SPAN);
      const column = cols[position];
      const w = values[position];
      if (column === previous) {
        const a = outWeights[written - 1];
        outWeights[written - 1] = a + w - a * w;
      } else {
        outCols[written] = column;
        outWeights[written] = w;
        written++;
        previous = column;
      }
    }
  }
  rowPtr[n] = written;
  return { n, rowPtr, cols: outCols.slice(0, written), weights: outWeights.slice(0, written) };
}

/**
 * a and b of the low-dimensional similarity 1 / (1 + a d^(2b)), least-squares fitted (Levenberg-Marquardt) to
 * the offset exponential UMAP targets for `spread` and `minDist`, as umap-learn's find_ab_params does.
 */
export function findAbParams(spread: number, minDist: number): { a: number; b: number } {
  const samples = 300;
  const xs = new Float64Array(samples);
  const ys = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const x = (spread * 3 * i) / (samples - 1);
    xs[i] = x;
    ys[i] = x < minDist ? 1 : Math.exp(-(x - minDist) / spread);
  }
  const loss = (a: number, b: number): number => {
    let sum = 0;
    for (let i = 0; i < samples; i++) {
      const r = 1 / (1 + a * Math.pow(xs[i], 2 * b)) - ys[i];
      sum += r * r;
    }
    return sum;
  };
  let a = 1;
  let b = 1;
  let lambda = 1e-3;
  let current = loss(a, b);
  for (let iteration = 0; iteration < 500; iteration++) {
    let jaa = 0;
    let jab = 0;
    let jbb = 0;
    let ga = 0;
    let gb = 0;
    for (let i = 0; i < samples; i++) {
      const x = xs[i];
      if (x === 0) continue;
      const p = Math.pow(x, 2 * b);
      const denominator = 1 + a * p;
      const f = 1 / denominator;
      const r = f - ys[i];
      const da = -p / (denominator * denominator);
      const db = (-a * p * 2 * Math.log(x)) / (denominator * denominator);
      jaa += da * da;
      jab += da * db;
      jbb += db * db;
      ga += da * r;
      gb += db * r;
    }
    const maa = jaa * (1 + lambda);
    const mbb = jbb * (1 + lambda);
    const det = maa * mbb - jab * jab;
    if (det === 0) break;
    const stepA = -(mbb * ga - jab * gb) / det;
    const stepB = -(maa * gb - jab * ga) / det;
    const next = loss(a + stepA, b + stepB);
    if (next < current) {
      a += stepA;
      b += stepB;
      lambda = Math.max(lambda / 10, 1e-12);
      if (current - next < 1e-14 * Math.max(1, current)) {
        current = next;
        break;
      }
      current = next;
    } else {
      lambda *= 10;
      if (lambda > 1e12) break;
    }
  }
  return { a, b };
}
