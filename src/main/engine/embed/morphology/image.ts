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
 * majority vote. A region (in downsampled pixels) limits the work to the part of the crop holding the cell.
 */
export function toPlanes(
  crop: CellCrop,
  factor: number,
  region?: { x0: number; y0: number; width: number; height: number },
): { planes: Planes; mask: Uint8Array | undefined } {
  const { rgb, width: w } = crop;
  const x0 = region?.x0 ?? 0;
  const y0 = region?.y0 ?? 0;
  const W = region?.width ?? Math.max(1, Math.floor(crop.width / factor));
  const H = region?.height ?? Math.max(1, Math.floor(crop.height / factor));
  const n = W * H;
  const r = scratchF32(n);
  const g = scratchF32(n);
  const b = scratchF32(n);
  const src = crop.mask;
  const mask = src ? scratchU8(n) : undefined;
  if (factor === 1) {
    for (let y = 0; y < H; y++) {
      let j = ((y + y0) * w + x0) * 3;
      let p = (y + y0) * w + x0;
      for (let x = 0, i = y * W; x < W; x++, i++, j += 3, p++) {
        r[i] = rgb[j];
        g[i] = rgb[j + 1];
        b[i] = rgb[j + 2];
        if (mask && src) mask[i] = src[p] ? 1 : 0;
      }
    }
    return { planes: { r, g, b, width: W, height: H }, mask };
  }
  const inv = 1 / (factor * factor);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sr = 0;
      let sg = 0;
      let sb = 0;
      let sm = 0;
      for (let dy = 0; dy < factor; dy++) {
        const row = ((y + y0) * factor + dy) * w + (x + x0) * factor;
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
  return { planes: { r, g, b, width: W, height: H }, mask };
}

/**
 * Chamfer (3-4) distance of every mask pixel to the nearest non-mask pixel, in pixels; pixels outside the
 * image count as background so a cell cut by the crop edge gets a rim there too.
 */
export function chamferDistance(mask: Uint8Array, W: number, H: number, out?: Float32Array): Float32Array {
  const n = W * H;
  const d = out ?? scratchF32(n);
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
  const labels = scratchI32(n);
  const stack = scratchI32(n);
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
  const reached = scratchU8(n);
  const stack = scratchI32(n);
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
  const r = scratchF32(w * h);
  const g = scratchF32(w * h);
  const b = scratchF32(w * h);
  const m = scratchU8(w * h);
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

/*
 * Per-cell scratch buffers. Allocating a few dozen typed arrays per cell made garbage collection a large
 * share of the run time, so working arrays are taken from pools and handed out again after resetScratch(),
 * which every public entry point calls first. Nothing taken from here may outlive the call that took it.
 */
const POOL_LIMIT = 256;
const pools = {
  u8: [] as Uint8Array[],
  i32: [] as Int32Array[],
  f32: [] as Float32Array[],
  u32: [] as Uint32Array[],
};
const next = { u8: 0, i32: 0, f32: 0, u32: 0 };

export function resetScratch(): void {
  next.u8 = 0;
  next.i32 = 0;
  next.f32 = 0;
  next.u32 = 0;
}

/** A zeroed Uint8Array of length n from the pool. */
export function scratchU8(n: number): Uint8Array {
  if (next.u8 >= POOL_LIMIT) return new Uint8Array(n);
  let buf = pools.u8[next.u8];
  if (!buf || buf.length < n) pools.u8[next.u8] = buf = new Uint8Array(Math.max(n, 1024));
  next.u8++;
  return buf.subarray(0, n).fill(0);
}

export function scratchI32(n: number): Int32Array {
  if (next.i32 >= POOL_LIMIT) return new Int32Array(n);
  let buf = pools.i32[next.i32];
  if (!buf || buf.length < n) pools.i32[next.i32] = buf = new Int32Array(Math.max(n, 1024));
  next.i32++;
  return buf.subarray(0, n).fill(0);
}

export function scratchF32(n: number): Float32Array {
  if (next.f32 >= POOL_LIMIT) return new Float32Array(n);
  let buf = pools.f32[next.f32];
  if (!buf || buf.length < n) pools.f32[next.f32] = buf = new Float32Array(Math.max(n, 1024));
  next.f32++;
  return buf.subarray(0, n).fill(0);
}

export function scratchU32(n: number): Uint32Array {
  if (next.u32 >= POOL_LIMIT) return new Uint32Array(n);
  let buf = pools.u32[next.u32];
  if (!buf || buf.length < n) pools.u32[next.u32] = buf = new Uint32Array(Math.max(n, 1024));
  next.u32++;
  return buf.subarray(0, n).fill(0);
}
