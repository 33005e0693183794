/**
 * Built-in morphology embedder: a deterministic, named feature vector per cell from its crop (and mask),
 * with no model weights. It is the default model until a ViT is added, so it must be fast (thousands of
 * cells per second on one core) and separate the morphologies technicians label: size, shape, crenation,
 * central pallor, inclusions.
 */
import { type CellCrop, chamferDistance, cropPlanes, toPlanes } from './morphology/image';
import { INTENSITY_NAMES, writeIntensityFeatures } from './morphology/intensity';
import { segmentCentredCell } from './morphology/mask';
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
export const MORPHOLOGY_MODEL_VERSION = 1;
export const MORPHOLOGY_MODEL_NAME = `morphology-v${MORPHOLOGY_MODEL_VERSION}`;

/**
 * Crops are box-downsampled by an integer factor to about this side before analysis: bounds the cost of
 * 128 px crops while keeping cells 40-80 px across. Size features are reported in original pixels.
 */
const WORKING_SIDE = 80;

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
  const factor = Math.max(1, Math.round(Math.max(crop.width, crop.height) / WORKING_SIDE));
  const working = toPlanes(crop, factor);
  const cropW = working.planes.width;
  const cropH = working.planes.height;
  let fullMask = working.mask ?? segmentCentredCell(working.planes);
  let bx0 = cropW;
  let by0 = cropH;
  let bx1 = -1;
  let by1 = -1;
  let area = 0;
  for (let y = 0; y < cropH; y++) {
    for (let x = 0; x < cropW; x++) {
      if (!fullMask[y * cropW + x]) continue;
      area++;
      if (x < bx0) bx0 = x;
      if (x > bx1) bx1 = x;
      if (y < by0) by0 = y;
      if (y > by1) by1 = y;
    }
  }
  if (area < 4) {
    // A mask too small to describe (bad annotation): describe the whole crop instead, deterministically.
    fullMask = new Uint8Array(cropW * cropH).fill(1);
    area = cropW * cropH;
    bx0 = 0;
    by0 = 0;
    bx1 = cropW - 1;
    by1 = cropH - 1;
  }
  const glassGreen = backgroundGreen(working.planes.g, fullMask);
  // Everything below works on the cell's box plus a one-pixel margin (where the crop has one): most of a
  // smear window is background, and the margin keeps the outline and depth identical to the full crop.
  const ox = Math.max(0, bx0 - 1);
  const oy = Math.max(0, by0 - 1);
  const boxed = cropPlanes(
    working.planes,
    fullMask,
    ox,
    oy,
    Math.min(cropW - 1, bx1 + 1) - ox + 1,
    Math.min(cropH - 1, by1 + 1) - oy + 1,
  );
  const { planes, mask } = boxed;
  const { width: W, height: H } = planes;

  // Moments.
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (!mask[y * W + x]) continue;
      sx += x;
      sy += y;
    }
  }
  const cx = sx / area;
  const cy = sy / area;
  let mxx = 0;
  let myy = 0;
  let mxy = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (!mask[y * W + x]) continue;
      const dx = x - cx;
      const dy = y - cy;
      mxx += dx * dx;
      myy += dy * dy;
      mxy += dx * dy;
    }
  }
  mxx /= area;
  myy /= area;
  mxy /= area;
  const half = (mxx + myy) / 2;
  const disc = Math.sqrt(((mxx - myy) / 2) ** 2 + mxy * mxy);
  const l1 = half + disc;
  const l2 = Math.max(half - disc, 1e-9);
  const theta = 0.5 * Math.atan2(2 * mxy, mxx - myy);
  const ux = Math.cos(theta);
  const uy = Math.sin(theta);
  let m3 = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (!mask[y * W + x]) continue;
      const t = (x - cx) * ux + (y - cy) * uy;
      m3 += t * t * t;
    }
  }
  const axialSkewness = Math.abs(m3 / area / Math.pow(l1, 1.5));

  const depth = chamferDistance(mask, W, H);
  let maxDepth = 0;
  for (let i = 0; i < W * H; i++) if (depth[i] > maxDepth) maxDepth = depth[i];

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
  let e916 = 0;
  let e1732 = 0;
  let eAll = 0;
  for (let k = 1; k < mags.length; k++) {
    const e = mags[k] * mags[k];
    eAll += e;
    if (k >= 9 && k <= 16) e916 += e;
    else if (k > 16) e1732 += e;
  }

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
  out[k++] = area / ((bx1 - bx0 + 1) * (by1 - by0 + 1));
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
    },
    out,
    k,
  );
}

/** Green level of the glass: upper quartile outside the mask; 0 when the outside is black padding. */
function backgroundGreen(g: Float32Array, mask: Uint8Array): number {
  const hist = new Uint32Array(256);
  let count = 0;
  for (let i = 0; i < g.length; i++) {
    if (mask[i]) continue;
    hist[Math.min(255, Math.round(g[i]))]++;
    count++;
  }
  if (count < 8) return 0;
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
