/**
 * Outline geometry of a cell mask: boundary trace, convex hull, Feret diameters and the centroid-distance
 * signature with its Fourier spectrum (crenation of echinocytes shows as high-frequency energy).
 */

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

/** Traces the outer boundary of the first (raster order) component of the mask. */
export function traceOutline(mask: Uint8Array, W: number, H: number): Outline {
  let start = -1;
  for (let i = 0; i < W * H; i++) {
    if (mask[i]) {
      start = i;
      break;
    }
  }
  const xsList: number[] = [];
  const ysList: number[] = [];
  if (start < 0) return { xs: new Int32Array(0), ys: new Int32Array(0), length: 0, perimeter: 0 };
  const sx = start % W;
  const sy = (start - sx) / W;
  const fg = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < W && y < H && mask[y * W + x] === 1;

  let px = sx;
  let py = sy;
  let back = 0; // the west neighbour of the first raster pixel is background
  let straight = 0;
  let diagonal = 0;
  let firstMove = -1;
  xsList.push(sx);
  ysList.push(sy);
  const limit = 4 * W * H + 8;
  for (let step = 0; step < limit; step++) {
    let moved = -1;
    for (let k = 1; k <= 8; k++) {
      const d = (back + k) & 7;
      if (fg(px + DX[d], py + DY[d])) {
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
    xsList.push(px);
    ysList.push(py);
  }
  return {
    xs: Int32Array.from(xsList),
    ys: Int32Array.from(ysList),
    length: xsList.length,
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

/** Convex hull of outline points (monotone chain). */
export function convexHull(outline: Outline): Hull {
  const n = outline.length;
  const order = Array.from({ length: n }, (_, i) => i);
  const { xs, ys } = outline;
  order.sort((a, b) => xs[a] - xs[b] || ys[a] - ys[b]);
  const hx: number[] = [];
  const hy: number[] = [];
  const cross = (ox: number, oy: number, ax: number, ay: number, bx: number, by: number): number =>
    (ax - ox) * (by - oy) - (ay - oy) * (bx - ox);
  for (const i of order) {
    while (
      hx.length >= 2 &&
      cross(hx[hx.length - 2], hy[hy.length - 2], hx[hx.length - 1], hy[hy.length - 1], xs[i], ys[i]) <= 0
    ) {
      hx.pop();
      hy.pop();
    }
    hx.push(xs[i]);
    hy.push(ys[i]);
  }
  const lowerLen = hx.length + 1;
  for (let k = order.length - 2; k >= 0; k--) {
    const i = order[k];
    while (
      hx.length >= lowerLen &&
      cross(hx[hx.length - 2], hy[hy.length - 2], hx[hx.length - 1], hy[hy.length - 1], xs[i], ys[i]) <= 0
    ) {
      hx.pop();
      hy.pop();
    }
    hx.push(xs[i]);
    hy.push(ys[i]);
  }
  if (hx.length > 1) {
    hx.pop();
    hy.pop();
  }
  const m = hx.length;
  let area = 0;
  let perimeter = 0;
  for (let i = 0; i < m; i++) {
    const j = (i + 1) % m;
    area += hx[i] * hy[j] - hx[j] * hy[i];
    perimeter += Math.hypot(hx[j] - hx[i], hy[j] - hy[i]);
  }
  return {
    xs: Float64Array.from(hx),
    ys: Float64Array.from(hy),
    length: m,
    area: Math.abs(area) / 2,
    perimeter,
  };
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

const COS = new Float64Array(SIGNATURE_SAMPLES * SIGNATURE_SAMPLES);
const SIN = new Float64Array(SIGNATURE_SAMPLES * SIGNATURE_SAMPLES);
for (let k = 0; k < SIGNATURE_SAMPLES; k++) {
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
  /** |harmonic k| / mean radius, k = 0..SIGNATURE_SAMPLES/2. */
  magnitudes: Float64Array;
}

/**
 * Centroid-distance signature sampled equally along the outline by arc length (works for non-star shapes,
 * where a ray from the centroid meets the outline twice) and its amplitude spectrum, which is invariant to
 * rotation and to where the trace started.
 */
export function radiusSpectrum(outline: Outline, cx: number, cy: number): RadiusSpectrum {
  const N = SIGNATURE_SAMPLES;
  const { xs, ys, length: n } = outline;
  const signature = new Float64Array(N);
  const magnitudes = new Float64Array(N / 2 + 1);
  if (n < 3) return { meanRadius: 0, signature: signature.fill(1), magnitudes };
  const cum = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const j = i + 1 === n ? 0 : i + 1;
    cum[i + 1] = cum[i] + Math.hypot(xs[j] - xs[i], ys[j] - ys[i]);
  }
  const total = cum[n];
  let seg = 0;
  let sum = 0;
  for (let t = 0; t < N; t++) {
    const s = (t / N) * total;
    while (seg < n - 1 && cum[seg + 1] <= s) seg++;
    const j = seg + 1 === n ? 0 : seg + 1;
    const segLen = cum[seg + 1] - cum[seg];
    const f = segLen > 0 ? (s - cum[seg]) / segLen : 0;
    const x = xs[seg] + f * (xs[j] - xs[seg]);
    const y = ys[seg] + f * (ys[j] - ys[seg]);
    const r = Math.hypot(x - cx, y - cy);
    signature[t] = r;
    sum += r;
  }
  const meanRadius = sum / N;
  const inv = meanRadius > 0 ? 1 / meanRadius : 0;
  for (let t = 0; t < N; t++) signature[t] *= inv;
  for (let k = 0; k <= N / 2; k++) {
    let re = 0;
    let im = 0;
    const row = k * N;
    for (let t = 0; t < N; t++) {
      re += signature[t] * COS[row + t];
      im -= signature[t] * SIN[row + t];
    }
    magnitudes[k] = (Math.hypot(re, im) / N) * (k === 0 ? 1 : 2);
  }
  return { meanRadius, signature, magnitudes };
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
  const detrended = new Float64Array(N);
  // Trend from the low harmonics, recomputed with phase.
  const re = new Float64Array(5);
  const im = new Float64Array(5);
  for (let k = 0; k < 5; k++) {
    for (let t = 0; t < N; t++) {
      re[k] += sig[t] * COS[k * N + t];
      im[k] -= sig[t] * SIN[k * N + t];
    }
  }
  for (let t = 0; t < N; t++) {
    let trend = re[0] / N;
    for (let k = 1; k < 5; k++) trend += (2 / N) * (re[k] * COS[k * N + t] - im[k] * SIN[k * N + t]);
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
