import type { ProcessResult } from './process-image';

/** The cell scale a field of one size is segmented at (ProcessOptions.scale). */
export interface FieldScale {
  width: number;
  height: number;
  /** Typical RBC diameter in px. */
  cellDiameter: number;
}

/**
 * The scale a processed field was segmented at, for later fields of its size (none: crops, annotation boxes,
 * large fields, too few cells). Kept apart from process-image so the engine thread need not load the detector.
 */
export function fieldScaleOf(r: ProcessResult): FieldScale | undefined {
  return r.ok && r.cellDiameter
    ? { width: r.width, height: r.height, cellDiameter: r.cellDiameter }
    : undefined;
}
