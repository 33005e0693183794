import type { CellDetection } from './detector';
import {
  cellFromRegion,
  foregroundThreshold,
  nucleusThreshold,
  regionStats,
  stainMaps,
  workingForeground,
} from './field';
import { boxBlur, fillHoles, labelComponents } from './raster';
import type { RgbImage, SegmentedCell, SegmentOptions } from './types';

/**
 * Cell masks for detector boxes: each detection claims the classical foreground inside its (10 % enlarged)
 * inscribed ellipse, contested pixels going to the detection whose ellipse centre is nearest in normalised
 * distance (a marker watershed with the detector's centres as markers). Where the stain threshold missed most
 * of a cell (very pale cells), the ellipse itself is the mask. Contours therefore follow the real outline
 * wherever the foreground is trustworthy and never merge two detected cells.
 */
export function segmentFieldWithDetections(
  img: RgbImage,
  detections: readonly CellDetection[],
  cellDiameter: number,
  opts: Pick<SegmentOptions, 'signal' | 'stain'> & {
    /** Filled with the index into `detections` of each returned cell (-1 for a rescued cell). */
    detectionOf?: number[];
  } = {},
): SegmentedCell[] {
  const { width, height } = img;
  const { odGreen, odRed } = stainMaps(img, opts.stain?.background);
  const smooth = boxBlur(odGreen, width, height, 1);
  const t = opts.stain?.threshold ?? foregroundThreshold(smooth);
  const fg = workingForeground(smooth, width, height, t, cellDiameter / 2);
  const { mask, width: ww, height: wh, scale: f } = fg;
  opts.signal?.throwIfAborted();
  const labels = new Int32Array(ww * wh);
  const best = new Float32Array(ww * wh).fill(Infinity);
  const ellipses: Ellipse[] = detections.map((d) => {
    const a = Math.max(0.75, d.bbox[2] / 2 / f);
    const b = Math.max(0.75, d.bbox[3] / 2 / f);
    return { cx: (d.bbox[0] + d.bbox[2] / 2) / f, cy: (d.bbox[1] + d.bbox[3] / 2) / f, a, b };
  });
  for (let i = 0; i < ellipses.length; i++) paintEllipse(ellipses[i], 1.1, ww, wh, labels, i + 1, mask, best);
  const claimed = new Int32Array(ellipses.length + 1);
  for (let p = 0; p < labels.length; p++) claimed[labels[p]]++;
  for (let i = 0; i < ellipses.length; i++) {
    const { a, b } = ellipses[i];
    if (claimed[i + 1] >= 0.5 * Math.PI * a * b) continue;
    paintEllipse(ellipses[i], 1, ww, wh, labels, i + 1, null, null);
  }
  keepLargestPiece(labels, ww, wh, ellipses.length);
  opts.signal?.throwIfAborted();
  const rescued = rescueMissedCells(mask, labels, ww, wh, ellipses.length, cellDiameter / 2 / f);
  const count = ellipses.length + rescued;

  const stats = regionStats(img, labels, ww, f, count, odGreen, odRed, nucleusThreshold(fg));
  const cells: SegmentedCell[] = [];
  for (let l = 1; l <= count; l++) {
    const s = stats[l];
    if (!s) continue;
    // Rescued regions are RBC-sized, compact stain blobs the detector left out (score 0 marks them).
    const det = l <= detections.length ? detections[l - 1] : null;
    const cell = cellFromRegion(img, labels, ww, wh, f, l, s, det?.kind ?? 'rbc', det?.score ?? 0);
    if (det) {
      const [x, y, w, h] = (cell.bbox = wholeCellBox(cell.bbox, det.bbox));
      cell.touchesBorder ||= x <= 0 || y <= 0 || x + w >= img.width || y + h >= img.height;
    }
    cells.push(cell);
    opts.detectionOf?.push(det ? l - 1 : -1);
  }
  return cells;
}

/**
 * The cell's box: its visible mask's box grown to the detector's box (whole px). Where two cells overlap, the
 * contested pixels go to one of them, so the other's mask box is cut short; the detector's box, trained on
 * boxes drawn around whole cells, still spans the hidden part. The box always holds the contour; a cell whose
 * box reaches the image edge counts as cut by it.
 */
function wholeCellBox(
  mask: [number, number, number, number],
  det: readonly [number, number, number, number],
): [number, number, number, number] {
  const x0 = Math.min(mask[0], Math.round(det[0]));
  const y0 = Math.min(mask[1], Math.round(det[1]));
  const x1 = Math.max(mask[0] + mask[2], Math.round(det[0] + det[2]));
  const y1 = Math.max(mask[1] + mask[3], Math.round(det[1] + det[3]));
  return [x0, y0, x1 - x0, y1 - y0];
}

interface Ellipse {
  cx: number;
  cy: number;
  a: number;
  b: number;
}

/**
 * Pixels of an ellipse grown by `grow` (normalised radius). With a mask, foreground pixels go to this label where
 * its normalised distance is the smallest so far (`best`); without one, unlabelled pixels take the label. A plain
 * function rather than a per-field closure, so that the optimised code survives from one field to the next.
 */
function paintEllipse(
  e: Ellipse,
  grow: number,
  ww: number,
  wh: number,
  labels: Int32Array,
  label: number,
  mask: Uint8Array | null,
  best: Float32Array | null,
): void {
  const { cx, cy, a, b } = e;
  const x0 = Math.max(0, Math.floor(cx - grow * a));
  const x1 = Math.min(ww - 1, Math.ceil(cx + grow * a));
  const y0 = Math.max(0, Math.floor(cy - grow * b));
  const y1 = Math.min(wh - 1, Math.ceil(cy + grow * b));
  const limit = grow * grow;
  for (let y = y0; y <= y1; y++) {
    const ny = (y + 0.5 - cy) / b;
    for (let x = x0; x <= x1; x++) {
      const nx = (x + 0.5 - cx) / a;
      const d = nx * nx + ny * ny;
      if (d > limit) continue;
      const p = y * ww + x;
      if (mask && best) {
        if (mask[p] && d < best[p]) {
          best[p] = d;
          labels[p] = label;
        }
      } else if (!labels[p]) {
        labels[p] = label;
      }
    }
  }
}

/**
 * Foreground blobs that no detection claimed and that look like one whole RBC (area 0.4-1.7x the field's typical
 * cell, compact, not elongated) become cells of their own, labelled count+1... Small dense cells (spherocytes,
 * microcytes) are what a detector trained on mostly normal smears tends to skip; leftovers of claimed cells are
 * crescents or slivers and fail the size and compactness tests. Returns how many were added.
 */
function rescueMissedCells(
  mask: Uint8Array,
  labels: Int32Array,
  width: number,
  height: number,
  count: number,
  radius: number,
): number {
  const free = new Uint8Array(mask.length);
  let any = false;
  for (let p = 0; p < mask.length; p++) {
    if (mask[p] && !labels[p]) {
      free[p] = 1;
      any = true;
    }
  }
  if (!any) return 0;
  const { labels: blobs, count: n } = labelComponents(free, width, height);
  const { area, minX, minY, maxX, maxY } = labelBoxes(blobs, width, height, n);
  const typical = Math.PI * radius * radius;
  const newLabel = new Int32Array(n + 1);
  let added = 0;
  for (let b = 1; b <= n; b++) {
    if (area[b] < 0.4 * typical || area[b] > 1.7 * typical) continue;
    const bw = maxX[b] - minX[b] + 1;
    const bh = maxY[b] - minY[b] + 1;
    // Cut by the border: the visible part's shape says too little; the detector's judgement stands there.
    const cut = minX[b] === 0 || minY[b] === 0 || maxX[b] === width - 1 || maxY[b] === height - 1;
    if (cut) continue;
    if (Math.max(bw, bh) > 2 * Math.min(bw, bh)) continue;
    if (area[b] < 0.62 * bw * bh) continue;
    newLabel[b] = count + ++added;
  }
  if (added) for (let p = 0; p < blobs.length; p++) if (newLabel[blobs[p]]) labels[p] = newLabel[blobs[p]];
  return added;
}

/** Each label keeps its largest 8-connected piece, with its holes filled from unlabelled pixels. */
function keepLargestPiece(labels: Int32Array, width: number, height: number, count: number): void {
  const { minX, minY, maxX, maxY } = labelBoxes(labels, width, height, count);
  for (let l = 1; l <= count; l++) {
    if (maxX[l] < 0) continue;
    const bw = maxX[l] - minX[l] + 1;
    const bh = maxY[l] - minY[l] + 1;
    const local = new Uint8Array(bw * bh);
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++)
        local[y * bw + x] = labels[(minY[l] + y) * width + minX[l] + x] === l ? 1 : 0;
    }
    const { labels: pieces, count: n } = labelComponents(local, bw, bh);
    let keep = 1;
    if (n > 1) {
      const area = new Int32Array(n + 1);
      for (let i = 0; i < pieces.length; i++) area[pieces[i]]++;
      for (let k = 2; k <= n; k++) if (area[k] > area[keep]) keep = k;
    }
    for (let i = 0; i < local.length; i++) local[i] = pieces[i] === keep ? 1 : 0;
    fillHoles(local, bw, bh, Infinity);
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++) {
        const p = (minY[l] + y) * width + minX[l] + x;
        if (local[y * bw + x]) {
          if (!labels[p]) labels[p] = l;
        } else if (labels[p] === l) {
          labels[p] = 0;
        }
      }
    }
  }
}

/** Pixel count and bounding box (inclusive; maxX -1 for an empty label) of labels 1..count. */
function labelBoxes(labels: Int32Array, width: number, height: number, count: number) {
  const area = new Int32Array(count + 1);
  const minX = new Int32Array(count + 1).fill(width);
  const minY = new Int32Array(count + 1).fill(height);
  const maxX = new Int32Array(count + 1).fill(-1);
  const maxY = new Int32Array(count + 1).fill(-1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x];
      if (!l) continue;
      area[l]++;
      if (x < minX[l]) minX[l] = x;
      if (x > maxX[l]) maxX[l] = x;
      if (y < minY[l]) minY[l] = y;
      if (y > maxY[l]) maxY[l] = y;
    }
  }
  return { area, minX, minY, maxX, maxY };
}
