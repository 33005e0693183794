/** Hit tests over typed arrays: a map of a million cells is selected without building an object per point. */

export type Point = readonly [number, number];

/** Even-odd rule; points exactly on an edge may fall either side, which a hand-drawn lasso never notices. */
export function pointInPolygon(x: number, y: number, polygon: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export interface Box {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

export function boundsOf(polygon: readonly Point[]): Box {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const [x, y] of polygon) {
    if (x < minX) minX = x;
    if (y < minY) minY = y;
    if (x > maxX) maxX = x;
    if (y > maxY) maxY = y;
  }
  return { minX, minY, maxX, maxY };
}

export function boxFromCorners(a: Point, b: Point): Box {
  return {
    minX: Math.min(a[0], b[0]),
    minY: Math.min(a[1], b[1]),
    maxX: Math.max(a[0], b[0]),
    maxY: Math.max(a[1], b[1]),
  };
}

/**
 * Indices of the points of `xy` (interleaved x, y) inside the polygon. The bounding box rejects most points before
 * the edge walk, so a lasso over a small region of a large map costs one pass of comparisons. `visible`, when
 * given, skips points whose entry is 0 (hidden classes).
 */
export function pointsInPolygon(
  xy: Float32Array,
  polygon: readonly Point[],
  visible?: Uint8Array,
): Int32Array {
  if (polygon.length < 3) return new Int32Array(0);
  const b = boundsOf(polygon);
  const n = xy.length >> 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (visible && !visible[i]) continue;
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    if (x < b.minX || x > b.maxX || y < b.minY || y > b.maxY) continue;
    if (pointInPolygon(x, y, polygon)) out.push(i);
  }
  return Int32Array.from(out);
}

export function pointsInBox(xy: Float32Array, box: Box, visible?: Uint8Array): Int32Array {
  const n = xy.length >> 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (visible && !visible[i]) continue;
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    if (x >= box.minX && x <= box.maxX && y >= box.minY && y <= box.maxY) out.push(i);
  }
  return Int32Array.from(out);
}

/** Drops lasso points closer than `minStep` to the previous kept one: pointer events arrive far denser than needed. */
export function simplifyPath(points: readonly Point[], minStep: number): Point[] {
  const out: Point[] = [];
  for (const p of points) {
    const last = out[out.length - 1];
    if (!last || Math.hypot(p[0] - last[0], p[1] - last[1]) >= minStep) out.push(p);
  }
  return out;
}
