/**
 * Outline geometry of a cell mask: boundary trace, convex hull, Feret diameters and the centroid-distance
 * signature with its Fourier spectrum (crenation of echinocytes shows as high-frequency energy).
 */

import { scratchI32 } from './image';

/** Samples of the centroid-distance signature, equally spaced along the outline. */
export const SIGNATURE_SAMPLES = 64;
/** Low harmonics reported one by one (ellipticity, triangularity, teardrop asymmetry...). */
export const LOW_HARMONICS = 8;

// Moore neighbourhood, clockwise on screen (y down), starting west.
const DX = [-1, -1, 0, 1, 1, 1, 0, -1];
const DY = [0, -1, -1, -1, 0, 1, 1, 1];
// Direction index of an offset, keyed by (dy + 1) * 3 + (dx + 1).
const DIR_OF = [1, 2, 3, 0, -1, 4, 7, 6, 5];

export interface Outline {
  /** Boundary pixel coordinates in order, closed implicitly. */
  xs: Int32Array;
  ys: Int32Array;
  length: number;
  /** Perimeter from the chain code with Vossepoel-Smeulders weights for straight and diagonal steps. */
  perimeter: number;
}

/**
 * Traces the outer boundary of the first (raster order) component of the mask. The coordinates live in
 * scratch buffers (see image.ts): valid until the next resetScratch().
 */
export function traceOutline(mask: Uint8Array, W: number, H: number): Outline {
  let start = -1;
  for (let i = 0; i < W * H; i++) {
    if (mask[i]) {
      start = i;
      break;
    }
  }
  if (start < 0) return { xs: new Int32Array(0), ys: new Int32Array(0), length: 0, perimeter: 0 };
  const limit = 4 * W * H + 8;
  const xs = scratchI32(limit + 1, false);
  const ys = scratchI32(limit + 1, false);
  let length = 0;
  const sx = start % W;
  const sy = (start - sx) / W;

  let px = sx;
  let py = sy;
  let back = 0; // the west neighbour of the first raster pixel is background
  let straight = 0;
  let diagonal = 0;
  let firstMove = -1;
  xs[length] = sx;
  ys[length++] = sy;
  for (let step = 0; step < limit; step++) {
    let moved = -1;
    for (let k = 1; k <= 8; k++) {
      const d = (back + k) & 7;
      const x = px + DX[d];
      const y = py + DY[d];
      if (x >= 0 && y >= 0 && x < W && y < H && mask[y * W + x] === 1) {
        moved = d;
        break;
      }
    }
    if (moved < 0) break; // isolated pixel
    if (px === sx && py === sy) {
      if (firstMove < 0) firstMove = moved;
      else if (moved === firstMove) break;
    }
    const prev = (moved + 7) & 7;
    const bx = px + DX[prev];
    const by = py + DY[prev];
    px += DX[moved];
    py += DY[moved];
    back = DIR_OF[(by - py + 1) * 3 + (bx - px + 1)];
    if (DX[moved] !== 0 && DY[moved] !== 0) diagonal++;
    else straight++;
    if (px === sx && py === sy) continue;
    xs[length] = px;
    ys[length++] = py;
  }
  return {
    xs: xs.subarray(0, length),
    ys: ys.subarray(0, length),
    length,
    perimeter: 0.948 * straight + 1.34 * diagonal,
  };
}

export interface Hull {
  xs: Float64Array;
  ys: Float64Array;
  length: number;
  area: number;
  perimeter: number;
}

/**
 * Convex hull of outline points (monotone chain). Only the leftmost and rightmost point of each row can be
 * a vertex, so the chain runs over those, already in (y, x) order: no sort.
 */
export function convexHull(outline: Outline): Hull {
  const n = outline.length;
  const { xs, ys } = outline;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let i = 0; i < n; i++) {
    if (ys[i] < yMin) yMin = ys[i];
    if (ys[i] > yMax) yMax = ys[i];
  }
  const rows = n > 0 ? yMax - yMin + 1 : 0;
  const left = scratchI32(rows, false);
  const right = scratchI32(rows, false);
  for (let r = 0; r < rows; r++) {
    left[r] = 0x7fffffff;
    right[r] = -1;
  }
  for (let i = 0; i < n; i++) {
    const r = ys[i] - yMin;
    if (xs[i] < left[r]) left[r] = xs[i];
    if (xs[i] > right[r]) right[r] = xs[i];
  }
  // Candidate points in (y, x) order: each row's left end, then its right end when distinct.
  const cx = scratchI32(2 * rows, false);
  const cy = scratchI32(2 * rows, false);
  let m0 = 0;
  for (let r = 0; r < rows; r++) {
    if (right[r] < 0) continue;
    cx[m0] = left[r];
    cy[m0++] = r + yMin;
    if (right[r] !== left[r]) {
      cx[m0] = right[r];
      cy[m0++] = r + yMin;
    }
  }
  if (hullX.length < 2 * m0 + 1) {
    hullX = new Float64Array(2 * (2 * m0 + 1));
    hullY = new Float64Array(2 * (2 * m0 + 1));
  }
  const hx = hullX;
  const hy = hullY;
  let h = 0;
  for (let c = 0; c < m0; c++) h = pushHullPoint(hx, hy, h, 2, cx[c], cy[c]);
  const lowerLen = h + 1;
  for (let c = m0 - 2; c >= 0; c--) h = pushHullPoint(hx, hy, h, lowerLen, cx[c], cy[c]);
  if (h > 1) h--;
  const m = h;
  let area = 0;
  let perimeter = 0;
  for (let i = 0; i < m; i++) {
    const j = i + 1 === m ? 0 : i + 1;
    area += hx[i] * hy[j] - hx[j] * hy[i];
    const dx = hx[j] - hx[i];
    const dy = hy[j] - hy[i];
    perimeter += Math.sqrt(dx * dx + dy * dy);
  }
  return {
    xs: hx.subarray(0, m),
    ys: hy.subarray(0, m),
    length: m,
    area: Math.abs(area) / 2,
    perimeter,
  };
}

// Hull vertex buffers, reused from cell to cell (like the scratch pools): a hull is valid until the next call.
let hullX = new Float64Array(256);
let hullY = new Float64Array(256);

/** Monotone-chain step: drops vertices that do not turn left before (x, y), keeping `floor`; new length. */
function pushHullPoint(
  hx: Float64Array,
  hy: Float64Array,
  h: number,
  floor: number,
  x: number,
  y: number,
): number {
  while (h >= floor) {
    const ox = hx[h - 2];
    const oy = hy[h - 2];
    if ((hx[h - 1] - ox) * (y - oy) - (hy[h - 1] - oy) * (x - ox) > 0) break;
    h--;
  }
  hx[h] = x;
  hy[h] = y;
  return h + 1;
}

/** Area of the outline polygon through boundary pixel centres (comparable with the hull area). */
export function outlinePolygonArea(outline: Outline): number {
  const { xs, ys, length: n } = outline;
  let a = 0;
  for (let i = 0; i < n; i++) {
    const j = i + 1 === n ? 0 : i + 1;
    a += xs[i] * ys[j] - xs[j] * ys[i];
  }
  return Math.abs(a) / 2;
}

/** Largest and smallest caliper widths of the hull (Feret diameters), in pixels. */
export function feretDiameters(hull: Hull): { max: number; min: number } {
  const { xs, ys, length: m } = hull;
  if (m < 3) {
    let max = 0;
    for (let i = 0; i < m; i++)
      for (let j = i + 1; j < m; j++) max = Math.max(max, Math.hypot(xs[i] - xs[j], ys[i] - ys[j]));
    return { max: max + 1, min: 1 };
  }
  let max = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      const d = (xs[i] - xs[j]) ** 2 + (ys[i] - ys[j]) ** 2;
      if (d > max) max = d;
    }
  }
  let min = Infinity;
  for (let i = 0; i < m; i++) {
    const j = (i + 1) % m;
    const ex = xs[j] - xs[i];
    const ey = ys[j] - ys[i];
    const len = Math.hypot(ex, ey);
    if (len === 0) continue;
    let width = 0;
    for (let k = 0; k < m; k++) {
      const d = Math.abs((xs[k] - xs[i]) * ey - (ys[k] - ys[i]) * ex) / len;
      if (d > width) width = d;
    }
    if (width < min) min = width;
  }
  // +1: pixel centres to pixel edges.
  return { max: Math.sqrt(max) + 1, min: (Number.isFinite(min) ? min : 0) + 1 };
}

/** Harmonics computed one by one: the low ones reported and the 9-16 band; the rest by Parseval's theorem. */
const DIRECT_HARMONICS = 16;
/** Harmonics of the smooth trend that spicules stand out from. */
const TREND_HARMONICS = 5;
const COS = new Float64Array((DIRECT_HARMONICS + 1) * SIGNATURE_SAMPLES);
const SIN = new Float64Array((DIRECT_HARMONICS + 1) * SIGNATURE_SAMPLES);
for (let k = 0; k <= DIRECT_HARMONICS; k++) {
  for (let t = 0; t < SIGNATURE_SAMPLES; t++) {
    const a = (2 * Math.PI * k * t) / SIGNATURE_SAMPLES;
    COS[k * SIGNATURE_SAMPLES + t] = Math.cos(a);
    SIN[k * SIGNATURE_SAMPLES + t] = Math.sin(a);
  }
}

export interface RadiusSpectrum {
  /** Mean centroid distance, pixels. */
  meanRadius: number;
  /** Signature normalised by its mean. */
  signature: Float64Array;
  /** |harmonic k| / mean radius, k = 0..16 (the harmonics computed one by one). */
  magnitudes: Float64Array;
  /** Real and imaginary parts of the first harmonics (k < 5) of the signature, for the spicule trend. */
  re: Float64Array;
  im: Float64Array;
  /** Sums of squared magnitudes over harmonics 1..N/2, 9..16 and 17..N/2. */
  energyAll: number;
  energy9to16: number;
  energy17up: number;
}

// The spectrum's arrays are reused from cell to cell: a spectrum is valid until the next call.
const SPECTRUM_SIGNATURE = new Float64Array(SIGNATURE_SAMPLES);
const SPECTRUM_MAGNITUDES = new Float64Array(DIRECT_HARMONICS + 1);
const SPECTRUM_RE = new Float64Array(TREND_HARMONICS);
const SPECTRUM_IM = new Float64Array(TREND_HARMONICS);
const DETRENDED = new Float64Array(SIGNATURE_SAMPLES);

/**
 * Centroid-distance signature sampled equally along the outline by arc length (works for non-star shapes,
 * where a ray from the centroid meets the outline twice) and its amplitude spectrum, which is invariant to
 * rotation and to where the trace started. Only harmonics 0..16 are computed term by term; the energy above
 * them follows from Parseval's theorem (total energy of the mean-removed signature minus the low harmonics),
 * which halves the transform.
 */
export function radiusSpectrum(outline: Outline, cx: number, cy: number): RadiusSpectrum {
  const N = SIGNATURE_SAMPLES;
  const { xs, ys, length: n } = outline;
  const signature = SPECTRUM_SIGNATURE;
  const magnitudes = SPECTRUM_MAGNITUDES;
  const re = SPECTRUM_RE;
  const im = SPECTRUM_IM;
  for (let h = 0; h <= DIRECT_HARMONICS; h++) magnitudes[h] = 0;
  for (let h = 0; h < TREND_HARMONICS; h++) {
    re[h] = 0;
    im[h] = 0;
  }
  if (n < 3) {
    signature.fill(1);
    return { meanRadius: 0, signature, magnitudes, re, im, energyAll: 0, energy9to16: 0, energy17up: 0 };
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += stepLength(xs, ys, i, n);
  let seg = 0;
  let segStart = 0;
  let segLen = stepLength(xs, ys, 0, n);
  let sum = 0;
  for (let t = 0; t < N; t++) {
    const s = (t / N) * total;
    while (seg < n - 1 && segStart + segLen <= s) {
      segStart += segLen;
      seg++;
      segLen = stepLength(xs, ys, seg, n);
    }
    const j = seg + 1 === n ? 0 : seg + 1;
    const f = segLen > 0 ? (s - segStart) / segLen : 0;
    const dx = xs[seg] + f * (xs[j] - xs[seg]) - cx;
    const dy = ys[seg] + f * (ys[j] - ys[seg]) - cy;
    const r = Math.sqrt(dx * dx + dy * dy);
    signature[t] = r;
    sum += r;
  }
  const meanRadius = sum / N;
  const inv = meanRadius > 0 ? 1 / meanRadius : 0;
  // Mean-removed sums for Parseval: centring first avoids cancellation against the large k = 0 term.
  let y0 = 0;
  let y2 = 0;
  let yHalf = 0;
  for (let t = 0; t < N; t++) {
    const v = signature[t] * inv;
    signature[t] = v;
    const y = v - 1;
    y0 += y;
    y2 += y * y;
    yHalf += t & 1 ? -y : y;
  }
  let lowEnergy = 0;
  let energy9to16 = 0;
  for (let k = 0; k <= DIRECT_HARMONICS; k++) {
    let a = 0;
    let b = 0;
    const row = k * N;
    for (let t = 0; t < N; t++) {
      a += signature[t] * COS[row + t];
      b -= signature[t] * SIN[row + t];
    }
    if (k < TREND_HARMONICS) {
      re[k] = a;
      im[k] = b;
    }
    const mag = (Math.sqrt(a * a + b * b) / N) * (k === 0 ? 1 : 2);
    magnitudes[k] = mag;
    if (k >= 1) lowEnergy += mag * mag;
    if (k >= 9) energy9to16 += mag * mag;
  }
  // sum over k = 1..N-1 of |Y_k|^2 is N sum y^2 - Y_0^2; harmonics k and N - k are equal, N/2 stands alone;
  // each magnitude is 2 |Y_k| / N.
  const below = (N * y2 - y0 * y0 - yHalf * yHalf) / 2; // k = 1..N/2-1
  const energyAll = (4 / (N * N)) * (below + yHalf * yHalf);
  return {
    meanRadius,
    signature,
    magnitudes,
    re,
    im,
    energyAll,
    energy9to16,
    energy17up: Math.max(0, energyAll - lowEnergy),
  };
}

/** Length of the outline step from point i to the next (closing the loop): 1 or sqrt 2 between neighbours. */
function stepLength(xs: Int32Array, ys: Int32Array, i: number, n: number): number {
  const j = i + 1 === n ? 0 : i + 1;
  const dx = xs[j] - xs[i];
  const dy = ys[j] - ys[i];
  if (dx >= -1 && dx <= 1 && dy >= -1 && dy <= 1)
    return dx !== 0 && dy !== 0 ? Math.SQRT2 : dx !== 0 || dy !== 0 ? 1 : 0;
  return Math.sqrt(dx * dx + dy * dy);
}

/**
 * Spicules: peaks of the signature above its smooth trend (harmonics 0..4), taller than a fraction of the
 * radius. Returns the count and the mean peak height relative to the radius.
 */
export function countSpicules(
  spectrum: RadiusSpectrum,
  minHeight: number,
): { count: number; meanHeight: number } {
  const N = SIGNATURE_SAMPLES;
  const sig = spectrum.signature;
  const detrended = DETRENDED;
  // Trend from the low harmonics, with phase.
  const { re, im } = spectrum;
  for (let t = 0; t < N; t++) {
    let trend = re[0] / N;
    for (let k = 1; k < TREND_HARMONICS; k++)
      trend += (2 / N) * (re[k] * COS[k * N + t] - im[k] * SIN[k * N + t]);
    detrended[t] = sig[t] - trend;
  }
  let count = 0;
  let heights = 0;
  for (let t = 0; t < N; t++) {
    const v = detrended[t];
    const a = detrended[(t + N - 1) % N];
    const b = detrended[(t + 1) % N];
    if (v > minHeight && v > a && v >= b) {
      count++;
      heights += v;
    }
  }
  return { count, meanHeight: count ? heights / count : 0 };
}
