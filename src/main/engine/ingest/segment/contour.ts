import type { Morphometrics } from './types';

// Unit steps along pixel edges: right, down, left, up (image y points down).
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];
// Pixel ahead-right / ahead-left of a corner for each heading, with the region kept on the right-hand side.
const AR_X = [0, -1, -1, 0];
const AR_Y = [0, 0, -1, -1];
const AL_X = [0, 0, -1, -1];
const AL_Y = [-1, 0, 0, -1];

export interface TracedBoundary {
  /** Pixel-corner polygon, one vertex per turn. */
  contour: Float32Array;
  /** Staircase-free length: smoothed path through the midpoints of the boundary's pixel edges. */
  perimeter: number;
  /** Perimeter of the convex hull of the same edge midpoints. */
  hullPerimeter: number;
}

/**
 * Outer crack boundary of the 8-connected region labels == id, starting at its first pixel in raster order
 * (startX, startY). Offsets ox, oy are added to the vertices (tile origin).
 */
export function traceBoundary(
  labels: Int32Array,
  width: number,
  height: number,
  id: number,
  startX: number,
  startY: number,
  ox = 0,
  oy = 0,
): TracedBoundary {
  const inside = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < width && y < height && labels[y * width + x] === id;
  const verts: number[] = [];
  const mids: number[] = [];
  const path: number[] = [];
  let cx = startX;
  let cy = startY;
  let d = 3;
  let steps = 0;
  const maxSteps = 4 * (width + 1) * (height + 1);
  for (;;) {
    let nd: number;
    if (inside(cx + AL_X[d], cy + AL_Y[d])) nd = (d + 3) & 3;
    else if (inside(cx + AR_X[d], cy + AR_Y[d])) nd = d;
    else nd = (d + 1) & 3;
    if (steps > 0 && cx === startX && cy === startY && nd === 0) break;
    if (nd !== d) {
      verts.push(cx + ox, cy + oy);
      mids.push(cx + 0.5 * DX[nd] + ox, cy + 0.5 * DY[nd] + oy);
      if (steps > 0) mids.push(cx - 0.5 * DX[d] + ox, cy - 0.5 * DY[d] + oy);
    }
    d = nd;
    path.push(cx + 0.5 * DX[d], cy + 0.5 * DY[d]);
    cx += DX[d];
    cy += DY[d];
    steps++;
    if (steps > maxSteps) throw new Error('traceBoundary: boundary does not close (label map changed?)');
  }
  mids.push(startX - 0.5 * DX[3] + ox, startY - 0.5 * DY[3] + oy);
  return {
    contour: Float32Array.from(verts),
    perimeter: smoothedLength(path),
    hullPerimeter: hullPerimeter(mids),
  };
}

/**
 * Length of the closed path through the pixel-edge midpoints after a 5-point circular moving average. The raw
 * staircase overstates oblique edges by up to 8 % (and ragged JPEG edges by more), which biases circularity
 * low; the average removes the staircase while changing a 10 px radius disc's length by well under 1 %.
 */
function smoothedLength(path: number[]): number {
  const n = path.length / 2;
  if (n < 5) {
    let len = 0;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      len += Math.hypot(path[2 * j] - path[2 * i], path[2 * j + 1] - path[2 * i + 1]);
    }
    return len;
  }
  const sx = new Float64Array(n);
  const sy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let ax = 0;
    let ay = 0;
    for (let k = -2; k <= 2; k++) {
      const j = (i + k + n) % n;
      ax += path[2 * j];
      ay += path[2 * j + 1];
    }
    sx[i] = ax / 5;
    sy[i] = ay / 5;
  }
  let len = 0;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    len += Math.hypot(sx[j] - sx[i], sy[j] - sy[i]);
  }
  return len;
}

function hullPerimeter(points: number[]): number {
  const n = points.length / 2;
  if (n < 3) return 0;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => points[2 * a] - points[2 * b] || points[2 * a + 1] - points[2 * b + 1]);
  const cross = (o: number, a: number, b: number) =>
    (points[2 * a] - points[2 * o]) * (points[2 * b + 1] - points[2 * o + 1]) -
    (points[2 * a + 1] - points[2 * o + 1]) * (points[2 * b] - points[2 * o]);
  const hull: number[] = [];
  for (const i of idx) {
    while (hull.length >= 2 && cross(hull[hull.length - 2], hull[hull.length - 1], i) <= 0) hull.pop();
    hull.push(i);
  }
  const lower = hull.length + 1;
  for (let k = idx.length - 2; k >= 0; k--) {
    const i = idx[k];
    while (hull.length >= lower && cross(hull[hull.length - 2], hull[hull.length - 1], i) <= 0) hull.pop();
    hull.push(i);
  }
  hull.pop();
  let per = 0;
  for (let k = 0; k < hull.length; k++) {
    const a = hull[k];
    const b = hull[(k + 1) % hull.length];
    per += Math.hypot(points[2 * b] - points[2 * a], points[2 * b + 1] - points[2 * a + 1]);
  }
  return per;
}

/**
 * Cell mask (bbox-sized, 1 inside) from a contour in image px: pixel (x, y) is inside when its centre
 * (x + 0.5, y + 0.5) is inside the polygon (even-odd rule). Exact inverse of the crack contours segmentField emits.
 */
export function rasterizeContour(
  contour: Float32Array,
  bbox: readonly [number, number, number, number],
): Uint8Array {
  const [bx, by, bw, bh] = bbox;
  const mask = new Uint8Array(bw * bh);
  const n = contour.length / 2;
  const xs: number[] = [];
  for (let row = 0; row < bh; row++) {
    const sy = by + row + 0.5;
    xs.length = 0;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      const y0 = contour[2 * i + 1];
      const y1 = contour[2 * j + 1];
      if (y0 <= sy === y1 <= sy) continue;
      const x0 = contour[2 * i];
      const x1 = contour[2 * j];
      xs.push(x0 + ((sy - y0) / (y1 - y0)) * (x1 - x0));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixel columns whose centre lies in [xs[k], xs[k+1]).
      const from = Math.max(0, Math.ceil(xs[k] - 0.5 - bx));
      const to = Math.min(bw, Math.ceil(xs[k + 1] - 0.5 - bx));
      if (to > from) mask.fill(1, row * bw + from, row * bw + to);
    }
  }
  return mask;
}

/** Shape and colour measures of one region; boundary values come from traceBoundary. */
export function regionMorphometrics(
  area: number,
  sumX: number,
  sumY: number,
  sumXX: number,
  sumYY: number,
  sumXY: number,
  sumColor: [number, number, number],
  boundary: TracedBoundary,
): Morphometrics {
  const mx = sumX / area;
  const my = sumY / area;
  // Pixel-area variance 1/12 keeps single-pixel-wide shapes from reading as degenerate lines.
  const cxx = sumXX / area - mx * mx + 1 / 12;
  const cyy = sumYY / area - my * my + 1 / 12;
  const cxy = sumXY / area - mx * my;
  const common = Math.sqrt(((cxx - cyy) / 2) ** 2 + cxy * cxy);
  const major = (cxx + cyy) / 2 + common;
  const minor = (cxx + cyy) / 2 - common;
  const eccentricity = major > 0 ? Math.sqrt(Math.max(0, 1 - minor / major)) : 0;
  const perimeter = boundary.perimeter;
  return {
    area,
    perimeter,
    circularity: perimeter > 0 ? Math.min(1, (4 * Math.PI * area) / (perimeter * perimeter)) : 0,
    convexity: perimeter > 0 ? Math.min(1, boundary.hullPerimeter / perimeter) : 0,
    eccentricity,
    meanColor: [sumColor[0] / area, sumColor[1] / area, sumColor[2] / area],
    equivalentDiameter: Math.sqrt((4 * area) / Math.PI),
  };
}
