import { instantiateDotKernel, KERNEL_STRIDE_ALIGN } from '../search/dot-kernel';

/**
 * Linear probe: multinomial softmax regression with L2, on standardised inputs, as in RedDino's evaluation
 * (scikit-learn LogisticRegression, lbfgs, multinomial). Objective in scikit-learn's convention:
 *   C * sum_i logloss_i + 0.5 * ||W||^2   (intercepts not penalised), with C = dims * classes / 100 by default.
 * Trained with L-BFGS in float64, fully deterministic (no random init, fixed iteration order), so the same labels
 * always give the same model and the same predictions.
 */

export interface LinearProbe {
  dims: number;
  /** Class id of each output row (sorted ascending, as scikit-learn orders classes_). */
  classes: Int32Array;
  /** classes x dims, applied to raw (unstandardised) inputs: standardisation is folded in. */
  weights: Float32Array;
  bias: Float32Array;
  /** Objective value and L-BFGS iterations, for diagnostics. */
  loss: number;
  iterations: number;
  converged: boolean;
}

/**
 * Training options of the background prediction refresh. Tolerance 1e-4 (largest gradient component relative to
 * the loss): warm-started after a few label changes, L-BFGS reaches it in about a third of the iterations that the
 * default 1e-7 (kept for evaluation and the scikit-learn parity) needs. `simd`: the objective in float32 wasm SIMD
 * (about 10x faster than the float64 loops). bench/learn-refresh.ts reports how many of 1M cells change class
 * against a probe trained to full convergence in float64.
 */
export const REFRESH_PROBE_OPTIONS = { tolerance: 1e-4, simd: true } as const;

export interface LinearProbeOptions {
  /** Inverse regularisation strength (scikit-learn's C). Default dims * classes / 100. */
  C?: number;
  maxIterations?: number;
  /** Stop when the largest gradient component is below tol * max(1, |loss|). */
  tolerance?: number;
  /**
   * Evaluate the objective in float32 with the wasm SIMD dot kernel (search/dot-kernel.ts) instead of float64
   * loops: ~10x faster, gradients accurate to ~1e-6 relative, so use it with a tolerance of 1e-5 or looser (the
   * prediction refresh); L-BFGS itself stays float64. Default false.
   */
  simd?: boolean;
  /** Standardise inputs with the training mean and std (default true). */
  standardize?: boolean;
  /**
   * A previous probe to start from (warm start). After a few label changes the optimum moves little, so
   * L-BFGS converges in a fraction of the cold-start iterations; the result is the same optimum (the objective is
   * strictly convex), so determinism is kept up to the tolerance. Classes are matched by id; new ones start at 0.
   */
  initial?: LinearProbe;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

/**
 * Trains on n rows of x (n x dims, row-major) with labels y (class ids; -1 rows are skipped).
 * Needs at least one labeled row; with a single class the probe predicts it with probability 1.
 */
export function trainLinearProbe(
  x: Float32Array,
  y: Int32Array,
  dims: number,
  options: LinearProbeOptions = {},
): LinearProbe {
  const rowsAll = y.length;
  if (x.length !== rowsAll * dims)
    throw new Error(`trainLinearProbe: x has ${x.length} values for ${rowsAll}x${dims}`);
  const rows: number[] = [];
  for (let i = 0; i < rowsAll; i++) if (y[i] >= 0) rows.push(i);
  if (rows.length === 0) throw new Error('trainLinearProbe: no labeled rows');
  const classes = Int32Array.from(new Set(rows.map((i) => y[i]))).sort();
  const K = classes.length;
  const n = rows.length;
  const D = dims;
  if (K === 1) {
    return {
      dims,
      classes,
      weights: new Float32Array(D),
      bias: Float32Array.of(0),
      loss: 0,
      iterations: 0,
      converged: true,
    };
  }
  const classIndex = new Map<number, number>();
  classes.forEach((c, i) => classIndex.set(c, i));
  const target = Int32Array.from(rows, (i) => classIndex.get(y[i])!);

  const mean = new Float64Array(D);
  const std = new Float64Array(D).fill(1);
  if (options.standardize ?? true) {
    for (const i of rows) for (let j = 0; j < D; j++) mean[j] += x[i * D + j];
    for (let j = 0; j < D; j++) mean[j] /= n;
    const variance = new Float64Array(D);
    for (const i of rows) {
      for (let j = 0; j < D; j++) {
        const v = x[i * D + j] - mean[j];
        variance[j] += v * v;
      }
    }
    // Population std as StandardScaler; constant columns keep scale 1.
    for (let j = 0; j < D; j++) std[j] = variance[j] > 0 ? Math.sqrt(variance[j] / n) : 1;
  }
  const z = new Float64Array(n * D);
  rows.forEach((i, r) => {
    for (let j = 0; j < D; j++) z[r * D + j] = (x[i * D + j] - mean[j]) / std[j];
  });

  const C = options.C ?? (D * K) / 100;
  const P = K * D + K; // weights then intercepts
  const logits = new Float64Array(K);

  // Per-row class coefficients d = C * (softmax - onehot), reused by the gradient pass.
  const coef = new Float64Array(n * K);
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    // Pass 1: logits and softmax, row by row (the K x D weights stay in cache). Dots unrolled by 4 with
    // independent accumulators: V8 emits scalar code, and the unrolling roughly halves the time of the two passes.
    for (let r = 0; r < n; r++) {
      const row = r * D;
      let max = -Infinity;
      for (let c = 0; c < K; c++) {
        const w = c * D;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let j = 0;
        for (; j + 3 < D; j += 4) {
          s0 += theta[w + j] * z[row + j];
          s1 += theta[w + j + 1] * z[row + j + 1];
          s2 += theta[w + j + 2] * z[row + j + 2];
          s3 += theta[w + j + 3] * z[row + j + 3];
        }
        for (; j < D; j++) s0 += theta[w + j] * z[row + j];
        const s = theta[K * D + c] + (s0 + s1 + (s2 + s3));
        logits[c] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let c = 0; c < K; c++) {
        logits[c] = Math.exp(logits[c] - max);
        sum += logits[c];
      }
      const t = target[r];
      loss += Math.log(sum) - Math.log(logits[t]);
      for (let c = 0; c < K; c++) coef[r * K + c] = C * (logits[c] / sum - (c === t ? 1 : 0));
    }
    // Pass 2: grad_c = sum_r d_rc z_r, one class at a time so each gradient row stays in registers/cache.
    for (let c = 0; c < K; c++) {
      const w = c * D;
      let gb = 0;
      for (let r = 0; r < n; r++) {
        const d = coef[r * K + c];
        if (d === 0) continue;
        gb += d;
        const row = r * D;
        let j = 0;
        for (; j + 3 < D; j += 4) {
          grad[w + j] += d * z[row + j];
          grad[w + j + 1] += d * z[row + j + 1];
          grad[w + j + 2] += d * z[row + j + 2];
          grad[w + j + 3] += d * z[row + j + 3];
        }
        for (; j < D; j++) grad[w + j] += d * z[row + j];
      }
      grad[K * D + c] = gb;
    }
    let penalty = 0;
    for (let p = 0; p < K * D; p++) {
      penalty += theta[p] * theta[p];
      grad[p] += theta[p];
    }
    return C * loss + 0.5 * penalty;
  };

  const theta0 = new Float64Array(P);
  const initial = options.initial;
  if (initial && initial.dims === D) {
    initial.classes.forEach((c, from) => {
      const to = classIndex.get(c);
      if (to === undefined) return;
      // Raw-space w, b to standardised space: w_std = w * std, b_std = b + w . mean.
      let b = initial.bias[from];
      for (let j = 0; j < D; j++) {
        const w = initial.weights[from * D + j];
        theta0[to * D + j] = w * std[j];
        b += w * mean[j];
      }
      theta0[K * D + to] = b;
    });
  }
  const result = lbfgs(options.simd ? simdObjective(z, target, n, D, K, C) : objective, theta0, {
    maxIterations: options.maxIterations ?? 1000,
    tolerance: options.tolerance ?? 1e-7,
    signal: options.signal,
    onProgress: options.onProgress,
  });

  const theta = result.x;
  const weights = new Float32Array(K * D);
  const bias = new Float32Array(K);
  for (let c = 0; c < K; c++) {
    let b = theta[K * D + c];
    for (let j = 0; j < D; j++) {
      const w = theta[c * D + j] / std[j];
      weights[c * D + j] = w;
      b -= w * mean[j];
    }
    bias[c] = b;
  }
  return {
    dims,
    classes,
    weights,
    bias,
    loss: result.f,
    iterations: result.iterations,
    converged: result.converged,
  };
}

/**
 * The same objective as trainLinearProbe's, with both matrix products on the wasm SIMD kernel in float32:
 * logits = Z W^T as K kernel calls (a class row against all n rows), gradient = coef^T Z as K calls against the
 * transposed Z (a coefficient column against D rows of n). Softmax, loss, bias gradient and penalty stay float64.
 */
function simdObjective(
  z: Float64Array,
  target: Int32Array,
  n: number,
  D: number,
  K: number,
  C: number,
): (theta: Float64Array, grad: Float64Array) => number {
  const sD = Math.ceil(D / KERNEL_STRIDE_ALIGN) * KERNEL_STRIDE_ALIGN;
  const sN = Math.ceil(n / KERNEL_STRIDE_ALIGN) * KERNEL_STRIDE_ALIGN;
  // Float offsets of the areas.
  const zRows = 0;
  const zT = zRows + n * sD;
  const wRows = zT + D * sN;
  const logitsT = wRows + K * sD;
  const coefT = logitsT + K * sN;
  const gradRows = coefT + K * sN;
  const total = gradRows + K * sD;
  const pages = Math.ceil((total * 4) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const kernel = instantiateDotKernel(memory);
  const f = new Float32Array(memory.buffer);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < D; j++) {
      const v = z[r * D + j];
      f[zRows + r * sD + j] = v;
      f[zT + j * sN + r] = v;
    }
  }
  const p = new Float64Array(K);
  return (theta, grad) => {
    for (let c = 0; c < K; c++) for (let j = 0; j < D; j++) f[wRows + c * sD + j] = theta[c * D + j];
    for (let c = 0; c < K; c++) kernel.dotF32((wRows + c * sD) * 4, zRows * 4, n, sD, (logitsT + c * sN) * 4);
    let loss = 0;
    const biasGrad = new Float64Array(K);
    for (let r = 0; r < n; r++) {
      let max = -Infinity;
      for (let c = 0; c < K; c++) {
        const s = f[logitsT + c * sN + r] + theta[K * D + c];
        p[c] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let c = 0; c < K; c++) {
        p[c] = Math.exp(p[c] - max);
        sum += p[c];
      }
      const t = target[r];
      loss += Math.log(sum) - Math.log(p[t]);
      for (let c = 0; c < K; c++) {
        const d = C * (p[c] / sum - (c === t ? 1 : 0));
        f[coefT + c * sN + r] = d;
        biasGrad[c] += d;
      }
    }
    for (let c = 0; c < K; c++) kernel.dotF32((coefT + c * sN) * 4, zT * 4, D, sN, (gradRows + c * sD) * 4);
    let penalty = 0;
    for (let c = 0; c < K; c++) {
      for (let j = 0; j < D; j++) {
        const w = theta[c * D + j];
        penalty += w * w;
        grad[c * D + j] = f[gradRows + c * sD + j] + w;
      }
      grad[K * D + c] = biasGrad[c];
    }
    return C * loss + 0.5 * penalty;
  };
}

/** Class probabilities of each row (n x classes, row-major, columns in probe.classes order). */
export function probeProbabilities(probe: LinearProbe, x: Float32Array): Float32Array {
  const D = probe.dims;
  const K = probe.classes.length;
  const n = x.length / D;
  const out = new Float32Array(n * K);
  const logits = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < K; c++) {
      let s = probe.bias[c];
      for (let j = 0; j < D; j++) s += probe.weights[c * D + j] * x[i * D + j];
      logits[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < K; c++) sum += logits[c] = Math.exp(logits[c] - max);
    for (let c = 0; c < K; c++) out[i * K + c] = logits[c] / sum;
  }
  return out;
}

interface LbfgsOptions {
  maxIterations: number;
  tolerance: number;
  history?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

/** Limited-memory BFGS with a backtracking (Armijo) line search. */
export function lbfgs(
  fg: (x: Float64Array, grad: Float64Array) => number,
  x0: Float64Array,
  options: LbfgsOptions,
): { x: Float64Array; f: number; iterations: number; converged: boolean } {
  const P = x0.length;
  const m = options.history ?? 10;
  let x = Float64Array.from(x0);
  let g = new Float64Array(P);
  let f = fg(x, g);
  const sList: Float64Array[] = [];
  const yList: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const direction = new Float64Array(P);
  const xNew = new Float64Array(P);
  const gNew = new Float64Array(P);
  const dot = (a: Float64Array, b: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < P; i++) s += a[i] * b[i];
    return s;
  };
  const maxAbs = (a: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < P; i++) s = Math.max(s, Math.abs(a[i]));
    return s;
  };
  let iterations = 0;
  let converged = maxAbs(g) <= options.tolerance * Math.max(1, Math.abs(f));
  while (!converged && iterations < options.maxIterations) {
    options.signal?.throwIfAborted();
    iterations++;
    // Two-loop recursion: direction = -H g.
    for (let i = 0; i < P; i++) direction[i] = -g[i];
    const h = sList.length;
    for (let j = h - 1; j >= 0; j--) {
      alpha[j] = rho[j] * dot(sList[j], direction);
      const yj = yList[j];
      for (let i = 0; i < P; i++) direction[i] -= alpha[j] * yj[i];
    }
    if (h > 0) {
      const gamma = dot(sList[h - 1], yList[h - 1]) / dot(yList[h - 1], yList[h - 1]);
      for (let i = 0; i < P; i++) direction[i] *= gamma;
    } else {
      const scale = 1 / Math.max(1, Math.sqrt(dot(g, g)));
      for (let i = 0; i < P; i++) direction[i] *= scale;
    }
    for (let j = 0; j < h; j++) {
      const beta = rho[j] * dot(yList[j], direction);
      const sj = sList[j];
      for (let i = 0; i < P; i++) direction[i] += (alpha[j] - beta) * sj[i];
    }
    let slope = dot(g, direction);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      sList.length = yList.length = rho.length = 0;
      for (let i = 0; i < P; i++) direction[i] = -g[i] / Math.max(1, Math.sqrt(dot(g, g)));
      slope = dot(g, direction);
    }
    let step = 1;
    let fNew = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < P; i++) xNew[i] = x[i] + step * direction[i];
      fNew = fg(xNew, gNew);
      if (fNew <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNew < f) && !(fNew <= f + 1e-4 * step * slope)) break;
    const s = new Float64Array(P);
    const yv = new Float64Array(P);
    for (let i = 0; i < P; i++) {
      s[i] = xNew[i] - x[i];
      yv[i] = gNew[i] - g[i];
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      if (sList.length === m) {
        sList.shift();
        yList.shift();
        rho.shift();
      }
      sList.push(s);
      yList.push(yv);
      rho.push(1 / sy);
    }
    const fPrev = f;
    [x, g] = [Float64Array.from(xNew), Float64Array.from(gNew)];
    f = fNew;
    converged =
      maxAbs(g) <= options.tolerance * Math.max(1, Math.abs(f)) ||
      Math.abs(fPrev - f) <= 1e-13 * Math.max(1, Math.abs(f));
    if (iterations % 10 === 0) options.onProgress?.(iterations, options.maxIterations, 'linear probe');
  }
  return { x, f, iterations, converged };
}
