import type { CellDetector } from './detector';
import { segmentFieldDetailed } from './field';
import { segmentFieldWithDetections } from './guided';
import { rescoreCells } from './rescore';
import type { RgbImage, SegmentedCell, StainParameters } from './types';

export interface SegmentCellsOptions {
  /** Learned detector (CellDetector.load()); without one the classical pipeline runs alone. */
  detector?: CellDetector | null;
  /** Typical RBC diameter in px, when the magnification is known (skips the scale search). */
  cellDiameter?: number;
  /** Detector heatmap peak needed to report a cell (default 0.3; a detector pair's rescorer decides instead). */
  threshold?: number;
  /** Slide-wide background and threshold (tiles of a large field); per field when absent. */
  stain?: StainParameters;
  signal?: AbortSignal;
}

export interface CellSegmentation {
  cells: SegmentedCell[];
  /** Typical RBC diameter in px the segmentation ran at. */
  cellDiameter: number;
  method: 'detector' | 'classical';
}

/** Cells of one field: detector boxes with classical contours when a detector is given, else classical only. */
export async function segmentCells(img: RgbImage, opts: SegmentCellsOptions = {}): Promise<CellSegmentation> {
  if (!opts.detector) {
    const seg = segmentFieldDetailed(img, {
      cellRadius: opts.cellDiameter ? opts.cellDiameter / 2 : undefined,
      stain: opts.stain,
      signal: opts.signal,
    });
    return { cells: seg.cells, cellDiameter: 2 * seg.cellRadius, method: 'classical' };
  }
  // No classical scale guess: the detector's own scale search lands on the same scale from its default start
  // (identical txl-dev/chula-dev figures), and the classical estimate cost a third of the time.
  const found = await opts.detector.detect(img, {
    cellDiameter: opts.cellDiameter,
    threshold: opts.threshold,
    signal: opts.signal,
  });
  const detectionOf: number[] = [];
  let cells = segmentFieldWithDetections(img, found.detections, found.cellDiameter, {
    signal: opts.signal,
    stain: opts.stain,
    detectionOf,
  });
  if (found.rescore && found.scores) {
    cells = rescoreCells(
      cells,
      detectionOf,
      found.detections,
      found.scores,
      found.cellDiameter,
      found.rescore,
    );
  }
  return { cells, cellDiameter: found.cellDiameter, method: 'detector' };
}
