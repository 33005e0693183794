/**
 * Small raster helpers for the morphology embedder: working-resolution planes, chamfer distance,
 * connected components and histogram percentiles. Everything works on flat typed arrays because the
 * embedder must process thousands of cells per second on one core.
 */

/** A cell crop: RGB interleaved, optional mask (1 = cell), as produced by ingest. */
export interface CellCrop {
  rgb: Uint8Array;
  width: number;
  height: number;
  /** width*height, 1 = cell; absent for single-cell crop images. */
  mask?: Uint8Array;
}

/** Planar float channels (0..255) at the working resolution. */
export interface Planes {
  r: Float32Array;
  g: Float32Array;
  b: Float32Array;
  width: number;
  height: number;
}

/**
 * Box-downsamples a crop by an integer factor into planes (remainder rows/columns dropped), and the mask by
 * majority vote. Large crops are reduced so cost stays bounded while cells keep ~40-80 px across.
 */
export function toPlanes(crop: CellCrop, factor: number): { planes: Planes; mask: Uint8Array | undefined } {
  const { rgb, width: w } = crop;
  const W = Math.max(1, Math.floor(crop.width / factor));
  const H = Math.max(1, Math.floor(crop.height / factor));
  const n = W * H;
  const r = new Float32Array(n);
  const g = new Float32Array(n);
  const b = new Float32Array(n);
  let mask: Uint8Array | undefined;
  if (factor === 1) {
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      r[i] = rgb[j];
      g[i] = rgb[j + 1];
      b[i] = rgb[j + 2];
    }
    if (crop.mask) mask = crop.mask.slice(0, n);
  } else {
    const inv = 1 / (factor * factor);
    const src = crop.mask;
    if (src) mask = new Uint8Array(n);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let sr = 0;
        let sg = 0;
        let sb = 0;
        let sm = 0;
        for (let dy = 0; dy < factor; dy++) {
          const row = (y * factor + dy) * w + x * factor;
          for (let dx = 0; dx < factor; dx++) {
            const p = row + dx;
            const j = p * 3;
            sr += rgb[j];
            sg += rgb[j + 1];
            sb += rgb[j + 2];
            if (src) sm += src[p] ? 1 : 0;
          }
        }
        const i = y * W + x;
        r[i] = sr * inv;
        g[i] = sg * inv;
        b[i] = sb * inv;
        if (mask) mask[i] = sm * 2 >= factor * factor ? 1 : 0;
      }
    }
  }
  return { planes: { r, g, b, width: W, height: H }, mask };
}

/**
 * Chamfer (3-4) distance of every mask pixel to the nearest non-mask pixel, in pixels; pixels outside the
 * image count as background so a cell cut by the crop edge gets a rim there too.
 */
export function chamferDistance(mask: Uint8Array, W: number, H: number, out?: Float32Array): Float32Array {
  const n = W * H;
  const d = out ?? new Float32Array(n);
  const BIG = 1e9;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (!mask[i]) {
        d[i] = 0;
        continue;
      }
      let v = BIG;
      const left = x > 0 ? d[i - 1] + 3 : 3;
      const up = y > 0 ? d[i - W] + 3 : 3;
      const ul = x > 0 && y > 0 ? d[i - W - 1] + 4 : 4;
      const ur = x < W - 1 && y > 0 ? d[i - W + 1] + 4 : 4;
      if (left < v) v = left;
      if (up < v) v = up;
      if (ul < v) v = ul;
      if (ur < v) v = ur;
      d[i] = v;
    }
  }
  for (let y = H - 1; y >= 0; y--) {
    for (let x = W - 1; x >= 0; x--) {
      const i = y * W + x;
      if (!mask[i]) continue;
      let v = d[i];
      const right = x < W - 1 ? d[i + 1] + 3 : 3;
      const down = y < H - 1 ? d[i + W] + 3 : 3;
      const dr = x < W - 1 && y < H - 1 ? d[i + W + 1] + 4 : 4;
      const dl = x > 0 && y < H - 1 ? d[i + W - 1] + 4 : 4;
      if (right < v) v = right;
      if (down < v) v = down;
      if (dr < v) v = dr;
      if (dl < v) v = dl;
      d[i] = v;
    }
  }
  for (let i = 0; i < n; i++) d[i] /= 3;
  return d;
}

export interface Components {
  /** 0 = not in the mask, else 1-based component id. */
  labels: Int32Array;
  count: number;
  sizes: number[];
}

/** 8-connected components of the pixels where mask is non-zero. */
export function labelComponents(mask: Uint8Array, W: number, H: number): Components {
  const n = W * H;
  const labels = new Int32Array(n);
  const stack = new Int32Array(n);
  const sizes: number[] = [];
  let count = 0;
  for (let s = 0; s < n; s++) {
    if (!mask[s] || labels[s]) continue;
    count++;
    let top = 0;
    stack[top++] = s;
    labels[s] = count;
    let size = 0;
    while (top > 0) {
      const i = stack[--top];
      size++;
      const x = i % W;
      const y = (i - x) / W;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= H) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= W) continue;
          const j = yy * W + xx;
          if (mask[j] && !labels[j]) {
            labels[j] = count;
            stack[top++] = j;
          }
        }
      }
    }
    sizes.push(size);
  }
  return { labels, count, sizes };
}

/** Sets every background pixel that the image border cannot reach (4-connected) to 1, in place. */
export function fillHoles(mask: Uint8Array, W: number, H: number): void {
  const n = W * H;
  const reached = new Uint8Array(n);
  const stack = new Int32Array(n);
  let top = 0;
  const seed = (i: number): void => {
    if (!mask[i] && !reached[i]) {
      reached[i] = 1;
      stack[top++] = i;
    }
  };
  for (let x = 0; x < W; x++) {
    seed(x);
    seed((H - 1) * W + x);
  }
  for (let y = 0; y < H; y++) {
    seed(y * W);
    seed(y * W + W - 1);
  }
  while (top > 0) {
    const i = stack[--top];
    const x = i % W;
    if (x > 0) seed(i - 1);
    if (x < W - 1) seed(i + 1);
    if (i >= W) seed(i - W);
    if (i < n - W) seed(i + W);
  }
  for (let i = 0; i < n; i++) if (!mask[i] && !reached[i]) mask[i] = 1;
}

/** Otsu threshold of a 256-bin histogram; returns the bin index t such that class 1 is bins > t. */
export function otsuBin(hist: Float64Array | Uint32Array): number {
  let total = 0;
  let sumAll = 0;
  for (let i = 0; i < 256; i++) {
    total += hist[i];
    sumAll += i * hist[i];
  }
  let w0 = 0;
  let sum0 = 0;
  let best = 0;
  let bestVar = -1;
  for (let t = 0; t < 255; t++) {
    w0 += hist[t];
    sum0 += t * hist[t];
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0;
    const m1 = (sumAll - sum0) / w1;
    const v = w0 * w1 * (m1 - m0) * (m1 - m0);
    if (v > bestVar) {
      bestVar = v;
      best = t;
    }
  }
  return best;
}

/** Value at quantile q (0..1) of a 256-bin histogram over [lo, hi], interpolated to the bin centre. */
export function histQuantile(hist: Uint32Array, count: number, q: number, lo: number, hi: number): number {
  if (count <= 0) return (lo + hi) / 2;
  const target = q * (count - 1);
  let acc = 0;
  for (let i = 0; i < 256; i++) {
    acc += hist[i];
    if (acc > target) return lo + ((i + 0.5) / 256) * (hi - lo);
  }
  return hi;
}

/** Bin of v in a 256-bin histogram over [lo, hi], clamped. */
export function histBin(v: number, lo: number, hi: number): number {
  const b = Math.floor(((v - lo) / (hi - lo)) * 256);
  return b < 0 ? 0 : b > 255 ? 255 : b;
}

/** The part of planes and mask inside [x0, x0+w) x [y0, y0+h). */
export function cropPlanes(
  planes: Planes,
  mask: Uint8Array,
  x0: number,
  y0: number,
  w: number,
  h: number,
): { planes: Planes; mask: Uint8Array } {
  const W = planes.width;
  const r = new Float32Array(w * h);
  const g = new Float32Array(w * h);
  const b = new Float32Array(w * h);
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const from = (y + y0) * W + x0;
    const to = y * w;
    r.set(planes.r.subarray(from, from + w), to);
    g.set(planes.g.subarray(from, from + w), to);
    b.set(planes.b.subarray(from, from + w), to);
    m.set(mask.subarray(from, from + w), to);
  }
  return { planes: { r, g, b, width: w, height: h }, mask: m };
}
