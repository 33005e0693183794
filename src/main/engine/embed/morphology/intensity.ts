/**
 * Intensity features inside a cell mask: central pallor profile, colour, inclusions (malaria parasites are
 * dark purple spots) and texture. The green channel carries most of the haemoglobin and Giemsa/Wright
 * absorption, so intensity means green, normalised by the cell's own mean so that stain and exposure
 * differences between slides cancel.
 */
import { histBin, histQuantile, scratchI32, scratchU32, scratchU8 } from './image';

export const PALLOR_RINGS = 6;
export const LBP_BINS = 10;
const INCLUSION_THRESHOLDS = [0.12, 0.2, 0.3] as const;

export const INTENSITY_SCALAR_NAMES = [
  'pallor_centre_to_rim',
  'pallor_fraction',
  'pallor_contrast',
  'pallor_elongation',
  'pallor_offset',
  'pallor_peak_depth',
  'cell_optical_density',
  'centre_optical_density',
  'colour_mean_r',
  'colour_mean_g',
  'colour_mean_b',
  'colour_cv_r',
  'colour_cv_g',
  'colour_cv_b',
  'chroma_red',
  'chroma_blue',
  'purple_median',
  'purple_p95_excess',
  'purple_p99_excess',
  'darkness_p95',
  'darkness_p99',
  'darkness_max',
  'intensity_skewness',
  ...INCLUSION_THRESHOLDS.flatMap((t) => [`inclusion_count_${t}`, `inclusion_fraction_${t}`]),
  'inclusion_largest_fraction',
  'inclusion_purple_excess',
  'inclusion_centre_distance',
  'texture_local_deviation',
  'texture_gradient',
  'texture_gradient_interior_to_rim',
  'glcm_contrast_1',
  'glcm_homogeneity_1',
  'glcm_energy_1',
  'glcm_entropy_1',
  'glcm_correlation_1',
  'glcm_contrast_2',
  'glcm_homogeneity_2',
  'glcm_energy_2',
  'glcm_entropy_2',
  'glcm_correlation_2',
] as const;

export const INTENSITY_NAMES: readonly string[] = [
  ...Array.from({ length: PALLOR_RINGS }, (_, k) => `pallor_ring_${k}`),
  ...INTENSITY_SCALAR_NAMES,
  ...Array.from({ length: LBP_BINS }, (_, k) => (k < 9 ? `lbp_uniform_${k}` : 'lbp_nonuniform')),
];

// Per-cell accumulators, reused: allocating them for every cell showed in the profile. Each user clears
// (or overwrites) what it reads.
// Counts are integers, exact in any type, and integer increments are cheaper.
const RING_SUM = new Float64Array(PALLOR_RINGS);
const RING_COUNT = new Int32Array(PALLOR_RINGS);
const LBP = new Int32Array(LBP_BINS);
const GLCM_LEVELS = 8;
const GLCM_1 = new Int32Array(GLCM_LEVELS * GLCM_LEVELS);
const GLCM_2 = new Int32Array(GLCM_LEVELS * GLCM_LEVELS);
const GLCM_SYMMETRIC = new Float64Array(GLCM_LEVELS * GLCM_LEVELS);

/**
 * Rotation-invariant uniform LBP bin of each 8-neighbour pattern (bit k: neighbour k, clockwise from north-west,
 * at least the centre): the number of set neighbours when the circular pattern has at most two 0/1
 * transitions, else 9.
 */
const LBP_BIN_OF_CODE = Uint8Array.from({ length: 256 }, (_, code) => {
  let ones = 0;
  let transitions = 0;
  for (let bit = 0; bit < 8; bit++) {
    const a = (code >> bit) & 1;
    ones += a;
    transitions += a ^ ((code >> ((bit + 1) & 7)) & 1);
  }
  return transitions <= 2 ? ones : 9;
});

export interface IntensityInput {
  r: Float32Array;
  g: Float32Array;
  b: Float32Array;
  mask: Uint8Array;
  /** Chamfer depth of each mask pixel, pixels. */
  depth: Float32Array;
  maxDepth: number;
  width: number;
  height: number;
  cx: number;
  cy: number;
  equivalentRadius: number;
  /** Green level of the glass around the cell, or 0 when the crop is padded with black. */
  backgroundGreen: number;
  /** The mask's pixel indices in raster order (pixelCount of them), as the caller listed them. */
  pixels: Int32Array;
  pixelCount: number;
  /** Sums of r, g, b and of their squares over those pixels, added in raster order. */
  colourSums: Float64Array;
}

/** Writes INTENSITY_NAMES.length values into out from offset. */
export function writeIntensityFeatures(input: IntensityInput, out: Float32Array, offset: number): void {
  const sums = input.colourSums;
  return finishIntensityFeatures(
    input,
    input.pixels,
    input.pixelCount,
    sums[0],
    sums[1],
    sums[2],
    sums[3],
    sums[4],
    sums[5],
    out,
    offset,
  );
}

/** writeIntensityFeatures with the colour sums unpacked (the arguments its earlier gathering pass passed). */
function finishIntensityFeatures(
  input: IntensityInput,
  pixels: Int32Array,
  count: number,
  sr: number,
  sg: number,
  sb: number,
  sr2: number,
  sg2: number,
  sb2: number,
  out: Float32Array,
  offset: number,
): void {
  const { r, g, b, depth, maxDepth, width: W } = input;
  const area = Math.max(count, 1);
  const mr = sr / area;
  const mg = Math.max(sg / area, 1);
  const mb = sb / area;
  const cv = (s2: number, m: number): number => Math.sqrt(Math.max(0, s2 / area - m * m)) / Math.max(m, 1);
  const invG = 1 / mg;

  // Rings by normalised depth: ring 0 is the rim, the last ring the centre. Depth rather than radius keeps
  // rings following the outline of elongated cells.
  const ringSum = RING_SUM;
  const ringCount = RING_COUNT;
  for (let ring = 0; ring < PALLOR_RINGS; ring++) {
    ringSum[ring] = 0;
    ringCount[ring] = 0;
  }
  const invDepth = maxDepth > 0 ? 1 / maxDepth : 0;
  let centreSum = 0;
  let centreCount = 0;
  let rimSum = 0;
  let rimCount = 0;
  const hG = scratchU32(256);
  // The same pass lists the inclusion candidates (away from the rim) and the texture's interior pixels (depth
  // > 1, which also keeps the image's edge out: mask pixels there have depth exactly 1 as outside counts as
  // background) with the interior's green histogram, in raster order as their own passes did.
  const rimDepth = Math.min(2.5, 0.25 * maxDepth);
  const candidates = scratchI32(count, false);
  const interior = scratchI32(count, false);
  const hInterior = scratchU32(256);
  let candidateCount = 0;
  let interiorCount = 0;
  const hPurple = scratchU32(256);
  const hDark = scratchU32(256);
  let m3 = 0;
  let m2 = 0;
  // Consecutive pixels mostly share a ring: its sum is carried in a local while they do (the same additions in
  // the same order, without a round trip through memory per pixel).
  let ringNow = 0;
  let ringNowSum = 0;
  for (let p = 0; p < count; p++) {
    const i = pixels[p];
    const gn = g[i] * invG;
    const d = depth[i];
    const dn = d * invDepth;
    const ring = Math.min(PALLOR_RINGS - 1, Math.floor(dn * PALLOR_RINGS));
    if (ring !== ringNow) {
      ringSum[ringNow] = ringNowSum;
      ringNow = ring;
      ringNowSum = ringSum[ring];
    }
    ringNowSum += gn;
    ringCount[ring]++;
    if (dn >= 0.6) {
      centreSum += gn;
      centreCount++;
    } else if (dn < 0.3) {
      rimSum += gn;
      rimCount++;
    }
    const gBin = histBin(gn, 0, 2);
    hG[gBin]++;
    if (d > rimDepth) candidates[candidateCount++] = i;
    if (d > 1) {
      interior[interiorCount++] = i;
      hInterior[gBin]++;
    }
    const s = r[i] + g[i] + b[i] + 1;
    hPurple[histBin((b[i] - g[i]) / s, -0.5, 0.5)]++;
    const dev = gn - 1;
    m2 += dev * dev;
    m3 += dev * dev * dev;
  }
  ringSum[ringNow] = ringNowSum;
  let k = offset;
  for (let ring = 0; ring < PALLOR_RINGS; ring++)
    out[k++] = ringCount[ring] ? ringSum[ring] / ringCount[ring] : 1;

  const centre = centreCount ? centreSum / centreCount : 1;
  const rim = rimCount ? rimSum / rimCount : 1;
  const gMedian = histQuantile(hG, area, 0.5, 0, 2);
  const gP98 = histQuantile(hG, area, 0.98, 0, 2);

  // Darkness relative to the median, and pallor: the brightest interior pixels; their spread and shape
  // tell discocyte (round, central), target (ring with dark centre), stomatocyte (slit) and spherocyte
  // (none: contrast near zero).
  const pallorLevel = gMedian + 0.5 * (gP98 - gMedian);
  let pc = 0;
  let px = 0;
  let py = 0;
  let pxx = 0;
  let pyy = 0;
  let pxy = 0;
  let pSum = 0;
  let restSum = 0;
  let pDepth = 0;
  // Texture of the interior (depth > 1) in the same pass: local deviation and gradient, grey levels for the
  // co-occurrence matrix, rotation-invariant uniform LBP (see writeTexture, which finishes it). Grey levels
  // span the cell's own 2..98% range, so they describe texture shape; absolute contrast is in the deviation
  // and gradient features.
  const levels = GLCM_LEVELS;
  const lo = histQuantile(hInterior, interiorCount, 0.02, 0, 2);
  const hi = Math.max(histQuantile(hInterior, interiorCount, 0.98, 0, 2), lo + 1e-3);
  const levelScale = levels / (hi - lo);
  const q = scratchU8(W * input.height, false).fill(255);
  let devSum = 0;
  let gradInterior = 0;
  let gradRim = 0;
  let deepCount = 0;
  let edgeCount = 0;
  const lbp = LBP;
  for (let j = 0; j < LBP_BINS; j++) lbp[j] = 0;
  const tol = 0.015 / invG;
  for (let p = 0; p < count; p++) {
    const i = pixels[p];
    const gi = g[i];
    const d = depth[i];
    const gn = gi * invG;
    hDark[histBin(1 - gn / gMedian, -1, 1)]++;
    if (gn > pallorLevel && d * invDepth >= 0.2) {
      const y = (i / W) | 0;
      const x = i - y * W;
      pc++;
      px += x;
      py += y;
      pxx += x * x;
      pyy += y * y;
      pxy += x * y;
      pSum += gn;
      pDepth += d * invDepth;
    } else {
      restSum += gn;
    }
    if (d <= 1) continue;
    const nw = g[i - W - 1];
    const nn = g[i - W];
    const ne = g[i - W + 1];
    const ee = g[i + 1];
    const se = g[i + W + 1];
    const ss = g[i + W];
    const sw = g[i + W - 1];
    const ww = g[i - 1];
    const gx = (ee - ww) * invG * 0.5;
    const gy = (ss - nn) * invG * 0.5;
    const grad = Math.sqrt(gx * gx + gy * gy);
    if (d > 2.5) {
      const mean = (nw + nn + ne + ww + gi + ee + sw + ss + se) * (1 / 9);
      devSum += Math.abs(gi - mean) * invG;
      gradInterior += grad;
      deepCount++;
    } else {
      gradRim += grad;
      edgeCount++;
    }
    const level = Math.floor((gi * invG - lo) * levelScale);
    q[i] = level < 0 ? 0 : level >= levels ? levels - 1 : level;
    // LBP, neighbours clockwise from north-west; the tolerance keeps flat regions from reading as noise.
    const c = gi + tol;
    const code =
      (nw >= c ? 1 : 0) |
      (nn >= c ? 2 : 0) |
      (ne >= c ? 4 : 0) |
      (ee >= c ? 8 : 0) |
      (se >= c ? 16 : 0) |
      (ss >= c ? 32 : 0) |
      (sw >= c ? 64 : 0) |
      (ww >= c ? 128 : 0);
    lbp[LBP_BIN_OF_CODE[code]]++;
  }
  TEXTURE_SUMS[0] = devSum;
  TEXTURE_SUMS[1] = gradInterior;
  TEXTURE_SUMS[2] = gradRim;
  TEXTURE_SUMS[3] = deepCount;
  TEXTURE_SUMS[4] = edgeCount;
  let pallorElongation = 1;
  let pallorOffset = 0;
  if (pc >= 3) {
    const mx = px / pc;
    const my = py / pc;
    const cxx = pxx / pc - mx * mx;
    const cyy = pyy / pc - my * my;
    const cxy = pxy / pc - mx * my;
    const tr = (cxx + cyy) / 2;
    const disc = Math.sqrt(Math.max(0, ((cxx - cyy) / 2) ** 2 + cxy * cxy));
    const l1 = tr + disc;
    const l2 = Math.max(0, tr - disc);
    pallorElongation = l1 > 0 ? Math.sqrt(l2 / l1) : 1;
    pallorOffset = Math.hypot(mx - input.cx, my - input.cy) / Math.max(input.equivalentRadius, 1);
  }
  const restCount = area - pc;
  out[k++] = rim > 0 ? centre / rim : 1;
  out[k++] = pc / area;
  out[k++] = pc && restCount > 0 ? pSum / pc - restSum / restCount : 0;
  out[k++] = pallorElongation;
  out[k++] = pallorOffset;
  out[k++] = pc ? pDepth / pc : 0;

  // Absorbance relative to the glass: hypochromic cells are pale against it. Unavailable on black padding.
  const bgG = input.backgroundGreen;
  // The logarithms are taken whether or not they are used: a branch run only for the odd crop with a glass
  // frame (bgG is 0 or at least 40) had no type feedback, and optimised code deoptimised there again and again.
  const cellLog = Math.log(Math.max(bgG, 1) / mg);
  const centreLog = Math.log(Math.max(bgG, 1) / Math.max(centre * mg, 1));
  out[k++] = bgG > 0 ? cellLog : 0;
  out[k++] = bgG > 0 ? centreLog : 0;

  out[k++] = mr / 255;
  out[k++] = mg / 255;
  out[k++] = mb / 255;
  out[k++] = cv(sr2, mr);
  out[k++] = cv(sg2, mg);
  out[k++] = cv(sb2, mb);
  const sum = mr + mg + mb + 1;
  out[k++] = mr / sum;
  out[k++] = mb / sum;
  const purpleMedian = histQuantile(hPurple, area, 0.5, -0.5, 0.5);
  out[k++] = purpleMedian;
  out[k++] = histQuantile(hPurple, area, 0.95, -0.5, 0.5) - purpleMedian;
  out[k++] = histQuantile(hPurple, area, 0.99, -0.5, 0.5) - purpleMedian;
  out[k++] = histQuantile(hDark, area, 0.95, -1, 1);
  out[k++] = histQuantile(hDark, area, 0.99, -1, 1);
  out[k++] = histQuantile(hDark, area, 1, -1, 1);
  const sd = Math.sqrt(m2 / area);
  out[k++] = sd > 1e-6 ? m3 / area / (sd * sd * sd) : 0;

  k = writeInclusions(
    input,
    candidates,
    candidateCount,
    rimDepth,
    invG / gMedian,
    area,
    purpleMedian,
    out,
    k,
  );
  writeTexture(input, interior, interiorCount, q, out, k);
}

/**
 * Dark spots away from the rim (the rim of a biconcave cell is darker than its centre in every cell, so it
 * must not count): count and area at three darkness levels, then the purple excess and position of the
 * spots at the middle level.
 */
function writeInclusions(
  input: IntensityInput,
  candidates: Int32Array,
  m: number,
  rimDepth: number,
  scale: number,
  area: number,
  purpleMedian: number,
  out: Float32Array,
  k: number,
): number {
  const { r, g, b, width: W, height: H } = input;
  const n = W * H;
  // Candidates (mask pixels deeper than rimDepth, listed by the caller): each level visits only them. Mask
  // pixels on the image border have depth exactly 1, so with rimDepth >= 1 no candidate lies on the border.
  const spot = scratchU8(n);
  // Spots are only ever set at candidate pixels, so the flood's bookkeeping needs clearing only there.
  const seen = scratchU8(n, false);
  const stack = scratchI32(m, false);
  let largest = 0;
  let purpleExcess = 0;
  let centreDistance = 0;
  for (const t of INCLUSION_THRESHOLDS) {
    let spots = 0;
    let spotPixels = 0;
    for (let c = 0; c < m; c++) {
      const i = candidates[c];
      const on = 1 - g[i] * scale > t ? 1 : 0;
      spot[i] = on;
      spotPixels += on;
    }
    if (spotPixels > 0) {
      const big = spotComponents(spot, candidates, m, W, H, seen, stack, rimDepth >= 1);
      spots = componentsOfTwoOrMore;
      if (t === 0.2) {
        largest = big / area;
        let ps = 0;
        let mx = 0;
        let my = 0;
        for (let c = 0; c < m; c++) {
          const i = candidates[c];
          if (!spot[i]) continue;
          const y = (i / W) | 0;
          ps += (b[i] - g[i]) / (r[i] + g[i] + b[i] + 1);
          mx += i - y * W;
          my += y;
        }
        purpleExcess = ps / spotPixels - purpleMedian;
        centreDistance =
          Math.hypot(mx / spotPixels - input.cx, my / spotPixels - input.cy) /
          Math.max(input.equivalentRadius, 1);
      }
    }
    out[k++] = spots;
    out[k++] = spotPixels / area;
  }
  out[k++] = largest;
  out[k++] = purpleExcess;
  out[k++] = centreDistance;
  return k;
}

let componentsOfTwoOrMore = 0;

/**
 * 8-connected components of the spot pixels (all among the m candidates): returns the largest component's
 * size and leaves the number of components of two or more pixels in componentsOfTwoOrMore. The same
 * components as labelComponents over the whole image, flooded from the candidates only.
 */
function spotComponents(
  spot: Uint8Array,
  candidates: Int32Array,
  m: number,
  W: number,
  H: number,
  seen: Uint8Array,
  stack: Int32Array,
  offBorder: boolean,
): number {
  for (let c = 0; c < m; c++) seen[candidates[c]] = 0;
  let largest = 0;
  let twoOrMore = 0;
  for (let c = 0; c < m; c++) {
    const s = candidates[c];
    if (!spot[s] || seen[s]) continue;
    let top = 0;
    stack[top++] = s;
    seen[s] = 1;
    let size = 0;
    if (offBorder) {
      // No spot pixel touches the image border: every neighbour exists, no coordinates needed.
      while (top > 0) {
        const i = stack[--top];
        size++;
        for (let j = i - W - 1; j <= i + W - 1; j += W) {
          if (spot[j] && !seen[j]) {
            seen[j] = 1;
            stack[top++] = j;
          }
          if (spot[j + 1] && !seen[j + 1]) {
            seen[j + 1] = 1;
            stack[top++] = j + 1;
          }
          if (spot[j + 2] && !seen[j + 2]) {
            seen[j + 2] = 1;
            stack[top++] = j + 2;
          }
        }
      }
      if (size >= 2) twoOrMore++;
      if (size > largest) largest = size;
      continue;
    }
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
          if (spot[j] && !seen[j]) {
            seen[j] = 1;
            stack[top++] = j;
          }
        }
      }
    }
    if (size >= 2) twoOrMore++;
    if (size > largest) largest = size;
  }
  componentsOfTwoOrMore = twoOrMore;
  return largest;
}

// Texture sums of the pallor pass, for writeTexture: deviation, interior and rim gradient, their counts.
const TEXTURE_SUMS = new Float64Array(5);

/**
 * Texture of the interior (depth > 1 px): local deviation and gradient, grey-level co-occurrence statistics
 * at distances 1 and 2 (horizontal and vertical pairs), and rotation-invariant uniform LBP. The per-pixel
 * part ran in the pallor pass (TEXTURE_SUMS, LBP and the grey levels q); this writes the features and counts
 * the co-occurrences over the interior list.
 */
function writeTexture(
  input: IntensityInput,
  interiorList: Int32Array,
  count: number,
  q: Uint8Array,
  out: Float32Array,
  k: number,
): number {
  const { width: W, height: H } = input;
  const n = W * H;
  const levels = GLCM_LEVELS;
  const lbp = LBP;
  const devSum = TEXTURE_SUMS[0];
  const gradInterior = TEXTURE_SUMS[1];
  const gradRim = TEXTURE_SUMS[2];
  const interior = TEXTURE_SUMS[3];
  const rimCount = TEXTURE_SUMS[4];
  out[k++] = interior ? devSum / interior : 0;
  out[k++] = interior ? gradInterior / interior : 0;
  const gi = interior ? gradInterior / interior : 0;
  const gr = rimCount ? gradRim / rimCount : 0;
  out[k++] = gr > 1e-6 ? gi / gr : 0;

  const m1 = GLCM_1;
  const m2 = GLCM_2;
  for (let j = 0; j < levels * levels; j++) {
    m1[j] = 0;
    m2[j] = 0;
  }
  for (let t = 0; t < count; t++) {
    const i = interiorList[t];
    const a = q[i];
    let c = q[i + 1];
    if (c !== 255) m1[a * levels + c]++;
    if (i + W < n && (c = q[i + W]) !== 255) m1[a * levels + c]++;
    if ((c = q[i + 2]) !== 255) m2[a * levels + c]++;
    if (i + 2 * W < n && (c = q[i + 2 * W]) !== 255) m2[a * levels + c]++;
  }
  k = writeGlcm(m1, levels, out, k);
  k = writeGlcm(m2, levels, out, k);
  for (let j = 0; j < LBP_BINS; j++) out[k + j] = count ? lbp[j] / count : 0;
  return k + LBP_BINS;
}

/** Contrast, homogeneity, energy, entropy and correlation of a co-occurrence count matrix (symmetrised). */
function writeGlcm(counts: Int32Array, levels: number, out: Float32Array, k: number): number {
  const m = GLCM_SYMMETRIC;
  let total = 0;
  for (let a = 0; a < levels; a++) {
    for (let c = 0; c < levels; c++) {
      const v = counts[a * levels + c] + counts[c * levels + a];
      m[a * levels + c] = v;
      total += v;
    }
  }
  let contrast = 0;
  let homogeneity = 0;
  let energy = 0;
  let entropy = 0;
  let mean = 0;
  if (total > 0) {
    for (let i = 0; i < levels * levels; i++) m[i] /= total;
    for (let a = 0; a < levels; a++) {
      for (let c = 0; c < levels; c++) {
        const p = m[a * levels + c];
        if (p === 0) continue;
        contrast += (a - c) * (a - c) * p;
        homogeneity += p / (1 + Math.abs(a - c));
        energy += p * p;
        entropy -= p * Math.log(p);
        mean += a * p;
      }
    }
  }
  let variance = 0;
  let cov = 0;
  for (let a = 0; a < levels; a++) {
    for (let c = 0; c < levels; c++) {
      const p = m[a * levels + c];
      variance += (a - mean) * (a - mean) * p;
      cov += (a - mean) * (c - mean) * p;
    }
  }
  out[k++] = contrast;
  out[k++] = homogeneity;
  out[k++] = energy;
  out[k++] = entropy;
  out[k++] = variance > 1e-9 ? cov / variance : 0;
  return k;
}
