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
 * With `central`, factors of 4 and more average only the middle ceil(f/2) x ceil(f/2) pixels of each block.
 */
export function toPlanes(
  crop: CellCrop,
  factor: number,
  region?: { x0: number; y0: number; width: number; height: number },
  central = false,
): { planes: Planes; mask: Uint8Array | undefined } {
  const { rgb, width: w } = crop;
  const x0 = region?.x0 ?? 0;
  const y0 = region?.y0 ?? 0;
  const W = region?.width ?? Math.max(1, Math.floor(crop.width / factor));
  const H = region?.height ?? Math.max(1, Math.floor(crop.height / factor));
  const n = W * H;
  const r = scratchF32(n, false);
  const g = scratchF32(n, false);
  const b = scratchF32(n, false);
  const src = crop.mask;
  const mask = src ? scratchU8(n, false) : undefined;
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
  if (factor === 2) return toPlanesHalf(crop, x0, y0, W, H, r, g, b, mask);
  // Box sums row by row into per-column accumulators, reading each source row in order. Integer sums are
  // exact, so the result does not depend on the summation order. A large factor with `central` averages only
  // the middle ceil(f/2) x ceil(f/2) pixels of each block: a quarter of the reads.
  const side = central && factor >= 4 ? Math.ceil(factor / 2) : factor;
  const skip = (factor - side) >> 1;
  const inv = 1 / (side * side);
  const votes = side * side;
  // Blocks of 2x2 (factor 4, central: NIH-sized cells) and 3x3 (factor 3; 5 and 6 central) written out.
  if (side === 2 || side === 3) {
    planesSmallBlocks(crop, factor, side, skip, inv, x0, y0, W, H, r, g, b, mask);
    return { planes: { r, g, b, width: W, height: H }, mask };
  }
  const ar = scratchI32(W);
  const ag = scratchI32(W);
  const ab = scratchI32(W);
  const am = scratchI32(W);
  for (let y = 0; y < H; y++) {
    ar.fill(0);
    ag.fill(0);
    ab.fill(0);
    am.fill(0);
    for (let dy = 0; dy < side; dy++) {
      const row = ((y + y0) * factor + skip + dy) * w + x0 * factor + skip;
      for (let x = 0; x < W; x++) {
        let sr = 0;
        let sg = 0;
        let sb = 0;
        for (let dx = 0, j = (row + x * factor) * 3; dx < side; dx++, j += 3) {
          sr += rgb[j];
          sg += rgb[j + 1];
          sb += rgb[j + 2];
        }
        ar[x] += sr;
        ag[x] += sg;
        ab[x] += sb;
      }
      if (src) {
        for (let x = 0; x < W; x++) {
          let sm = 0;
          for (let dx = 0, p = row + x * factor; dx < side; dx++, p++) if (src[p]) sm++;
          am[x] += sm;
        }
      }
    }
    const i0 = y * W;
    for (let x = 0; x < W; x++) {
      r[i0 + x] = ar[x] * inv;
      g[i0 + x] = ag[x] * inv;
      b[i0 + x] = ab[x] * inv;
    }
    if (mask) for (let x = 0; x < W; x++) mask[i0 + x] = am[x] * 2 >= votes ? 1 : 0;
  }
  return { planes: { r, g, b, width: W, height: H }, mask };
}

/**
 * toPlanes' box averages for side x side blocks (side 2 or 3) taken every `factor` pixels from `skip` on:
 * the same integer sums and the same scaling as the general loop, without its accumulator arrays.
 */
function planesSmallBlocks(
  crop: CellCrop,
  factor: number,
  side: number,
  skip: number,
  inv: number,
  x0: number,
  y0: number,
  W: number,
  H: number,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  mask: Uint8Array | undefined,
): void {
  const { rgb, width: w } = crop;
  const src = crop.mask;
  const step = 3 * factor;
  const rowStride = 3 * w;
  for (let y = 0; y < H; y++) {
    const top = ((y + y0) * factor + skip) * w + x0 * factor + skip;
    const i0 = y * W;
    if (side === 2) {
      for (let x = 0, a = top * 3; x < W; x++, a += step) {
        const c = a + rowStride;
        r[i0 + x] = (rgb[a] + rgb[a + 3] + rgb[c] + rgb[c + 3]) * inv;
        g[i0 + x] = (rgb[a + 1] + rgb[a + 4] + rgb[c + 1] + rgb[c + 4]) * inv;
        b[i0 + x] = (rgb[a + 2] + rgb[a + 5] + rgb[c + 2] + rgb[c + 5]) * inv;
      }
      if (mask && src) {
        for (let x = 0, p = top; x < W; x++, p += factor) {
          const q = p + w;
          const v = (src[p] ? 1 : 0) + (src[p + 1] ? 1 : 0) + (src[q] ? 1 : 0) + (src[q + 1] ? 1 : 0);
          mask[i0 + x] = v >= 2 ? 1 : 0;
        }
      }
    } else {
      for (let x = 0, a = top * 3; x < W; x++, a += step) {
        const c = a + rowStride;
        const d = c + rowStride;
        r[i0 + x] =
          (rgb[a] +
            rgb[a + 3] +
            rgb[a + 6] +
            rgb[c] +
            rgb[c + 3] +
            rgb[c + 6] +
            rgb[d] +
            rgb[d + 3] +
            rgb[d + 6]) *
          inv;
        g[i0 + x] =
          (rgb[a + 1] +
            rgb[a + 4] +
            rgb[a + 7] +
            rgb[c + 1] +
            rgb[c + 4] +
            rgb[c + 7] +
            rgb[d + 1] +
            rgb[d + 4] +
            rgb[d + 7]) *
          inv;
        b[i0 + x] =
          (rgb[a + 2] +
            rgb[a + 5] +
            rgb[a + 8] +
            rgb[c + 2] +
            rgb[c + 5] +
            rgb[c + 8] +
            rgb[d + 2] +
            rgb[d + 5] +
            rgb[d + 8]) *
          inv;
      }
      if (mask && src) {
        for (let x = 0, p = top; x < W; x++, p += factor) {
          const q = p + w;
          const t = q + w;
          const v =
            (src[p] ? 1 : 0) +
            (src[p + 1] ? 1 : 0) +
            (src[p + 2] ? 1 : 0) +
            (src[q] ? 1 : 0) +
            (src[q + 1] ? 1 : 0) +
            (src[q + 2] ? 1 : 0) +
            (src[t] ? 1 : 0) +
            (src[t + 1] ? 1 : 0) +
            (src[t + 2] ? 1 : 0);
          mask[i0 + x] = v * 2 >= 9 ? 1 : 0;
        }
      }
    }
  }
}

/** toPlanes at factor 2, the common case (smear cells of 33-64 px), with the 2x2 box written out. */
function toPlanesHalf(
  crop: CellCrop,
  x0: number,
  y0: number,
  W: number,
  H: number,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  mask: Uint8Array | undefined,
): { planes: Planes; mask: Uint8Array | undefined } {
  const { rgb, width: w } = crop;
  const src = crop.mask;
  for (let y = 0; y < H; y++) {
    const top = (y + y0) * 2 * w + x0 * 2;
    const bottom = top + w;
    const i0 = y * W;
    for (let x = 0; x < W; x++) {
      const a = (top + 2 * x) * 3;
      const c = (bottom + 2 * x) * 3;
      r[i0 + x] = (rgb[a] + rgb[a + 3] + rgb[c] + rgb[c + 3]) * 0.25;
      g[i0 + x] = (rgb[a + 1] + rgb[a + 4] + rgb[c + 1] + rgb[c + 4]) * 0.25;
      b[i0 + x] = (rgb[a + 2] + rgb[a + 5] + rgb[c + 2] + rgb[c + 5]) * 0.25;
    }
    if (mask && src) {
      for (let x = 0; x < W; x++) {
        const p = top + 2 * x;
        const q = bottom + 2 * x;
        const votes = (src[p] ? 1 : 0) + (src[p + 1] ? 1 : 0) + (src[q] ? 1 : 0) + (src[q + 1] ? 1 : 0);
        mask[i0 + x] = votes >= 2 ? 1 : 0;
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
  const d = out ?? scratchF32(n, false);
  // Distances in thirds of a pixel on a copy framed by one background pixel, so no neighbour needs a bounds
  // test; integers, so exact.
  const PW = W + 2;
  const pd = scratchI32(PW * (H + 2));
  for (let y = 0; y < H; y++) {
    const row = y * W;
    let p = (y + 1) * PW + 1;
    for (let x = 0; x < W; x++, p++) {
      if (!mask[row + x]) continue;
      let v = pd[p - 1] + 3;
      const up = pd[p - PW] + 3;
      const ul = pd[p - PW - 1] + 4;
      const ur = pd[p - PW + 1] + 4;
      if (up < v) v = up;
      if (ul < v) v = ul;
      if (ur < v) v = ur;
      pd[p] = v;
    }
  }
  for (let y = H - 1; y >= 0; y--) {
    const row = y * W;
    let p = (y + 1) * PW + W;
    for (let x = W - 1; x >= 0; x--, p--) {
      if (!mask[row + x]) {
        d[row + x] = 0;
        continue;
      }
      let v = pd[p];
      const right = pd[p + 1] + 3;
      const down = pd[p + PW] + 3;
      const dr = pd[p + PW + 1] + 4;
      const dl = pd[p + PW - 1] + 4;
      if (right < v) v = right;
      if (down < v) v = down;
      if (dr < v) v = dr;
      if (dl < v) v = dl;
      pd[p] = v;
      d[row + x] = v / 3;
    }
  }
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
  const stack = scratchI32(n, false);
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
      const y = (i / W) | 0;
      const x = i - y * W;
      const xLo = x > 0 ? i - 1 : i;
      const xHi = x < W - 1 ? i + 1 : i;
      const rowLo = y > 0 ? -W : 0;
      const rowHi = y < H - 1 ? W : 0;
      for (let dr = rowLo; dr <= rowHi; dr += W) {
        for (let j = xLo + dr; j <= xHi + dr; j++) {
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
  if (x0 === 0 && y0 === 0 && w === W && h === planes.height) return { planes, mask };
  const r = scratchF32(w * h, false);
  const g = scratchF32(w * h, false);
  const b = scratchF32(w * h, false);
  const m = scratchU8(w * h, false);
  // Element loops: a subarray and a set() per row and plane cost more than the few dozen values they move.
  const { r: sr, g: sg, b: sb } = planes;
  for (let y = 0; y < h; y++) {
    const from = (y + y0) * W + x0;
    const to = y * w;
    for (let x = 0; x < w; x++) {
      r[to + x] = sr[from + x];
      g[to + x] = sg[from + x];
      b[to + x] = sb[from + x];
      m[to + x] = mask[from + x];
    }
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

/** A Uint8Array of length n from the pool, zeroed unless the caller overwrites every element itself. */
export function scratchU8(n: number, zeroed = true): Uint8Array {
  if (next.u8 >= POOL_LIMIT) return new Uint8Array(n);
  let buf = pools.u8[next.u8];
  if (!buf || buf.length < n) pools.u8[next.u8] = buf = new Uint8Array(Math.max(n, 1024));
  next.u8++;
  const view = buf.subarray(0, n);
  return zeroed ? view.fill(0) : view;
}

export function scratchI32(n: number, zeroed = true): Int32Array {
  if (next.i32 >= POOL_LIMIT) return new Int32Array(n);
  let buf = pools.i32[next.i32];
  if (!buf || buf.length < n) pools.i32[next.i32] = buf = new Int32Array(Math.max(n, 1024));
  next.i32++;
  const view = buf.subarray(0, n);
  return zeroed ? view.fill(0) : view;
}

export function scratchF32(n: number, zeroed = true): Float32Array {
  if (next.f32 >= POOL_LIMIT) return new Float32Array(n);
  let buf = pools.f32[next.f32];
  if (!buf || buf.length < n) pools.f32[next.f32] = buf = new Float32Array(Math.max(n, 1024));
  next.f32++;
  const view = buf.subarray(0, n);
  return zeroed ? view.fill(0) : view;
}

export function scratchU32(n: number, zeroed = true): Uint32Array {
  if (next.u32 >= POOL_LIMIT) return new Uint32Array(n);
  let buf = pools.u32[next.u32];
  if (!buf || buf.length < n) pools.u32[next.u32] = buf = new Uint32Array(Math.max(n, 1024));
  next.u32++;
  const view = buf.subarray(0, n);
  return zeroed ? view.fill(0) : view;
}
