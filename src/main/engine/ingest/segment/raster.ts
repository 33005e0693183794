/** Binary-image and distance operations on typed arrays (row-major, width * height). */

/** Otsu threshold of a 256-bin histogram; returns the bin index t such that foreground is value > t. */
export function otsuThreshold(hist: ArrayLike<number>): number {
  let total = 0;
  let sumAll = 0;
  for (let i = 0; i < 256; i++) {
    total += hist[i];
    sumAll += i * hist[i];
  }
  let weightBelow = 0;
  let sumBelow = 0;
  let best = 0;
  let bestVariance = -1;
  for (let t = 0; t < 256; t++) {
    weightBelow += hist[t];
    if (weightBelow === 0) continue;
    const weightAbove = total - weightBelow;
    if (weightAbove === 0) break;
    sumBelow += t * hist[t];
    const meanBelow = sumBelow / weightBelow;
    const meanAbove = (sumAll - sumBelow) / weightAbove;
    const variance = weightBelow * weightAbove * (meanBelow - meanAbove) ** 2;
    if (variance > bestVariance) {
      bestVariance = variance;
      best = t;
    }
  }
  return best;
}

/**
 * Two-threshold Otsu (three classes) of a 256-bin histogram; returns [t1, t2] with classes <= t1, <= t2, above.
 */
export function otsuThresholds3(hist: ArrayLike<number>): [number, number] {
  const cumW = new Float64Array(257);
  const cumM = new Float64Array(257);
  for (let i = 0; i < 256; i++) {
    cumW[i + 1] = cumW[i] + hist[i];
    cumM[i + 1] = cumM[i] + i * hist[i];
  }
  // Sum over classes of (class mass)^2 / (class weight): the between-class variance up to constants.
  const total = cumW[256];
  const totalM = cumM[256];
  let best: [number, number] = [0, 1];
  let bestScore = -1;
  for (let t1 = 0; t1 < 254; t1++) {
    const w1 = cumW[t1 + 1];
    const m1 = cumM[t1 + 1];
    const a = w1 > 0 ? (m1 * m1) / w1 : 0;
    for (let t2 = t1 + 1; t2 < 255; t2++) {
      const w2 = cumW[t2 + 1] - w1;
      const m2 = cumM[t2 + 1] - m1;
      const w3 = total - cumW[t2 + 1];
      const m3 = totalM - cumM[t2 + 1];
      const score = a + (w2 > 0 ? (m2 * m2) / w2 : 0) + (w3 > 0 ? (m3 * m3) / w3 : 0);
      if (score > bestScore) {
        bestScore = score;
        best = [t1, t2];
      }
    }
  }
  return best;
}

/**
 * 8-connected component labels (1..count) of mask != 0; 0 stays background. 4-connectivity when `four`
 * (used for background so that diagonal gaps between touching cells do not leak into holes).
 */
export function labelComponents(
  mask: Uint8Array,
  width: number,
  height: number,
  four = false,
): { labels: Int32Array; count: number } {
  // Scanline flood fill: each popped seed labels its whole horizontal run, then seeds the runs it touches in
  // the rows above and below (diagonally too unless `four`). Labels depend only on component membership and
  // scan order of the first pixel, so they equal a pixel-by-pixel flood fill's.
  const labels = new Int32Array(width * height);
  let stack = new Int32Array(Math.max(64, 4 * (width + height)));
  const reach = four ? 0 : 1;
  let count = 0;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    count++;
    let top = 0;
    stack[top++] = start % width;
    stack[top++] = (start / width) | 0;
    while (top > 0) {
      const y = stack[--top];
      const x = stack[--top];
      const row = y * width;
      if (labels[row + x]) continue;
      let xl = x;
      while (xl > 0 && mask[row + xl - 1] && !labels[row + xl - 1]) xl--;
      let xr = x;
      while (xr < width - 1 && mask[row + xr + 1] && !labels[row + xr + 1]) xr++;
      for (let i = xl; i <= xr; i++) labels[row + i] = count;
      const from = Math.max(0, xl - reach);
      const to = Math.min(width - 1, xr + reach);
      for (let ny = y - 1; ny <= y + 1; ny += 2) {
        if (ny < 0 || ny >= height) continue;
        const nrow = ny * width;
        let inRun = false;
        for (let i = from; i <= to; i++) {
          const free = mask[nrow + i] !== 0 && labels[nrow + i] === 0;
          if (free && !inRun) {
            if (top + 2 > stack.length) {
              const grown = new Int32Array(stack.length * 2);
              grown.set(stack);
              stack = grown;
            }
            stack[top++] = i;
            stack[top++] = ny;
          }
          inRun = free;
        }
      }
    }
  }
  return { labels, count };
}

/**
 * Fills background components that do not touch the image border and are smaller than maxHoleArea (the
 * central pallor of RBCs; larger enclosed gaps between cells stay background). Modifies mask in place.
 */
export function fillHoles(mask: Uint8Array, width: number, height: number, maxHoleArea: number): void {
  const inverse = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) inverse[i] = mask[i] ? 0 : 1;
  const { labels, count } = labelComponents(inverse, width, height, true);
  const area = new Int32Array(count + 1);
  const touches = new Uint8Array(count + 1);
  for (let i = 0; i < labels.length; i++) area[labels[i]]++;
  for (let x = 0; x < width; x++) {
    touches[labels[x]] = 1;
    touches[labels[(height - 1) * width + x]] = 1;
  }
  for (let y = 0; y < height; y++) {
    touches[labels[y * width]] = 1;
    touches[labels[y * width + width - 1]] = 1;
  }
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l && !touches[l] && area[l] <= maxHoleArea) mask[i] = 1;
  }
}

/**
 * Exact Euclidean distance of every mask pixel to the nearest background pixel (Felzenszwalb & Huttenlocher,
 * two 1-D passes). Pixels outside the image count as foreground, so cells cut by the border are not thinned
 * there: a cut cell keeps its full radius at the edge.
 */
export function distanceTransform(mask: Uint8Array, width: number, height: number): Float32Array {
  const INF = 1e20;
  const n = Math.max(width, height);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const sq = new Float64Array(width * height);
  const edt1d = (len: number) => {
    let k = 0;
    v[0] = 0;
    z[0] = -INF;
    z[1] = INF;
    for (let q = 1; q < len; q++) {
      let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      while (s <= z[k]) {
        k--;
        s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = INF;
    }
    k = 0;
    for (let q = 0; q < len; q++) {
      while (z[k + 1] < q) k++;
      d[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
    }
  };
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = mask[y * width + x] ? INF : 0;
    edt1d(height);
    for (let y = 0; y < height; y++) sq[y * width + x] = d[y];
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) f[x] = sq[row + x];
    edt1d(width);
    for (let x = 0; x < width; x++) out[row + x] = mask[row + x] ? Math.sqrt(d[x]) : 0;
  }
  return out;
}

/**
 * Separable box mean with radius r (window 2r+1), edges clamped. The vertical pass runs row by row with one
 * running sum per column (cache-friendly), doing per column exactly the arithmetic of a column-wise pass.
 */
export function boxBlur(src: Float32Array, width: number, height: number, r: number): Float32Array {
  if (r <= 0) return src.slice();
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  const win = 2 * r + 1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const last = row + width - 1;
    let acc = 0;
    for (let i = -r; i <= r; i++) acc += src[row + Math.min(width - 1, Math.max(0, i))];
    for (let x = 0; x < width; x++) {
      tmp[row + x] = acc / win;
      const add = row + x + r + 1;
      const sub = row + x - r;
      acc += src[add < last ? add : last] - src[sub > row ? sub : row];
    }
  }
  const acc = new Float64Array(width);
  for (let i = -r; i <= r; i++) {
    const row = Math.min(height - 1, Math.max(0, i)) * width;
    for (let x = 0; x < width; x++) acc[x] += tmp[row + x];
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const add = Math.min(height - 1, y + r + 1) * width;
    const sub = Math.max(0, y - r) * width;
    for (let x = 0; x < width; x++) {
      out[row + x] = acc[x] / win;
      acc[x] += tmp[add + x] - tmp[sub + x];
    }
  }
  return out;
}

/** Binary image packed 32 pixels per word, rows padded to whole words (padding bits are 0 on input). */
interface PackedMask {
  bits: Int32Array;
  /** Words per row. */
  words: number;
  width: number;
  height: number;
}

function pack(mask: Uint8Array, width: number, height: number): PackedMask {
  const words = (width + 31) >> 5;
  const bits = new Int32Array(words * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const out = y * words;
    for (let x = 0; x < width; x++) if (mask[row + x]) bits[out + (x >> 5)] |= 1 << (x & 31);
  }
  return { bits, words, width, height };
}

function unpack(p: PackedMask): Uint8Array {
  const { bits, words, width, height } = p;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const src = y * words;
    for (let x = 0; x < width; x++) out[row + x] = (bits[src + (x >> 5)] >>> (x & 31)) & 1;
  }
  return out;
}

/** Complement within the image (padding bits stay 0). */
function invertPacked(p: PackedMask): PackedMask {
  const { words, width, height } = p;
  const bits = new Int32Array(p.bits.length);
  const tail = width & 31;
  const lastMask = tail === 0 ? -1 : (1 << tail) - 1;
  for (let y = 0; y < height; y++) {
    for (let k = 0; k < words; k++) {
      const i = y * words + k;
      bits[i] = ~p.bits[i] & (k === words - 1 ? lastMask : -1);
    }
  }
  return { bits, words, width, height };
}

/**
 * Dilation by the disc {dx^2 + dy^2 <= r^2}, looking only at pixels inside the image: exactly the pixels whose
 * Euclidean distance to a mask pixel is at most r. The disc is a stack of horizontal spans: each distinct span
 * half-width gets one horizontal dilation (word shifts, 32 pixels at a time), and each output row ORs the
 * rows above and below, so the cost is a few passes over width / 32 words per row and no distance map.
 * Bits past the image width may be set in the result; unpack ignores them.
 */
function dilatePacked(p: PackedMask, r: number): PackedMask {
  const { bits, words, width, height } = p;
  const reach = Math.floor(r);
  const half = new Int32Array(2 * reach + 1);
  let maxHalf = 0;
  for (let dy = -reach; dy <= reach; dy++) {
    let hw = Math.floor(Math.sqrt(r * r - dy * dy));
    while ((hw + 1) * (hw + 1) + dy * dy <= r * r) hw++;
    while (hw > 0 && hw * hw + dy * dy > r * r) hw--;
    half[dy + reach] = hw;
    maxHalf = Math.max(maxHalf, hw);
  }
  // byHalf[s]: horizontal dilation by s, built incrementally (s < 32: closeDisc and openDisc hand larger
  // radii to the distance-map versions).
  const byHalf: Int32Array[] = [bits];
  for (let s = 1; s <= maxHalf; s++) {
    const prev = byHalf[s - 1];
    const next = new Int32Array(bits.length);
    for (let y = 0; y < height; y++) {
      const row = y * words;
      for (let k = 0; k < words; k++) {
        const i = row + k;
        const w = bits[i];
        let v = prev[i] | (w << s) | (w >>> s);
        if (s < 32) {
          if (k > 0) v |= bits[i - 1] >>> (32 - s);
          if (k < words - 1) v |= bits[i + 1] << (32 - s);
        }
        next[i] = v;
      }
    }
    byHalf.push(next);
  }
  const out = new Int32Array(bits.length);
  for (let dy = -reach; dy <= reach; dy++) {
    const rows = byHalf[half[dy + reach]];
    const y0 = Math.max(0, -dy);
    const y1 = Math.min(height, height - dy);
    for (let i = y0 * words, j = (y0 + dy) * words, end = y1 * words; i < end; i++, j++) out[i] |= rows[j];
  }
  // Clear the padding so the result can be inverted or dilated again.
  const tail = width & 31;
  if (tail !== 0) {
    const lastMask = (1 << tail) - 1;
    for (let y = 0; y < height; y++) out[y * words + words - 1] &= lastMask;
  }
  return { bits: out, words, width, height };
}

/**
 * Morphological closing with a disc of radius r (dilate then erode; pixels outside the image do not erode,
 * so a cell cut by the border keeps its edge). Same result as thresholding Euclidean distance maps at r
 * (closeDiscByDistance), at a small fraction of their cost.
 */
export function closeDisc(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  if (r >= 32) return closeDiscByDistance(mask, width, height, r);
  const m = pack(mask, width, height);
  const closed = invertPacked(dilatePacked(invertPacked(dilatePacked(m, r)), r));
  for (let i = 0; i < closed.bits.length; i++) closed.bits[i] |= m.bits[i];
  return unpack(closed);
}

/** Morphological opening with a disc of radius r: removes bridges and spurs thinner than 2r. */
export function openDisc(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r >= 32) return openDiscByDistance(mask, width, height, r);
  if (r <= 0) return mask.slice();
  const m = pack(mask, width, height);
  const opened = dilatePacked(invertPacked(dilatePacked(invertPacked(m), r)), r);
  for (let i = 0; i < opened.bits.length; i++) opened.bits[i] &= m.bits[i];
  return unpack(opened);
}

/** The distance-map versions of closeDisc and openDisc: the reference the fast ones are tested against. */
export function closeDiscByDistance(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  const inverse = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) inverse[i] = mask[i] ? 0 : 1;
  const toFg = distanceTransform(inverse, width, height);
  const dilated = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) dilated[i] = mask[i] || toFg[i] <= r ? 1 : 0;
  const toBg = distanceTransform(dilated, width, height);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] || toBg[i] > r ? 1 : 0;
  return out;
}

export function openDiscByDistance(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  const toBg = distanceTransform(mask, width, height);
  const eroded = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) eroded[i] = toBg[i] > r ? 1 : 0;
  const inverse = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) inverse[i] = eroded[i] ? 0 : 1;
  const toEroded = distanceTransform(inverse, width, height);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] && (eroded[i] || toEroded[i] <= r) ? 1 : 0;
  return out;
}

/** Mean over f x f blocks (the last row/column of blocks may be partial). */
export function downsampleMean(
  src: Float32Array,
  width: number,
  height: number,
  f: number,
): { data: Float32Array; width: number; height: number } {
  if (f <= 1) return { data: src, width, height };
  const w = Math.ceil(width / f);
  const h = Math.ceil(height / f);
  const sum = new Float32Array(w * h);
  const cnt = new Float32Array(w * h);
  const col = new Int32Array(width);
  for (let x = 0; x < width; x++) col[x] = (x / f) | 0;
  for (let y = 0; y < height; y++) {
    const row = ((y / f) | 0) * w;
    const srcRow = y * width;
    for (let x = 0; x < width; x++) {
      const k = row + col[x];
      sum[k] += src[srcRow + x];
      cnt[k]++;
    }
  }
  for (let i = 0; i < sum.length; i++) sum[i] /= cnt[i];
  return { data: sum, width: w, height: h };
}
