import { decodeImage, ImageDecodeError } from './decode';
import fs from 'node:fs';
import { segmentCells } from './segment/cells';
import { inMemoryRegionReader, segmentLargeField } from './segment/large';
import { CellDetector, defaultDetectorPath } from './segment/detector';
import { rasterizeContour } from './segment/contour';
import type { RgbImage } from './segment/types';
import { cellThumbnail } from './thumbnail';
import { maskFromCrop, writeMorphologyFeatures, MORPHOLOGY_DIMS } from '../embed/morphology';
import type { CellKind } from '../../../shared/domain';

export { THUMB_SIZE } from './thumbnail';

/** Fields larger than this are segmented in tiles. */
export const LARGE_FIELD_PIXELS = 4096 * 4096;

export interface ProcessedCell {
  kind: CellKind;
  bbox: [number, number, number, number];
  centroid: [number, number];
  contour: Float32Array | null;
  touchesBorder: boolean;
  area: number;
  perimeter: number;
  circularity: number;
  /** Null where no contour was traced (crops, annotation boxes). */
  convexity: number | null;
  eccentricity: number;
  meanColor: [number, number, number];
  thumbnail: Uint8Array;
}

export type ProcessResult =
  | {
      ok: true;
      path: string;
      sha256: string;
      width: number;
      height: number;
      format: string;
      bitDepth: number;
      cells: ProcessedCell[];
      /** Raw (unstandardized) morphology vectors, one row per cell. */
      morphology: Float32Array;
    }
  | { ok: false; path: string; reason: string; message: string };

export interface ProcessOptions {
  mode: 'field' | 'crop';
  maxPixels?: number;
  /** Cells given by an annotation file instead of segmentation (boxes in image px). */
  boxes?: Array<[number, number, number, number]>;
}

let detector: Promise<CellDetector | null> | null = null;

/**
 * Typical RBC diameter found per image size. Fields of one size almost always come from one scanner and
 * magnification, so later fields reuse the diameter the first one's scale search found: one detector pass per
 * field instead of four to six. A new size (another source in the same import) gets its own search.
 */
const diameterBySize = new Map<string, number>();

async function segmentWithKnownScale(rgb: RgbImage, det: CellDetector | null) {
  const key = `${rgb.width}x${rgb.height}`;
  const seg = await segmentCells(rgb, { detector: det, cellDiameter: diameterBySize.get(key) });
  if (!diameterBySize.has(key) && seg.cells.length >= 10) diameterBySize.set(key, seg.cellDiameter);
  return seg.cells;
}

/** Tiles with the detector at the scale found on the central region, so every tile agrees on one scale. */
async function segmentLarge(rgb: RgbImage, det: CellDetector | null) {
  const side = Math.min(2048, rgb.width, rgb.height);
  const x = Math.floor((rgb.width - side) / 2);
  const y = Math.floor((rgb.height - side) / 2);
  const centre = inMemoryRegionReader(rgb)(x, y, side, side) as RgbImage;
  const { cellDiameter } = await segmentCells(centre, { detector: det });
  return segmentLargeField(inMemoryRegionReader(rgb), rgb.width, rgb.height, {
    segment: async (tile, slide) =>
      (await segmentCells(tile, { detector: det, cellDiameter, stain: slide.stain })).cells,
  });
}

/** The shipped learned detector, loaded once per worker; the classical pipeline runs alone when it is absent. */
function loadDetector(): Promise<CellDetector | null> {
  detector ??= fs.existsSync(defaultDetectorPath())
    ? CellDetector.load().catch(() => null)
    : Promise.resolve(null);
  return detector;
}

/** Decode, find cells, measure, thumbnail and morphology-embed one image. Runs inside an ingest worker. */
export async function processImage(path: string, opts: ProcessOptions): Promise<ProcessResult> {
  let img;
  try {
    img = await decodeImage(path, { maxPixels: opts.maxPixels });
  } catch (err) {
    if (err instanceof ImageDecodeError) return { ok: false, path, reason: err.reason, message: err.message };
    return { ok: false, path, reason: 'unreadable', message: `${path}: ${(err as Error).message}` };
  }
  const rgb: RgbImage = { data: img.data, width: img.width, height: img.height };
  const cells: ProcessedCell[] = [];
  const features: Float32Array[] = [];
  if (opts.mode === 'crop') {
    const mask = maskFromCrop({ rgb: img.data, width: img.width, height: img.height });
    const m = maskStats(rgb, mask);
    cells.push({
      kind: 'rbc',
      bbox: [0, 0, img.width, img.height],
      centroid: [img.width / 2, img.height / 2],
      contour: null,
      touchesBorder: false,
      ...m,
      thumbnail: cellThumbnail(rgb, [0, 0, img.width, img.height]),
    });
    features.push(morph(img.data, img.width, img.height, mask));
  } else if (opts.boxes) {
    for (const b of opts.boxes) {
      const box = clampBox(b, img.width, img.height);
      if (!box) continue;
      const crop = cropRgb(rgb, box);
      const mask = maskFromCrop({ rgb: crop.data, width: crop.width, height: crop.height });
      cells.push({
        kind: 'rbc',
        bbox: box,
        centroid: [box[0] + box[2] / 2, box[1] + box[3] / 2],
        contour: null,
        touchesBorder:
          box[0] <= 0 || box[1] <= 0 || box[0] + box[2] >= img.width || box[1] + box[3] >= img.height,
        ...maskStats(crop, mask),
        thumbnail: cellThumbnail(rgb, box),
      });
      features.push(morph(crop.data, crop.width, crop.height, mask));
    }
  } else {
    // Above ~16 MP (stitched smears) segmentation runs tile by tile with slide-wide parameters, so its working
    // memory stays bounded and cells on tile seams are kept exactly once (see segment/large.ts).
    const det = await loadDetector();
    const found =
      img.width * img.height > LARGE_FIELD_PIXELS
        ? await segmentLarge(rgb, det)
        : await segmentWithKnownScale(rgb, det);
    for (const c of found) {
      const crop = cropRgb(rgb, c.bbox);
      const mask = rasterizeContour(c.contour, c.bbox);
      cells.push({
        kind: c.kind,
        bbox: c.bbox,
        centroid: c.centroid,
        contour: c.contour,
        touchesBorder: c.touchesBorder,
        area: c.morph.area,
        perimeter: c.morph.perimeter,
        circularity: c.morph.circularity,
        convexity: c.morph.convexity,
        eccentricity: c.morph.eccentricity,
        meanColor: c.morph.meanColor,
        thumbnail: cellThumbnail(rgb, c.bbox),
      });
      features.push(morph(crop.data, crop.width, crop.height, mask));
    }
  }
  const morphology = new Float32Array(features.length * MORPHOLOGY_DIMS);
  features.forEach((f, i) => morphology.set(f, i * MORPHOLOGY_DIMS));
  return {
    ok: true,
    path,
    sha256: img.sha256,
    width: img.width,
    height: img.height,
    format: img.format,
    bitDepth: img.bitDepth,
    cells,
    morphology,
  };
}

function morph(rgb: Uint8Array, width: number, height: number, mask: Uint8Array): Float32Array {
  const out = new Float32Array(MORPHOLOGY_DIMS);
  writeMorphologyFeatures({ rgb, width, height, mask }, out, 0);
  return out;
}

function clampBox(
  b: [number, number, number, number],
  w: number,
  h: number,
): [number, number, number, number] | null {
  const x0 = Math.max(0, Math.floor(b[0]));
  const y0 = Math.max(0, Math.floor(b[1]));
  const x1 = Math.min(w, Math.ceil(b[0] + b[2]));
  const y1 = Math.min(h, Math.ceil(b[1] + b[3]));
  return x1 - x0 >= 2 && y1 - y0 >= 2 ? [x0, y0, x1 - x0, y1 - y0] : null;
}

export function cropRgb(img: RgbImage, box: readonly [number, number, number, number]): RgbImage {
  const [x, y, w, h] = box.map(Math.round);
  const out = new Uint8Array(w * h * 3);
  for (let row = 0; row < h; row++) {
    const sy = Math.min(img.height - 1, Math.max(0, y + row));
    const sx0 = Math.max(0, x);
    const sx1 = Math.min(img.width, x + w);
    if (sx1 <= sx0) continue;
    out.set(
      img.data.subarray((sy * img.width + sx0) * 3, (sy * img.width + sx1) * 3),
      (row * w + (sx0 - x)) * 3,
    );
  }
  return { data: out, width: w, height: h };
}

function maskStats(img: RgbImage, mask: Uint8Array) {
  let area = 0;
  let sr = 0;
  let sg = 0;
  let sb = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  let perimeter = 0;
  const { width: w, height: h } = img;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!mask[i]) continue;
      area++;
      sr += img.data[i * 3];
      sg += img.data[i * 3 + 1];
      sb += img.data[i * 3 + 2];
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
      sxy += x * y;
      if (x === 0 || !mask[i - 1]) perimeter++;
      if (x === w - 1 || !mask[i + 1]) perimeter++;
      if (y === 0 || !mask[i - w]) perimeter++;
      if (y === h - 1 || !mask[i + w]) perimeter++;
    }
  }
  const n = Math.max(1, area);
  const mx = sx / n;
  const my = sy / n;
  const cxx = sxx / n - mx * mx;
  const cyy = syy / n - my * my;
  const cxy = sxy / n - mx * my;
  const d = Math.sqrt(((cxx - cyy) / 2) ** 2 + cxy * cxy);
  const l1 = (cxx + cyy) / 2 + d;
  const l2 = (cxx + cyy) / 2 - d;
  // Pixel-edge perimeter overestimates a smooth outline by ~4/pi; correct so a disc scores near 1.
  const p = (perimeter * Math.PI) / 4;
  return {
    area,
    perimeter: p,
    circularity: p > 0 ? Math.min(1, (4 * Math.PI * area) / (p * p)) : 0,
    convexity: null,
    eccentricity: l1 > 0 ? Math.sqrt(Math.max(0, 1 - l2 / l1)) : 0,
    meanColor: [sr / n, sg / n, sb / n] as [number, number, number],
  };
}
