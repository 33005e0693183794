import type { CellDetection } from './detector';
import type { SegmentedCell } from './types';

/**
 * Second look at every RBC candidate once it has a contour: a logistic model over both detectors' peaks and the
 * cell's geometry decides whether it is kept. Trained by scripts/train_detector_rescore.ts on the training half
 * of the dev data (txl-dev boxes: kept = matched at IoU 0.5; chula-dev labeled centres: kept), so that the
 * slivers, duplicates and edge scraps the long-trained detector still proposes go, while small dense cells only
 * the companion detector finds stay.
 */
export interface RescoreModel {
  features: string[];
  mean: number[];
  std: number[];
  weights: number[];
  /** Keep a candidate when its probability is at least this. */
  cut: number;
}

/** A merged candidate's peaks: the primary detector's and the companion's (0 where that one found nothing). */
export interface CandidateScores {
  primary: number;
  companion: number;
}

export const RESCORE_FEATURES = [
  'primaryScore',
  'companionScore',
  'rescued',
  'logAreaOverMedian',
  'touchesBorder',
  'maxIouWithOthers',
  'circularity',
  'areaOverBox',
  'logBoxSizeOverDiameter',
  'logAspect',
  'eccentricity',
];

type Box = readonly [number, number, number, number];

/** Intersection over union of two x, y, w, h boxes. */
export function boxIou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/**
 * Feature rows for the RBC cells of one field (other kinds are not rescored), and the indices of those cells.
 * `detectionOf[i]` is the detection cell i came from (-1: rescued from the foreground, no detection).
 */
export function rescoreFeatures(
  cells: readonly SegmentedCell[],
  detectionOf: readonly number[],
  detections: readonly CellDetection[],
  scores: readonly CandidateScores[],
  cellDiameter: number,
): { rows: number[][]; index: number[] } {
  const index: number[] = [];
  for (let i = 0; i < cells.length; i++) if (cells[i].kind === 'rbc') index.push(i);
  const areas = index.map((i) => cells[i].morph.area).sort((a, b) => a - b);
  const median = areas.length ? medianOf(areas) : 1;
  const boxes = index.map((i) => (detectionOf[i] >= 0 ? detections[detectionOf[i]].bbox : cells[i].bbox));
  const rows = index.map((i, k) => {
    const c = cells[i];
    const d = detectionOf[i];
    const s = d >= 0 ? scores[d] : { primary: 0, companion: 0 };
    const b = boxes[k];
    let overlap = 0;
    for (let j = 0; j < boxes.length; j++) if (j !== k) overlap = Math.max(overlap, boxIou(b, boxes[j]));
    const size = Math.sqrt(b[2] * b[3]) / cellDiameter;
    const aspect = Math.max(b[2], b[3]) / Math.max(1e-3, Math.min(b[2], b[3]));
    return [
      s.primary,
      s.companion,
      s.primary === 0 && s.companion === 0 ? 1 : 0,
      Math.log(c.morph.area / median + 1e-3),
      c.touchesBorder ? 1 : 0,
      overlap,
      c.morph.circularity,
      c.morph.area / (b[2] * b[3]),
      Math.log(size),
      Math.log(aspect),
      c.morph.eccentricity,
    ];
  });
  return { rows, index };
}

/** numpy's median: the mean of the two middle values of an even-length list. */
function medianOf(sorted: readonly number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/**
 * The model's inputs for one standardised row z: z, squares of the three score features, and the products of
 * each detector's score with the later features (the score's meaning depends on the geometry), then a bias.
 */
export function expandFeatures(z: readonly number[]): number[] {
  const out = [...z];
  for (let j = 0; j < 3; j++) out.push(z[j] * z[j]);
  for (let j = 1; j < z.length; j++) out.push(z[0] * z[j]);
  for (let j = 2; j < z.length; j++) out.push(z[1] * z[j]);
  out.push(1);
  return out;
}

export function standardise(row: readonly number[], model: Pick<RescoreModel, 'mean' | 'std'>): number[] {
  return row.map((v, j) => (v - model.mean[j]) / model.std[j]);
}

export function keepProbability(row: readonly number[], model: RescoreModel): number {
  const x = expandFeatures(standardise(row, model));
  let t = 0;
  for (let j = 0; j < x.length; j++) t += x[j] * model.weights[j];
  return 1 / (1 + Math.exp(-t));
}

/** The cells the model keeps (every non-RBC cell, and the RBCs at or above the cut). */
export function rescoreCells(
  cells: SegmentedCell[],
  detectionOf: readonly number[],
  detections: readonly CellDetection[],
  scores: readonly CandidateScores[],
  cellDiameter: number,
  model: RescoreModel,
): SegmentedCell[] {
  const { rows, index } = rescoreFeatures(cells, detectionOf, detections, scores, cellDiameter);
  const drop = new Set<number>();
  rows.forEach((row, k) => {
    if (keepProbability(row, model) < model.cut) drop.add(index[k]);
  });
  return cells.filter((_, i) => !drop.has(i));
}
