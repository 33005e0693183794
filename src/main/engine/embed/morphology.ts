/**
 * Built-in morphology embedder: a deterministic, named feature vector per cell from its crop (and mask),
 * with no model weights. It is the default model until a ViT is added, so it must be fast (thousands of
 * cells per second on one core) and separate the morphologies technicians label: size, shape, crenation,
 * central pallor, inclusions.
 */
import {
  type CellCrop,
  type Planes,
  chamferDistance,
  cropPlanes,
  resetScratch,
  scratchI32,
  scratchU32,
  toPlanes,
} from './morphology/image';
import { INTENSITY_NAMES, writeIntensityFeatures } from './morphology/intensity';
import { type Segmentation, maskAtScale, segmentCentredCell, segmentationFactor } from './morphology/mask';
import {
  LOW_HARMONICS,
  SIGNATURE_SAMPLES,
  convexHull,
  countSpicules,
  feretDiameters,
  outlinePolygonArea,
  radiusSpectrum,
  traceOutline,
} from './morphology/shape';

export type { CellCrop } from './morphology/image';
export { maskFromCrop } from './morphology/mask';

/** Bump when any feature changes meaning, so stored embeddings of an older version are recomputed. */
export const MORPHOLOGY_MODEL_VERSION = 2;
export const MORPHOLOGY_MODEL_NAME = `morphology-v${MORPHOLOGY_MODEL_VERSION}`;

const SIZE_SHAPE_NAMES = [
  'area_px',
  'equivalent_diameter_px',
  'perimeter_px',
  'major_axis_px',
  'minor_axis_px',
  'feret_max_px',
  'feret_min_px',
  'inscribed_radius_px',
  'log_area',
  'area_fraction_of_crop',
  'border_contact',
  'circularity',
  'convexity',
  'solidity',
  'eccentricity',
  'elongation',
  'feret_ratio',
  'extent',
  'inscribed_to_equivalent_radius',
  'radius_cv',
  'radius_min',
  'radius_max',
  'axial_skewness',
  ...Array.from({ length: LOW_HARMONICS }, (_, k) => `fourier_h${k + 1}`),
  'boundary_energy_9_16',
  'boundary_energy_17_32',
  'boundary_high_frequency_ratio',
  'spicule_count',
  'spicule_height',
] as const;

/** Name of each dimension, in order. */
export const MORPHOLOGY_FEATURE_NAMES: readonly string[] = Object.freeze([
  ...SIZE_SHAPE_NAMES,
  ...INTENSITY_NAMES,
]);
export const MORPHOLOGY_DIMS = MORPHOLOGY_FEATURE_NAMES.length;

/** Feature vector of one cell. Uses crop.mask when given, else segments the centred cell. */
export function morphologyFeatures(crop: CellCrop): Float32Array {
  const out = new Float32Array(MORPHOLOGY_DIMS);
  writeMorphologyFeatures(crop, out, 0);
  return out;
}

export interface MorphologyBatchOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

/** Feature vectors of many cells, row-major (n x MORPHOLOGY_DIMS). */
export function morphologyFeaturesBatch(
  crops: readonly CellCrop[],
  options: MorphologyBatchOptions = {},
): Float32Array {
  const total = crops.length;
  const out = new Float32Array(total * MORPHOLOGY_DIMS);
  const every = 256;
  for (let i = 0; i < total; i++) {
    if (i % every === 0) {
      options.signal?.throwIfAborted();
      options.onProgress?.(i, total, 'morphology');
    }
    writeMorphologyFeatures(crops[i], out, i * MORPHOLOGY_DIMS);
  }
  options.onProgress?.(total, total, 'morphology');
  return out;
}

/** Computes the features of one crop into out at offset. */
export function writeMorphologyFeatures(crop: CellCrop, out: Float32Array, offset: number): void {
  if (crop.width < 1 || crop.height < 1 || crop.rgb.length < crop.width * crop.height * 3) {
    throw new Error(`cell crop ${crop.width}x${crop.height} has ${crop.rgb.length} RGB bytes`);
  }
  if (crop.mask && crop.mask.length < crop.width * crop.height) {
    throw new Error(`cell mask has ${crop.mask.length} values for a ${crop.width}x${crop.height} crop`);
  }
  resetScratch();
  const { planes, mask, area, boxArea, offsetX, offsetY, workingWidth, workingHeight, factor } =
    locateCell(crop);
  const { width: W, height: H } = planes;
  const cropW = workingWidth;
  const cropH = workingHeight;
  const ox = offsetX;
  const oy = offsetY;
  const glassGreen = frameGlassGreen(crop);

  // Moments: raw sums in one pass (exact integers in doubles), then the third moment along the major axis.
  // The same pass lists the mask's pixels in raster order (rowStart[y] is row y's first), so no later pass
  // scans the box again.
  const pixels = scratchI32(W * H, false);
  const rowStart = scratchI32(H + 1, false);
  let pixelCount = 0;
  // Colour sums for the intensity features, in the same raster order their own pass would take.
  const { r: pr, g: pg, b: pb } = planes;
  let sr = 0;
  let sg = 0;
  let sb = 0;
  let sr2 = 0;
  let sg2 = 0;
  let sb2 = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let y = 0; y < H; y++) {
    const row = y * W;
    rowStart[y] = pixelCount;
    let rowCount = 0;
    let rowX = 0;
    let rowXX = 0;
    for (let x = 0; x < W; x++) {
      const i = row + x;
      if (!mask[i]) continue;
      pixels[pixelCount++] = i;
      rowCount++;
      rowX += x;
      rowXX += x * x;
      const vr = pr[i];
      const vg = pg[i];
      const vb = pb[i];
      sr += vr;
      sg += vg;
      sb += vb;
      sr2 += vr * vr;
      sg2 += vg * vg;
      sb2 += vb * vb;
    }
    sx += rowX;
    sy += rowCount * y;
    sxx += rowXX;
    syy += rowCount * y * y;
    sxy += rowX * y;
  }
  const cx = sx / area;
  const cy = sy / area;
  const mxx = sxx / area - cx * cx;
  const myy = syy / area - cy * cy;
  const mxy = sxy / area - cx * cy;
  const half = (mxx + myy) / 2;
  const disc = Math.sqrt(((mxx - myy) / 2) ** 2 + mxy * mxy);
  const l1 = half + disc;
  const l2 = Math.max(half - disc, 1e-9);
  const theta = 0.5 * Math.atan2(2 * mxy, mxx - myy);
  const ux = Math.cos(theta);
  const uy = Math.sin(theta);
  rowStart[H] = pixelCount;
  let m3 = 0;
  for (let y = 0; y < H; y++) {
    const row = y * W;
    const ty = (y - cy) * uy;
    for (let p = rowStart[y]; p < rowStart[y + 1]; p++) {
      const t = (pixels[p] - row - cx) * ux + ty;
      m3 += t * t * t;
    }
  }
  const axialSkewness = Math.abs(m3 / area / Math.pow(l1, 1.5));

  const depth = chamferDistance(mask, W, H);
  let maxDepth = 0;
  for (let p = 0; p < pixelCount; p++) if (depth[pixels[p]] > maxDepth) maxDepth = depth[pixels[p]];

  const outline = traceOutline(mask, W, H);
  const hull = convexHull(outline);
  const polygonArea = outlinePolygonArea(outline);
  const feret = feretDiameters(hull);
  const spectrum = radiusSpectrum(outline, cx, cy);
  const spicules = countSpicules(spectrum, 0.03);
  let borderContact = 0;
  for (let i = 0; i < outline.length; i++) {
    const x = outline.xs[i];
    const y = outline.ys[i];
    if (x + ox === 0 || y + oy === 0 || x + ox === cropW - 1 || y + oy === cropH - 1) borderContact++;
  }

  const f = factor;
  const perimeter = Math.max(outline.perimeter, 1);
  const equivalentRadius = Math.sqrt(area / Math.PI);
  let rMin = Infinity;
  let rMax = 0;
  let r2 = 0;
  for (let t = 0; t < SIGNATURE_SAMPLES; t++) {
    const v = spectrum.signature[t];
    if (v < rMin) rMin = v;
    if (v > rMax) rMax = v;
    r2 += (v - 1) * (v - 1);
  }
  const mags = spectrum.magnitudes;
  const e916 = spectrum.energy9to16;
  const e1732 = spectrum.energy17up;
  const eAll = spectrum.energyAll;

  let k = offset;
  out[k++] = area * f * f;
  out[k++] = 2 * equivalentRadius * f;
  out[k++] = perimeter * f;
  out[k++] = 4 * Math.sqrt(l1) * f;
  out[k++] = 4 * Math.sqrt(l2) * f;
  out[k++] = feret.max * f;
  out[k++] = feret.min * f;
  out[k++] = maxDepth * f;
  out[k++] = Math.log(area * f * f);
  out[k++] = area / (cropW * cropH);
  out[k++] = outline.length ? borderContact / outline.length : 0;
  out[k++] = (4 * Math.PI * area) / (perimeter * perimeter);
  out[k++] = hull.perimeter > 0 ? Math.min(1.5, hull.perimeter / perimeter) : 1;
  out[k++] = hull.area > 0 ? Math.min(1, polygonArea / hull.area) : 1;
  out[k++] = Math.sqrt(1 - l2 / l1);
  out[k++] = Math.sqrt(l1 / l2);
  out[k++] = feret.max / Math.max(feret.min, 1);
  out[k++] = area / boxArea;
  out[k++] = maxDepth / Math.max(equivalentRadius, 1);
  out[k++] = Math.sqrt(r2 / SIGNATURE_SAMPLES);
  out[k++] = Number.isFinite(rMin) ? rMin : 1;
  out[k++] = rMax;
  out[k++] = Number.isFinite(axialSkewness) ? axialSkewness : 0;
  for (let h = 1; h <= LOW_HARMONICS; h++) out[k++] = mags[h];
  out[k++] = Math.sqrt(e916);
  out[k++] = Math.sqrt(e1732);
  out[k++] = eAll > 0 ? (e916 + e1732) / eAll : 0;
  out[k++] = spicules.count;
  out[k++] = spicules.meanHeight;

  writeIntensityFeatures(
    {
      r: planes.r,
      g: planes.g,
      b: planes.b,
      mask,
      depth,
      maxDepth,
      width: W,
      height: H,
      cx,
      cy,
      equivalentRadius,
      backgroundGreen: glassGreen,
      pixels,
      pixelCount,
      colourSums: colourSums(sr, sg, sb, sr2, sg2, sb2),
    },
    out,
    k,
  );
}

/**
 * Cells are analysed at the smallest integer downsampling that brings their diameter to at most this many
 * pixels: cost is bounded whatever the magnification, and texture is compared at a like scale. Measured with
 * the kNN benchmark (bench/morphology.ts, weighted F1): against the earlier rule (the factor bringing the
 * diameter nearest 28 px), Chula 0.731 -> 0.734 with most cells at ~19 px instead of ~38 (a quarter of the
 * pixels), NIH 0.922 -> 0.925; going further down, to ~20 px NIH cells, cost NIH 0.02.
 */
const CELL_DIAMETER_MAX = 32;
/**
 * At factors of 4 and more (cells over 96 px across) each working pixel averages the central half of its block
 * (toPlanes' `central`), reading a quarter of the pixels: NIH crops 1.2-1.5x faster for 0.004 weighted F1.
 */
const CENTRAL_SAMPLING = true;

function workingFactor(areaNative: number): number {
  const diameter = 2 * Math.sqrt(areaNative / Math.PI);
  return Math.max(1, Math.ceil(diameter / CELL_DIAMETER_MAX));
}

const COLOUR_SUMS = new Float64Array(6);

function colourSums(sr: number, sg: number, sb: number, sr2: number, sg2: number, sb2: number): Float64Array {
  COLOUR_SUMS[0] = sr;
  COLOUR_SUMS[1] = sg;
  COLOUR_SUMS[2] = sb;
  COLOUR_SUMS[3] = sr2;
  COLOUR_SUMS[4] = sg2;
  COLOUR_SUMS[5] = sb2;
  return COLOUR_SUMS;
}

interface LocatedCell {
  /** Working-resolution planes and mask of the cell's box plus a one-pixel margin (where the crop has one). */
  planes: Planes;
  mask: Uint8Array;
  area: number;
  /** Area of the mask's bounding box (at least 1). */
  boxArea: number;
  /** Box origin in the working image, and the working image size. */
  offsetX: number;
  offsetY: number;
  workingWidth: number;
  workingHeight: number;
  factor: number;
}

/**
 * Finds the cell (the given mask, or segmentation of a downsampled copy) and returns it at working
 * resolution, cut to its box: most of a smear window is background and need not be touched again.
 */
function locateCell(crop: CellCrop): LocatedCell {
  let factor: number;
  let regionPlanes: Planes;
  let regionMask: Uint8Array;
  let region: Region;
  let mask = crop.mask;
  let seg: Segmentation | undefined;
  const segFactor = segmentationFactor(crop.width, crop.height);
  if (!mask) {
    seg = segmentCentredCell(
      toPlanes({ rgb: crop.rgb, width: crop.width, height: crop.height }, segFactor).planes,
    );
    // A full-resolution segmentation is handled exactly like a supplied mask, so both give the same vector.
    if (segFactor === 1) mask = seg.mask;
  }
  if (mask) {
    const box = maskBox(mask, crop.width, crop.height);
    factor = workingFactor(box.area);
    region = workingRegion(box, 1, factor, crop.width, crop.height, 1);
    const located = toPlanes(
      { rgb: crop.rgb, width: crop.width, height: crop.height, mask },
      factor,
      region,
      CENTRAL_SAMPLING,
    );
    regionPlanes = located.planes;
    regionMask = located.mask ?? new Uint8Array(regionPlanes.width * regionPlanes.height);
  } else if (seg) {
    const box = maskBox(seg.mask, seg.width, seg.height);
    factor = workingFactor(box.area * segFactor * segFactor);
    // The refined outline may move up to one coarse pixel beyond the coarse one: a wider margin.
    region = workingRegion(
      box,
      segFactor,
      factor,
      crop.width,
      crop.height,
      Math.ceil(segFactor / factor) + 1,
    );
    regionPlanes = toPlanes(
      { rgb: crop.rgb, width: crop.width, height: crop.height },
      factor,
      region,
      CENTRAL_SAMPLING,
    ).planes;
    regionMask = maskAtScale(seg, segFactor, regionPlanes, factor, region.x0, region.y0);
  } else {
    throw new Error('unreachable: a crop has a mask or a segmentation');
  }
  const workingWidth = Math.max(1, Math.floor(crop.width / factor));
  const workingHeight = Math.max(1, Math.floor(crop.height / factor));
  let box = maskBox(regionMask, regionPlanes.width, regionPlanes.height);
  if (box.area < 4) {
    // A mask too small to describe (bad annotation): describe the whole region instead, deterministically.
    regionMask.fill(1);
    box = maskBox(regionMask, regionPlanes.width, regionPlanes.height);
  }
  // Same box and margin whichever way the mask came, so a supplied mask equal to the segmented one gives
  // identical features.
  const x0 = Math.max(0, box.x0 - 1, -region.x0);
  const y0 = Math.max(0, box.y0 - 1, -region.y0);
  const x1 = Math.min(regionPlanes.width - 1, box.x1 + 1, workingWidth - 1 - region.x0);
  const y1 = Math.min(regionPlanes.height - 1, box.y1 + 1, workingHeight - 1 - region.y0);
  const cut = cropPlanes(regionPlanes, regionMask, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
  return {
    planes: cut.planes,
    mask: cut.mask,
    area: box.area,
    // The cut holds the whole box, so this is the cut mask's own bounding box.
    boxArea: Math.max(1, (box.x1 - box.x0 + 1) * (box.y1 - box.y0 + 1)),
    offsetX: region.x0 + x0,
    offsetY: region.y0 + y0,
    workingWidth,
    workingHeight,
    factor,
  };
}

interface Region {
  x0: number;
  y0: number;
  width: number;
  height: number;
}

interface MaskBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  area: number;
}

const NO_WORDS = new Int32Array(0);

/**
 * Bounding box and pixel count of a mask's non-zero bytes. The count runs four bytes at a time over the whole
 * buffer (a carry-free sum of per-byte flags); the box needs only each row's ends, found by scanning in from
 * both sides, so the cell's interior is not read byte by byte.
 */
function maskBox(mask: Uint8Array, W: number, H: number): MaskBox {
  const n = W * H;
  let area = 0;
  let i = 0;
  const head = Math.min(n, (4 - (mask.byteOffset & 3)) & 3);
  for (; i < head; i++) if (mask[i]) area++;
  const words = (n - i) >> 2;
  const view = words > 0 ? new Int32Array(mask.buffer, mask.byteOffset + i, words) : NO_WORDS;
  for (let k = 0; k < words; k++) {
    const w = view[k];
    // 0x80 in each byte that is non-zero, then the number of such bytes.
    const flags = (((w & 0x7f7f7f7f) + 0x7f7f7f7f) | w) & 0x80808080;
    area += Math.imul(flags >>> 7, 0x01010101) >>> 24;
  }
  const tail = head + 4 * words;
  for (i = tail; i < n; i++) if (mask[i]) area++;
  if (area === 0) return { x0: 0, y0: 0, x1: W - 1, y1: H - 1, area: 0 };
  // First and last set bytes, skipping empty words: the rows above and below the cell are not scanned.
  let first = 0;
  while (first < head && !mask[first]) first++;
  if (first === head) {
    let k = 0;
    while (k < words && view[k] === 0) k++;
    first = head + 4 * k;
    while (!mask[first]) first++;
  }
  let last = n - 1;
  while (last >= tail && !mask[last]) last--;
  if (last < tail) {
    let k = words - 1;
    while (k >= 0 && view[k] === 0) k--;
    last = head + 4 * k + 3;
    while (!mask[last]) last--;
  }
  let x0 = W;
  let y0 = H;
  let x1 = -1;
  let y1 = -1;
  const yLast = Math.floor(last / W);
  for (let y = Math.floor(first / W); y <= yLast; y++) {
    const row = y * W;
    let a = 0;
    while (a < W && !mask[row + a]) a++;
    if (a === W) continue;
    let e = W - 1;
    while (!mask[row + e]) e--;
    if (a < x0) x0 = a;
    if (e > x1) x1 = e;
    if (y0 === H) y0 = y;
    y1 = y;
  }
  if (x1 < 0) return { x0: 0, y0: 0, x1: W - 1, y1: H - 1, area: 0 };
  return { x0, y0, x1, y1, area };
}

/** A box at scale `from` (pixels of `from` native pixels) as a region of the working image, plus a margin. */
function workingRegion(
  box: MaskBox,
  from: number,
  factor: number,
  width: number,
  height: number,
  margin: number,
): Region {
  const W = Math.max(1, Math.floor(width / factor));
  const H = Math.max(1, Math.floor(height / factor));
  const x0 = Math.max(0, Math.floor((box.x0 * from) / factor) - margin);
  const y0 = Math.max(0, Math.floor((box.y0 * from) / factor) - margin);
  const x1 = Math.min(W - 1, Math.floor(((box.x1 + 1) * from - 1) / factor) + margin);
  const y1 = Math.min(H - 1, Math.floor(((box.y1 + 1) * from - 1) / factor) + margin);
  return { x0, y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/**
 * Green level of the glass: upper quartile of the crop's one-pixel frame (in a smear window the frame is
 * mostly glass even between crowded cells); 0 when the frame is black padding. Independent of the mask so a
 * supplied mask and a segmented one agree.
 */
function frameGlassGreen(crop: CellCrop): number {
  const { rgb, width: w, height: h } = crop;
  const hist = scratchU32(256);
  let count = 0;
  for (let x = 0; x < w; x++) {
    hist[rgb[x * 3 + 1]]++;
    count++;
    if (h > 1) {
      hist[rgb[((h - 1) * w + x) * 3 + 1]]++;
      count++;
    }
  }
  for (let y = 1; y < h - 1; y++) {
    hist[rgb[y * w * 3 + 1]]++;
    count++;
    if (w > 1) {
      hist[rgb[(y * w + w - 1) * 3 + 1]]++;
      count++;
    }
  }
  let acc = 0;
  for (let v = 0; v < 256; v++) {
    acc += hist[v];
    if (acc >= 0.75 * count) return v < 40 ? 0 : v;
  }
  return 0;
}

export interface Standardizer {
  mean: Float32Array;
  std: Float32Array;
}

/**
 * Per-project standardisation (z-score per dimension) fitted on the project's own cells. A constant
 * dimension (e.g. background absorbance on black-padded crops) gets std 1 so it maps to 0, not NaN.
 */
export function fitStandardizer(features: Float32Array, n: number, dims: number): Standardizer {
  if (features.length < n * dims)
    throw new Error(`features hold ${features.length} values, expected ${n}x${dims}`);
  const mean = new Float64Array(dims);
  const m2 = new Float64Array(dims);
  for (let i = 0; i < n; i++) {
    const row = i * dims;
    for (let d = 0; d < dims; d++) mean[d] += features[row + d];
  }
  for (let d = 0; d < dims; d++) mean[d] /= Math.max(n, 1);
  for (let i = 0; i < n; i++) {
    const row = i * dims;
    for (let d = 0; d < dims; d++) {
      const v = features[row + d] - mean[d];
      m2[d] += v * v;
    }
  }
  const std = new Float32Array(dims);
  for (let d = 0; d < dims; d++) {
    const s = Math.sqrt(m2[d] / Math.max(n - 1, 1));
    std[d] = s > 1e-6 * Math.max(1, Math.abs(mean[d])) ? s : 1;
  }
  return { mean: Float32Array.from(mean), std };
}

/**
 * Z-scores with the fitted standardizer, clipped to +-STANDARD_CLIP so one extreme dimension (a mis-segmented
 * cell) cannot dominate cosine similarity. Returns a new array.
 */
export function applyStandardizer(
  features: Float32Array,
  n: number,
  dims: number,
  standardizer: Standardizer,
): Float32Array {
  const { mean, std } = standardizer;
  if (mean.length !== dims || std.length !== dims)
    throw new Error(`standardizer has ${mean.length} dims, expected ${dims}`);
  const out = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    const row = i * dims;
    for (let d = 0; d < dims; d++) {
      const z = (features[row + d] - mean[d]) / std[d];
      out[row + d] = z > STANDARD_CLIP ? STANDARD_CLIP : z < -STANDARD_CLIP ? -STANDARD_CLIP : z;
    }
  }
  return out;
}

export const STANDARD_CLIP = 6;
