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
  opts: Pick<SegmentOptions, 'signal' | 'stain'> = {},
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
  const ellipses = detections.map((d) => {
    const a = Math.max(0.75, d.bbox[2] / 2 / f);
    const b = Math.max(0.75, d.bbox[3] / 2 / f);
    return { cx: (d.bbox[0] + d.bbox[2] / 2) / f, cy: (d.bbox[1] + d.bbox[3] / 2) / f, a, b };
  });
  const forEachInEllipse = (i: number, grow: number, visit: (p: number, d: number) => void) => {
    const { cx, cy, a, b } = ellipses[i];
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
        if (d <= limit) visit(y * ww + x, d);
      }
    }
  };
  for (let i = 0; i < ellipses.length; i++) {
    forEachInEllipse(i, 1.1, (p, d) => {
      if (mask[p] && d < best[p]) {
        best[p] = d;
        labels[p] = i + 1;
      }
    });
  }
  const claimed = new Int32Array(ellipses.length + 1);
  for (let p = 0; p < labels.length; p++) claimed[labels[p]]++;
  for (let i = 0; i < ellipses.length; i++) {
    const { a, b } = ellipses[i];
    if (claimed[i + 1] >= 0.5 * Math.PI * a * b) continue;
    forEachInEllipse(i, 1, (p) => {
      if (!labels[p]) labels[p] = i + 1;
    });
  }
  keepLargestPiece(labels, ww, wh, ellipses.length);
  opts.signal?.throwIfAborted();

  const stats = regionStats(img, labels, ww, f, ellipses.length, odGreen, odRed, nucleusThreshold(fg));
  const cells: SegmentedCell[] = [];
  for (let i = 0; i < detections.length; i++) {
    const s = stats[i + 1];
    if (!s) continue;
    cells.push(cellFromRegion(img, labels, ww, wh, f, i + 1, s, detections[i].kind, detections[i].score));
  }
  return cells;
}

/** Each label keeps its largest 8-connected piece, with its holes filled from unlabelled pixels. */
function keepLargestPiece(labels: Int32Array, width: number, height: number, count: number): void {
  const minX = new Int32Array(count + 1).fill(width);
  const minY = new Int32Array(count + 1).fill(height);
  const maxX = new Int32Array(count + 1).fill(-1);
  const maxY = new Int32Array(count + 1).fill(-1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x];
      if (!l) continue;
      if (x < minX[l]) minX[l] = x;
      if (x > maxX[l]) maxX[l] = x;
      if (y < minY[l]) minY[l] = y;
      if (y > maxY[l]) maxY[l] = y;
    }
  }
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
