/** Geometry on flat [x0, y0, x1, y1, ...] polygons, the layout of cell contours in the store. */

export function polygonArea(flat: ArrayLike<number>): number {
  const n = flat.length / 2;
  let s = 0;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    s += flat[2 * j] * flat[2 * i + 1] - flat[2 * i] * flat[2 * j + 1];
  }
  return Math.abs(s) / 2;
}

export function polygonBbox(flat: ArrayLike<number>): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    x0 = Math.min(x0, flat[i]);
    x1 = Math.max(x1, flat[i]);
    y0 = Math.min(y0, flat[i + 1]);
    y1 = Math.max(y1, flat[i + 1]);
  }
  if (!Number.isFinite(x0)) return [0, 0, 0, 0];
  return [x0, y0, x1 - x0, y1 - y0];
}

export function bboxPolygon(bbox: readonly [number, number, number, number]): number[] {
  const [x, y, w, h] = bbox;
  return [x, y, x + w, y, x + w, y + h, x, y + h];
}

/** Rounds coordinates to 1/100 px: contours come from float32 blobs whose noise digits only bloat the files. */
export function roundCoords(flat: ArrayLike<number>): number[] {
  return Array.from(flat, (v) => Math.round(v * 100) / 100);
}
