import { cropRgb } from '../ingest/process-image';
import { rasterizeContour } from '../ingest/segment/contour';
import type { RgbImage } from '../ingest/segment/types';
import { maskFromCrop, writeMorphologyFeatures, MORPHOLOGY_DIMS } from './morphology';

/**
 * Stored cells of one image, packed flat so a worker gets them in one cheap structured clone: bbox (x, y, w, h)
 * per cell, and each traced contour's (x, y) pairs at contours[2 * offsets[i], 2 * offsets[i + 1]); an empty
 * range means no contour (the cell is then segmented inside its box).
 */
export interface PackedCells {
  bboxes: Float64Array;
  offsets: Int32Array;
  contours: Float32Array;
}

export function packCells(
  cells: ReadonlyArray<{ bbox: readonly number[]; contour: ArrayLike<number> }>,
): PackedCells {
  const bboxes = new Float64Array(cells.length * 4);
  const offsets = new Int32Array(cells.length + 1);
  cells.forEach((c, i) => {
    bboxes.set(c.bbox.slice(0, 4), i * 4);
    offsets[i + 1] = offsets[i] + (c.contour.length >= 6 ? c.contour.length >> 1 : 0);
  });
  const contours = new Float32Array(offsets[cells.length] * 2);
  cells.forEach((c, i) => {
    if (offsets[i + 1] > offsets[i]) contours.set(c.contour, offsets[i] * 2);
  });
  return { bboxes, offsets, contours };
}

/**
 * Morphology vectors (row-major, cells x MORPHOLOGY_DIMS) of stored cells from their decoded image: each cell's
 * crop is its rounded bbox and its mask the rasterized contour, as ingest computed them, so re-embedding gives
 * the vectors ingest stored.
 */
export function morphologyOfCells(rgb: RgbImage, cells: PackedCells): Float32Array {
  const n = cells.offsets.length - 1;
  const out = new Float32Array(n * MORPHOLOGY_DIMS);
  for (let i = 0; i < n; i++) {
    const box = Array.from(cells.bboxes.subarray(i * 4, i * 4 + 4), Math.round) as [
      number,
      number,
      number,
      number,
    ];
    const crop = cropRgb(rgb, box);
    const a = cells.offsets[i];
    const b = cells.offsets[i + 1];
    const mask =
      b > a
        ? rasterizeContour(cells.contours.subarray(a * 2, b * 2), box)
        : maskFromCrop({ rgb: crop.data, width: crop.width, height: crop.height });
    writeMorphologyFeatures(
      { rgb: crop.data, width: crop.width, height: crop.height, mask },
      out,
      i * MORPHOLOGY_DIMS,
    );
  }
  return out;
}
