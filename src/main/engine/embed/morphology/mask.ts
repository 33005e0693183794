import {
  type CellCrop,
  type Planes,
  chamferDistance,
  fillHoles,
  histBin,
  labelComponents,
  otsuBin,
  resetScratch,
  scratchF32,
  scratchI32,
  scratchU32,
  scratchU8,
  toPlanes,
} from './image';

/**
 * Segments the single, roughly centred cell of a crop when ingest supplied no mask.
 *
 * Foreground is the colour distance from the background colour, so it works for bright smear backgrounds
 * (cells darker) and for black-padded crop sets (cells brighter) alike, whatever the stain. Otsu splits
 * that distance; holes (the pale central pallor, which is close to background colour) are filled; a
 * neighbour touching the cell through a narrow bridge is cut off by seeding from the thick cores of the blob
 * and giving every pixel to its nearest core.
 */
export function segmentCentredCell(planes: Planes): Segmentation {
  const { r, g, b, width: W, height: H } = planes;
  const n = W * H;
  const background = estimateBackground(planes);
  const [br, bg, bb] = background.colour;

  // Distances up to the RGB cube diagonal (441.7) in 256 bins: 1.7 levels per bin is finer than the noise.
  const dist = scratchF32(n);
  const hist = scratchU32(256);
  for (let i = 0; i < n; i++) {
    const dr = r[i] - br;
    const dg = g[i] - bg;
    const db = b[i] - bb;
    const v = Math.sqrt(dr * dr + dg * dg + db * db);
    dist[i] = v;
    hist[histBin(v, 0, MAX_RGB_DISTANCE)]++;
  }
  const t = otsuBin(hist);
  // Otsu alone splits pale cells (hypochromic, schistocyte fragments) off their darker neighbours, so the
  // threshold is capped a few background deviations above background; the floor keeps pixel noise out.
  const otsu = ((t + 1) / 256) * MAX_RGB_DISTANCE;
  const threshold = Math.max(Math.min(otsu, 6 * background.spread + 10), 12);

  const fg = scratchU8(n);
  for (let i = 0; i < n; i++) fg[i] = dist[i] > threshold ? 1 : 0;

  // Components are taken after a 3x3 opening so one- or two-pixel bridges (debris, touching halos) do not
  // join neighbours; the chosen body then gets back the foreground within one pixel of it (spicule tips).
  const opened = dilate3(erode3(fg, W, H), W, H);
  const body = pickCentred(opened, W, H, 0.01);
  if (!body) return fallback(W, H);
  const near = dilate3(body, W, H);
  let x0 = W;
  let y0 = H;
  let x1 = -1;
  let y1 = -1;
  const cell = scratchU8(n);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (!(fg[i] & near[i])) continue;
      cell[i] = 1;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return fallback(W, H);
  // Hole filling and splitting work on the cell's box plus a one-pixel margin: same result, fewer pixels.
  x0 = Math.max(0, x0 - 1);
  y0 = Math.max(0, y0 - 1);
  x1 = Math.min(W - 1, x1 + 1);
  y1 = Math.min(H - 1, y1 + 1);
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  let sub: Uint8Array = scratchU8(bw * bh);
  for (let y = 0; y < bh; y++) {
    const from = (y + y0) * W + x0;
    for (let x = 0; x < bw; x++) sub[y * bw + x] = cell[from + x];
  }
  fillHoles(sub, bw, bh);
  sub = splitTouching(sub, bw, bh, (W - 1) / 2 - x0, (H - 1) / 2 - y0);
  cell.fill(0);
  for (let y = 0; y < bh; y++) {
    const to = (y + y0) * W + x0;
    for (let x = 0; x < bw; x++) cell[to + x] = sub[y * bw + x];
  }
  return { mask: cell, foreground: fg, width: W, height: H, background: background.colour, threshold };
}

export interface Segmentation {
  /** Cell mask at the segmentation resolution. */
  mask: Uint8Array;
  /** Pixels above the colour threshold (the cell, its neighbours, debris). */
  foreground: Uint8Array;
  width: number;
  height: number;
  /** Background colour and the colour distance above which a pixel is cell; NaN when segmentation failed. */
  background: [number, number, number];
  threshold: number;
}

/**
 * The segmented cell's mask over a region of a finer working image (planes at `factor`, region origin x0,y0
 * in working pixels). Coarse pixels on the border between the cell and background are re-decided pixel by
 * pixel by their own colour distance, so the outline has working-resolution detail while the expensive
 * steps ran on the coarse image. Borders where the cell was cut from a touching neighbour are not refined:
 * the neighbour's pixels there pass the threshold too and would grow back onto the cell.
 */
export function maskAtScale(
  seg: Segmentation,
  segFactor: number,
  planes: Planes,
  factor: number,
  x0: number,
  y0: number,
): Uint8Array {
  const { width: W, height: H } = planes;
  const sw = seg.width;
  const sh = seg.height;
  const coarse = seg.mask;
  const refine = segFactor > factor && Number.isFinite(seg.threshold);
  const unsure = scratchU8(sw * sh);
  if (refine) {
    const fg = seg.foreground;
    for (let y = 0; y < sh; y++) {
      for (let x = 0; x < sw; x++) {
        const c = y * sw + x;
        if (!coarse[c]) continue;
        for (let dy = y > 0 ? -1 : 0; dy <= (y < sh - 1 ? 1 : 0); dy++) {
          for (let dx = x > 0 ? -1 : 0; dx <= (x < sw - 1 ? 1 : 0); dx++) {
            const d = c + dy * sw + dx;
            if (!coarse[d] && !fg[d]) {
              unsure[c] = 1;
              unsure[d] = 1;
            }
          }
        }
      }
    }
  }
  const lx = scratchI32(W);
  for (let x = 0; x < W; x++)
    lx[x] = Math.min(sw - 1, Math.floor(((x0 + x) * factor + factor / 2) / segFactor));
  const [br, bg, bb] = seg.background;
  const t2 = seg.threshold * seg.threshold;
  const { r, g, b } = planes;
  const out = scratchU8(W * H);
  for (let y = 0; y < H; y++) {
    const ly = Math.min(sh - 1, Math.floor(((y0 + y) * factor + factor / 2) / segFactor));
    const srcRow = ly * sw;
    const row = y * W;
    for (let x = 0; x < W; x++) {
      const c = srcRow + lx[x];
      const i = row + x;
      if (!unsure[c]) {
        out[i] = coarse[c];
        continue;
      }
      const dr = r[i] - br;
      const dg = g[i] - bg;
      const db = b[i] - bb;
      out[i] = dr * dr + dg * dg + db * db > t2 ? 1 : 0;
    }
  }
  if (refine) fillHoles(out, W, H);
  return out;
}

const MAX_RGB_DISTANCE = 441.7;

/**
 * Crops are segmented after box-downsampling by an integer factor to about this side. Crops up to 96 px
 * (smear windows) are segmented at full resolution: on Chula windows segmenting at half resolution cost 0.02
 * weighted F1 (kNN), at a third 0.07, because thin rims and spicules are lost before the outline is refined.
 */
export const SEGMENTATION_SIDE = 64;

export function segmentationFactor(width: number, height: number): number {
  return Math.max(1, Math.round(Math.max(width, height) / SEGMENTATION_SIDE));
}

/** Full-resolution mask of the single centred cell of a crop (1 = cell). */
export function maskFromCrop(crop: CellCrop): Uint8Array {
  resetScratch();
  const image = { rgb: crop.rgb, width: crop.width, height: crop.height };
  const segFactor = segmentationFactor(crop.width, crop.height);
  const seg = segmentCentredCell(toPlanes(image, segFactor).planes);
  return maskAtScale(seg, segFactor, toPlanes(image, 1).planes, 1, 0, 0).slice();
}

/**
 * Background colour and how far background pixels stray from it. Two kinds of crop occur: cut-outs padded
 * with black (public single-cell sets) and windows of a brightfield smear. In the second, dense fields cover
 * most of the frame with cells, so the background is taken as the bright end of the whole crop (its 92nd
 * luminance percentile): unstained glass is the brightest thing in a brightfield image, and the pale
 * central pallor shares its colour anyway.
 */
function estimateBackground(planes: Planes): { colour: [number, number, number]; spread: number } {
  const { r, g, b, width: W, height: H } = planes;
  const n = W * H;
  let frameCount = 0;
  let frameBlack = 0;
  const frame = (i: number): void => {
    frameCount++;
    if (r[i] + g[i] + b[i] < 60) frameBlack++;
  };
  for (let x = 0; x < W; x++) {
    frame(x);
    if (H > 1) frame((H - 1) * W + x);
  }
  for (let y = 1; y < H - 1; y++) {
    frame(y * W);
    if (W > 1) frame(y * W + W - 1);
  }
  // Every other pixel of every other row is plenty for a colour estimate and a quarter of the cost.
  const step = n > 400 ? 2 : 1;
  const hist = scratchU32(256);
  let m = 0;
  for (let y = 0; y < H; y += step) {
    for (let x = 0, i = y * W; x < W; x += step, i += step) {
      hist[Math.min(255, Math.round((r[i] + g[i] + b[i]) / 3))]++;
      m++;
    }
  }
  let level: number;
  if (frameBlack >= 0.2 * frameCount) {
    level = 0;
  } else {
    const target = 0.92 * m;
    let acc = 0;
    level = 255;
    for (let v = 0; v < 256; v++) {
      acc += hist[v];
      if (acc >= target) {
        level = v;
        break;
      }
    }
  }
  let sr = 0;
  let sg = 0;
  let sb = 0;
  let sr2 = 0;
  let sg2 = 0;
  let sb2 = 0;
  let cnt = 0;
  for (let y = 0; y < H; y += step) {
    for (let x = 0, i = y * W; x < W; x += step, i += step) {
      if (Math.abs((r[i] + g[i] + b[i]) / 3 - level) > 8) continue;
      sr += r[i];
      sg += g[i];
      sb += b[i];
      sr2 += r[i] * r[i];
      sg2 += g[i] * g[i];
      sb2 += b[i] * b[i];
      cnt++;
    }
  }
  if (cnt === 0) return { colour: [level, level, level], spread: 0 };
  const colour: [number, number, number] = [sr / cnt, sg / cnt, sb / cnt];
  const dev = sr2 + sg2 + sb2 - cnt * (colour[0] ** 2 + colour[1] ** 2 + colour[2] ** 2);
  return { colour, spread: Math.sqrt(Math.max(0, dev) / cnt) };
}

/** 3x3 erosion; pixels on the image edge are eroded (outside counts as background). */
function erode3(src: Uint8Array, W: number, H: number): Uint8Array {
  const rows = scratchU8(W * H);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let x = 1; x < W - 1; x++) rows[row + x] = src[row + x - 1] & src[row + x] & src[row + x + 1];
  }
  const out = scratchU8(W * H);
  for (let i = W; i < W * (H - 1); i++) out[i] = rows[i - W] & rows[i] & rows[i + W];
  return out;
}

function dilate3(src: Uint8Array, W: number, H: number): Uint8Array {
  // Rows first, then columns; the edge pixels of each pass are written apart so the inner loops test nothing.
  const rows = scratchU8(W * H, false);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    if (W === 1) {
      rows[row] = src[row];
      continue;
    }
    rows[row] = src[row] | src[row + 1];
    for (let i = row + 1; i < row + W - 1; i++) rows[i] = src[i - 1] | src[i] | src[i + 1];
    rows[row + W - 1] = src[row + W - 2] | src[row + W - 1];
  }
  const out = scratchU8(W * H, false);
  const n = W * H;
  if (H === 1) {
    out.set(rows);
    return out;
  }
  for (let i = 0; i < W; i++) out[i] = rows[i] | rows[i + W];
  for (let i = W; i < n - W; i++) out[i] = rows[i - W] | rows[i] | rows[i + W];
  for (let i = n - W; i < n; i++) out[i] = rows[i - W] | rows[i];
  return out;
}

/**
 * The component nearest the crop centre among those larger than minFraction of the crop (small specks near
 * the centre, such as platelets, must not win over the cell). Pixels are visited centre-outwards and only the
 * components met are flooded, so usually just the cell itself is touched.
 */
function pickCentred(fg: Uint8Array, W: number, H: number, minFraction: number): Uint8Array | null {
  const n = W * H;
  const order = centreOutOrder(W, H);
  const minSize = Math.max(4, minFraction * n);
  const seen = scratchU8(n);
  const stack = scratchI32(n, false);
  // Each flood lists the pixels it reached, so the component chosen is written out without flooding it again.
  const reached = scratchI32(n, false);
  let largestSeed = -1;
  let largestSize = 0;
  for (let o = 0; o < n; o++) {
    const s = order[o];
    if (!fg[s] || seen[s]) continue;
    const size = flood(fg, seen, stack, W, H, s, reached);
    if (size >= minSize) {
      const out = scratchU8(n);
      for (let k = 0; k < size; k++) out[reached[k]] = 1;
      return out;
    }
    if (size > largestSize) {
      largestSize = size;
      largestSeed = s;
    }
  }
  return largestSeed < 0 ? null : componentOf(fg, W, H, largestSeed);
}

function flood(
  fg: Uint8Array,
  seen: Uint8Array,
  stack: Int32Array,
  W: number,
  H: number,
  seed: number,
  reached?: Int32Array,
): number {
  let top = 0;
  stack[top++] = seed;
  seen[seed] = 1;
  let size = 0;
  while (top > 0) {
    const i = stack[--top];
    if (reached) reached[size] = i;
    size++;
    const y = (i / W) | 0;
    const x = i - y * W;
    if (x > 0 && x < W - 1 && y > 0 && y < H - 1) {
      // Away from the edge all eight neighbours exist: the same visits as the loops below, written out.
      for (let j = i - W - 1; j <= i + W - 1; j += W) {
        if (fg[j] && !seen[j]) {
          seen[j] = 1;
          stack[top++] = j;
        }
        if (fg[j + 1] && !seen[j + 1]) {
          seen[j + 1] = 1;
          stack[top++] = j + 1;
        }
        if (fg[j + 2] && !seen[j + 2]) {
          seen[j + 2] = 1;
          stack[top++] = j + 2;
        }
      }
      continue;
    }
    const yLo = y > 0 ? -1 : 0;
    const yHi = y < H - 1 ? 1 : 0;
    const xLo = x > 0 ? -1 : 0;
    const xHi = x < W - 1 ? 1 : 0;
    for (let dy = yLo; dy <= yHi; dy++) {
      for (let dx = xLo; dx <= xHi; dx++) {
        const j = i + dy * W + dx;
        if (fg[j] && !seen[j]) {
          seen[j] = 1;
          stack[top++] = j;
        }
      }
    }
  }
  return size;
}

function componentOf(fg: Uint8Array, W: number, H: number, seed: number): Uint8Array {
  const out = scratchU8(W * H);
  flood(fg, out, scratchI32(W * H), W, H, seed);
  return out;
}

const orderCache = new Map<number, Int32Array>();

/** Pixel indices sorted by distance from the crop centre (ties by index), cached per crop size. */
function centreOutOrder(W: number, H: number): Int32Array {
  const key = W * 65536 + H;
  const cached = orderCache.get(key);
  if (cached) return cached;
  // Four times the squared distance is an integer, so distance and index pack into one exact number and a
  // plain numeric sort (no comparator callback: crop folders of many sizes miss the cache) gives the order.
  const n = W * H;
  const keys = new Float64Array(n);
  for (let y = 0; y < H; y++) {
    const dy = 2 * y - (H - 1);
    for (let x = 0; x < W; x++) {
      const dx = 2 * x - (W - 1);
      keys[y * W + x] = (dx * dx + dy * dy) * n + y * W + x;
    }
  }
  keys.sort();
  const order = new Int32Array(n);
  for (let o = 0; o < n; o++) order[o] = keys[o] % n;
  if (orderCache.size >= 64) orderCache.clear();
  orderCache.set(key, order);
  return order;
}

/**
 * Cuts neighbours joined to the centred cell by a bridge narrower than the cores: cores are the pixels deeper
 * than 55% of the blob's largest depth; each pixel goes to the core it is nearest to (chamfer propagation);
 * the pixels of the core nearest the centre are kept. Spicules stay with their cell because their nearest
 * core is their own.
 */
function splitTouching(mask: Uint8Array, W: number, H: number, cx: number, cy: number): Uint8Array {
  const n = W * H;
  const depth = chamferDistance(mask, W, H);
  let maxDepth = 0;
  for (let i = 0; i < n; i++) if (depth[i] > maxDepth) maxDepth = depth[i];
  if (maxDepth < 3) return mask;
  const coreLevel = 0.55 * maxDepth;
  const core = scratchU8(n);
  for (let i = 0; i < n; i++) core[i] = depth[i] >= coreLevel ? 1 : 0;
  const comps = labelComponents(core, W, H);
  if (comps.count <= 1) return mask;

  const centred = pickCentredLabel(comps.labels, comps.sizes, W, H, cx, cy);
  const owner = scratchI32(n);
  const cost = scratchF32(n).fill(Infinity);
  for (let i = 0; i < n; i++) {
    if (comps.labels[i]) {
      owner[i] = comps.labels[i];
      cost[i] = 0;
    }
  }
  // Two forward/backward sweeps approximate geodesic nearest-core assignment within the mask.
  for (let sweep = 0; sweep < 2; sweep++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        if (!mask[i]) continue;
        relax(i, x > 0 ? i - 1 : -1, 1);
        relax(i, y > 0 ? i - W : -1, 1);
        relax(i, x > 0 && y > 0 ? i - W - 1 : -1, Math.SQRT2);
        relax(i, x < W - 1 && y > 0 ? i - W + 1 : -1, Math.SQRT2);
      }
    }
    for (let y = H - 1; y >= 0; y--) {
      for (let x = W - 1; x >= 0; x--) {
        const i = y * W + x;
        if (!mask[i]) continue;
        relax(i, x < W - 1 ? i + 1 : -1, 1);
        relax(i, y < H - 1 ? i + W : -1, 1);
        relax(i, x < W - 1 && y < H - 1 ? i + W + 1 : -1, Math.SQRT2);
        relax(i, x > 0 && y < H - 1 ? i + W - 1 : -1, Math.SQRT2);
      }
    }
  }
  const out = scratchU8(n);
  for (let i = 0; i < n; i++) out[i] = mask[i] && owner[i] === centred ? 1 : 0;
  // The split can leave a detached sliver of the owner region; keep its main piece only.
  const pieces = labelComponents(out, W, H);
  if (pieces.count > 1) {
    let big = 1;
    for (let l = 2; l <= pieces.count; l++) if (pieces.sizes[l - 1] > pieces.sizes[big - 1]) big = l;
    for (let i = 0; i < n; i++) out[i] = pieces.labels[i] === big ? 1 : 0;
  }
  fillHoles(out, W, H);
  return out;

  function relax(i: number, j: number, step: number): void {
    if (j < 0 || !mask[j] || !owner[j]) return;
    const c = cost[j] + step;
    if (c < cost[i]) {
      cost[i] = c;
      owner[i] = owner[j];
    }
  }
}

function pickCentredLabel(
  labels: Int32Array,
  sizes: number[],
  W: number,
  H: number,
  cx: number,
  cy: number,
): number {
  const nearest = new Float64Array(sizes.length + 1).fill(Infinity);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const l = labels[y * W + x];
      if (!l) continue;
      const d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      if (d < nearest[l]) nearest[l] = d;
    }
  }
  let best = 1;
  for (let l = 2; l <= sizes.length; l++) if (nearest[l] < nearest[best]) best = l;
  return best;
}

/** A centred disc covering most of the crop: used when nothing separates from the background. */
function fallback(W: number, H: number): Segmentation {
  const mask = scratchU8(W * H);
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const rr = 0.45 * Math.min(W, H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= rr * rr) mask[y * W + x] = 1;
    }
  }
  return { mask, foreground: mask, width: W, height: H, background: [0, 0, 0], threshold: Number.NaN };
}
