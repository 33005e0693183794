import { regionMorphometrics, traceBoundary } from './contour';
import { floodByDynamics } from './flood';
import {
  boxBlur,
  closeDisc,
  distanceTransform,
  downsampleMean,
  fillHoles,
  openDisc,
  otsuThresholds3,
} from './raster';
import type { CellKind, RgbImage, SegmentedCell, SegmentOptions, StainParameters } from './types';

/** Per-pixel stain maps shared by the segmentation steps. */
interface StainMaps {
  /** Optical density of the green channel relative to the background: what haemoglobin and nuclei absorb. */
  odGreen: Float32Array;
  /** Optical density of the red channel: high for nuclei and platelets, low for haemoglobin. */
  odRed: Float32Array;
}

const OD_LUT = new Float32Array(256 * 256);

/** Background red and green levels: mean of the brightest decile (smear background is the brightest thing). */
export function backgroundLevels(img: RgbImage): [number, number] {
  const { data, width, height } = img;
  const n = width * height;
  const lumHist = new Int32Array(256);
  const lum = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const l = (data[j] * 77 + data[j + 1] * 150 + data[j + 2] * 29) >> 8;
    lum[i] = l;
    lumHist[l]++;
  }
  let cut = 255;
  for (let acc = 0; cut > 0; cut--) {
    acc += lumHist[cut];
    if (acc >= n * 0.1) break;
  }
  let bgR = 0;
  let bgG = 0;
  let count = 0;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    if (lum[i] >= cut) {
      bgR += data[j];
      bgG += data[j + 1];
      count++;
    }
  }
  return [Math.round(bgR / count), Math.round(bgG / count)];
}

export function stainMaps(img: RgbImage, background: [number, number] = backgroundLevels(img)): StainMaps {
  const { data, width, height } = img;
  const n = width * height;
  const [bgR, bgG] = background;
  if (OD_LUT[1] === 0) {
    for (let b = 0; b < 256; b++)
      for (let v = 0; v < 256; v++) OD_LUT[b * 256 + v] = Math.log((b + 1) / (v + 1));
  }
  const odGreen = new Float32Array(n);
  const odRed = new Float32Array(n);
  const rowG = bgG * 256;
  const rowR = bgR * 256;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    odRed[i] = OD_LUT[rowR + data[j]];
    odGreen[i] = OD_LUT[rowG + data[j + 1]];
  }
  return { odGreen, odRed };
}

/** The q-quantile (the element at rank floor(q * (n - 1)) of the sorted values). */
function quantile(values: ArrayLike<number>, q: number): number {
  return selectQuantile(new Float64Array(values), q);
}

/**
 * The element at rank floor(q * (n - 1)) of the sorted values, found by quickselect (Hoare partitioning,
 * median-of-three pivots) in linear time instead of by sorting. Reorders `values`.
 */
function selectQuantile(values: Float32Array | Float64Array, q: number): number {
  if (values.length === 0) return 0;
  const k = Math.min(values.length - 1, Math.max(0, Math.floor(q * (values.length - 1))));
  let lo = 0;
  let hi = values.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    const a = values[lo];
    const b = values[mid];
    const c = values[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}

/**
 * Foreground threshold on the smoothed green optical density. A two-class Otsu splits nuclei from everything
 * else when a large WBC fills the field, so the lower split of a three-class Otsu is used (background | RBC |
 * dark stain), kept above the background's own noise (mode + 4 sigma of its lower half).
 */
export function foregroundThreshold(smooth: Float32Array): number {
  const n = smooth.length;
  const step = Math.max(1, Math.floor(n / 20000));
  // The two quantiles are order statistics of the sample: selected in linear time, not by sorting it (the
  // values are those the sorted sample holds at the same positions).
  const sample = new Float32Array(Math.ceil(n / step));
  for (let i = 0, k = 0; i < n; i += step) sample[k++] = smooth[i];
  return thresholdInRange(smooth, selectQuantile(sample, 0.005), selectQuantile(sample, 0.995));
}

/**
 * foregroundThreshold given the 0.5% and 99.5% quantiles of its sample: the histogram spans them (widened to
 * include 0 and at least 0.05), then background mode and noise, then the three-class Otsu split.
 */
export function thresholdInRange(smooth: Float32Array, q005: number, q995: number): number {
  const n = smooth.length;
  const lo = Math.min(0, q005);
  const hi = Math.max(lo + 0.05, q995);
  const hist = new Float64Array(256);
  const scale = 255 / (hi - lo);
  for (let i = 0; i < n; i++) {
    // Math.round for the bins that count: negatives clamp to bin 0 either way.
    const v = (smooth[i] - lo) * scale + 0.5;
    hist[v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v)]++;
  }
  // Background mode: the histogram peak among near-zero densities (the background defines OD = 0).
  const modeLimit = Math.min(255, Math.max(1, Math.round((0.12 - lo) * scale)));
  let mode = 0;
  for (let b = 1; b <= modeLimit; b++) if (hist[b] > hist[mode]) mode = b;
  let below = 0;
  let sq = 0;
  for (let b = 0; b < mode; b++) {
    below += hist[b];
    sq += hist[b] * (b - mode) ** 2;
  }
  const sigma = below > 0 ? Math.sqrt(sq / below) : 2;
  const [t1] = otsuThresholds3(hist);
  return Math.max(t1, mode + 4 * sigma) / scale + lo;
}

function thresholdMap(values: Float32Array, t: number): Uint8Array {
  const mask = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) mask[i] = values[i] > t ? 1 : 0;
  return mask;
}

/**
 * Typical RBC radius: median height of the distance-map peaks of all regions. Touching cells each keep their
 * own peak, so the estimate holds in crowded fields where connected components would be clusters.
 */
export function estimateCellRadius(mask: Uint8Array, width: number, height: number): number {
  // A light closing turns C-shaped pale cells into rings, which the fill then makes solid.
  const filled = closeDisc(mask, width, height, 2);
  fillHoles(filled, width, height, Infinity);
  const dist = distanceTransform(filled, width, height);
  const { labels, count, peaks } = floodByDynamics(dist, filled, width, height, 1.5);
  const area = new Int32Array(count + 1);
  for (let i = 0; i < labels.length; i++) area[labels[i]]++;
  const radii: number[] = [];
  for (let l = 1; l <= count; l++) if (peaks[l] >= 2.5 && area[l] >= 20) radii.push(peaks[l]);
  if (radii.length === 0) return Math.max(4, Math.min(width, height) / 40);
  return quantile(radii, 0.5);
}

function radiusFromDensity(smooth: Float32Array, width: number, height: number, t: number): number {
  // Estimating at half resolution is 4x cheaper and exact enough for choosing the working scale.
  const half = Math.min(width, height) >= 256 ? 2 : 1;
  const coarse = downsampleMean(smooth, width, height, half);
  return half * estimateCellRadius(thresholdMap(coarse.data, t), coarse.width, coarse.height);
}

/** Stain parameters of a field (or of a representative region of a slide, to share across its tiles). */
export function estimateStainParameters(img: RgbImage): StainParameters {
  const background = backgroundLevels(img);
  const smooth = boxBlur(stainMaps(img, background).odGreen, img.width, img.height, 1);
  return { background, threshold: foregroundThreshold(smooth) };
}

/** Typical RBC radius of a field in px, from its classical foreground (see estimateCellRadius). */
export function estimateFieldCellRadius(img: RgbImage): number {
  const { odGreen } = stainMaps(img);
  const smooth = boxBlur(odGreen, img.width, img.height, 1);
  return radiusFromDensity(smooth, img.width, img.height, foregroundThreshold(smooth));
}

/**
 * Two touching discs of radius r whose centres are d apart meet at a neck of half-width sqrt(r^2 - d^2/4); they
 * are split when r minus that exceeds SPLIT_DYNAMICS * r, i.e. for d up to about 1.6 r at 0.2.
 */
const SPLIT_DYNAMICS = 0.2;

/** Cells are split at a working scale where the typical radius is 10-20 px: enough detail, bounded cost. */
const WORKING_RADIUS = 10;

export interface FieldSegmentation {
  cells: SegmentedCell[];
  /** Typical RBC radius used, in full-resolution px. */
  cellRadius: number;
  /** Integer downscale factor the watershed ran at. */
  workingScale: number;
}

/**
 * Segments the cells of one thin-smear field: stain-robust foreground, pallor filling, distance-transform
 * watershed relative to the field's own cell size, then RBC / WBC / platelet by size and nuclear staining.
 */
export function segmentFieldDetailed(img: RgbImage, opts: SegmentOptions = {}): FieldSegmentation {
  const { width, height } = img;
  const { odGreen, odRed } = stainMaps(img, opts.stain?.background);
  const smooth = boxBlur(odGreen, width, height, 1);
  const t = opts.stain?.threshold ?? foregroundThreshold(smooth);
  opts.signal?.throwIfAborted();
  const r = opts.cellRadius ?? radiusFromDensity(smooth, width, height, t);
  const fg = workingForeground(smooth, width, height, t, r);
  const { mask, width: ww, height: wh, scale: f } = fg;
  const rw = r / f;
  const dist = distanceTransform(mask, ww, wh);
  const { labels, count } = floodByDynamics(dist, mask, ww, wh, Math.max(1, SPLIT_DYNAMICS * rw));
  opts.signal?.throwIfAborted();
  const stats = regionStats(img, labels, ww, f, count, odGreen, odRed, nucleusThreshold(fg));
  const cellArea = Math.PI * r * r;
  const cells: SegmentedCell[] = [];
  for (let l = 1; l <= count; l++) {
    const s = stats[l];
    if (!s) continue;
    const nuclearFraction = s.nuclear / s.area;
    let kind: CellKind = 'rbc';
    if (s.area < 0.3 * cellArea) {
      if (nuclearFraction < 0.3 || s.area < 0.02 * cellArea) continue;
      kind = 'platelet';
    } else if (nuclearFraction > 0.2 && s.area > 0.6 * cellArea) {
      kind = 'wbc';
    }
    cells.push(cellFromRegion(img, labels, ww, wh, f, l, s, kind));
  }
  return { cells, cellRadius: r, workingScale: f };
}

export interface WorkingForeground {
  /** Filled foreground at the working scale. */
  mask: Uint8Array;
  width: number;
  height: number;
  /** Integer downscale factor from full resolution. */
  scale: number;
  /** Smoothed green optical density at the working scale. */
  density: Float32Array;
}

/** Thresholded, closed and pallor-filled foreground at the scale where the cell radius is 10-20 px. */
export function workingForeground(
  smooth: Float32Array,
  width: number,
  height: number,
  t: number,
  r: number,
): WorkingForeground {
  const f = Math.max(1, Math.floor(r / WORKING_RADIUS));
  const down = downsampleMean(smooth, width, height, f);
  const rw = r / f;
  // Smoothing relative to the cell size keeps JPEG blocking and stain speckle out of the outline.
  const blur = Math.round(0.1 * rw);
  const work = { ...down, data: blur > 0 ? boxBlur(down.data, down.width, down.height, blur) : down.data };
  // Closing first turns the C-shaped outlines of pale cells (pallor open to one side) into rings to fill.
  const mask = closeDisc(
    thresholdMap(work.data, t),
    work.width,
    work.height,
    Math.max(1, Math.round(0.15 * rw)),
  );
  fillHoles(mask, work.width, work.height, 0.6 * Math.PI * rw * rw);
  // Opening removes the thin bridges the closing (or a smear's debris) leaves between neighbouring cells.
  const opened = openDisc(mask, work.width, work.height, Math.max(1, Math.round(0.2 * rw)));
  return { mask: opened, width: work.width, height: work.height, scale: f, density: work.data };
}

/** Nuclear stain: far darker in green than haemoglobin (twice the median foreground density at least). */
export function nucleusThreshold(fg: WorkingForeground): number {
  const values: number[] = [];
  const step = Math.max(1, Math.floor(fg.density.length / 20000));
  for (let i = 0; i < fg.density.length; i += step) if (fg.mask[i]) values.push(fg.density[i]);
  const rbcOd = quantile(values, 0.5);
  return Math.max(2 * rbcOd, rbcOd + 0.35);
}

/** SegmentedCell for region l of a working-scale label map (contour scaled back to full resolution). */
export function cellFromRegion(
  img: RgbImage,
  labels: Int32Array,
  ww: number,
  wh: number,
  f: number,
  l: number,
  s: RegionStats,
  kind: CellKind,
  score?: number,
): SegmentedCell {
  const { width, height } = img;
  const boundary = traceBoundary(labels, ww, wh, l, s.firstX, s.firstY);
  const contour = boundary.contour;
  if (f > 1) {
    for (let k = 0; k < contour.length; k += 2) {
      contour[k] = Math.min(width, contour[k] * f);
      contour[k + 1] = Math.min(height, contour[k + 1] * f);
    }
    boundary.perimeter *= f;
    boundary.hullPerimeter *= f;
  }
  const morph = regionMorphometrics(s.area, s.sumX, s.sumY, s.sumXX, s.sumYY, s.sumXY, s.sumColor, boundary);
  const cell: SegmentedCell = {
    kind,
    bbox: [s.minX, s.minY, s.maxX - s.minX + 1, s.maxY - s.minY + 1],
    centroid: [s.sumX / s.area + 0.5, s.sumY / s.area + 0.5],
    contour,
    touchesBorder: s.minX === 0 || s.minY === 0 || s.maxX === width - 1 || s.maxY === height - 1,
    morph,
  };
  if (score !== undefined) cell.score = score;
  return cell;
}

export function segmentField(img: RgbImage, opts: SegmentOptions = {}): SegmentedCell[] {
  return segmentFieldDetailed(img, opts).cells;
}

export interface RegionStats {
  area: number;
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  firstX: number;
  firstY: number;
  sumX: number;
  sumY: number;
  sumXX: number;
  sumYY: number;
  sumXY: number;
  sumColor: [number, number, number];
  nuclear: number;
}

export function regionStats(
  img: RgbImage,
  labels: Int32Array,
  labelWidth: number,
  f: number,
  count: number,
  odGreen: Float32Array,
  odRed: Float32Array,
  nucleusOd: number,
): Array<RegionStats | undefined> {
  const { width, height, data } = img;
  // Accumulators per label in typed arrays (integer sums, exact in float64 in any order).
  const area = new Int32Array(count + 1);
  const minX = new Int32Array(count + 1);
  const minY = new Int32Array(count + 1);
  const maxX = new Int32Array(count + 1);
  const maxY = new Int32Array(count + 1);
  const firstX = new Int32Array(count + 1);
  const firstY = new Int32Array(count + 1);
  const sums = new Float64Array((count + 1) * 8);
  const nuclear = new Int32Array(count + 1);
  const labelCol = new Int32Array(width);
  for (let x = 0; x < width; x++) labelCol[x] = (x / f) | 0;
  for (let y = 0; y < height; y++) {
    const labelRow = ((y / f) | 0) * labelWidth;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const l = labels[labelRow + labelCol[x]];
      if (!l) continue;
      const p = row + x;
      if (area[l] === 0) {
        minX[l] = x;
        minY[l] = y;
        maxX[l] = x;
        firstX[l] = labelCol[x];
        firstY[l] = (y / f) | 0;
      }
      area[l]++;
      if (x < minX[l]) minX[l] = x;
      if (x > maxX[l]) maxX[l] = x;
      maxY[l] = y;
      const o = l * 8;
      sums[o] += x;
      sums[o + 1] += y;
      sums[o + 2] += x * x;
      sums[o + 3] += y * y;
      sums[o + 4] += x * y;
      sums[o + 5] += data[p * 3];
      sums[o + 6] += data[p * 3 + 1];
      sums[o + 7] += data[p * 3 + 2];
      const g = odGreen[p];
      if (g > nucleusOd && odRed[p] > 0.5 * g) nuclear[l]++;
    }
  }
  const stats: Array<RegionStats | undefined> = new Array(count + 1);
  for (let l = 1; l <= count; l++) {
    if (area[l] === 0) continue;
    const o = l * 8;
    stats[l] = {
      area: area[l],
      minX: minX[l],
      minY: minY[l],
      maxX: maxX[l],
      maxY: maxY[l],
      firstX: firstX[l],
      firstY: firstY[l],
      sumX: sums[o],
      sumY: sums[o + 1],
      sumXX: sums[o + 2],
      sumYY: sums[o + 3],
      sumXY: sums[o + 4],
      sumColor: [sums[o + 5], sums[o + 6], sums[o + 7]],
      nuclear: nuclear[l],
    };
  }
  return stats;
}
