import { decodeField, ImageDecodeError, type LargeImageHeader } from './decode';
import fs from 'node:fs';
import { ResultArena } from './arena';
import { fileRegionReader } from './region';
import { segmentCells } from './segment/cells';
import { estimateStainParameters } from './segment/field';
import { segmentLargeField, type RegionReader } from './segment/large';
import { CellDetector, defaultDetectorPath } from './segment/detector';
import { rasterizeContour } from './segment/contour';
import type { RgbImage, SegmentedCell } from './segment/types';
import { cellThumbnail } from './thumbnail';
import { LARGE_FIELD_PIXELS } from './files';
import type { FieldScale } from './scale';
import { maskFromCrop, writeMorphologyFeatures, MORPHOLOGY_DIMS } from '../embed/morphology';
import type { CellKind } from '../../../shared/domain';

export { THUMB_SIZE } from './thumbnail';
export { fieldScaleOf, type FieldScale } from './scale';

/**
 * Core tile side for large fields. The detector's activations dominate a tile's working memory (~270 MB for a
 * 2048 px tile with its overlap, ~90 MB at 1024), so tiles are kept small; the overlap re-read costs about a
 * quarter more pixels than 2048 px tiles would.
 */
export const LARGE_FIELD_TILE = 1024;

/** A field's own scale search is passed on to the import's other fields of its size only if it found this many. */
const MIN_CELLS_FOR_SCALE = 10;

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
      /**
       * The RBC diameter a whole field was segmented at (its own scale search, or opts.scale); absent
       * for crops, annotation boxes, large fields and fields with too few cells to measure a scale on.
       */
      cellDiameter?: number;
      /** The buffers behind the cells' thumbnails and contours (ResultArena), sent to the engine with the result. */
      buffers: ArrayBuffer[];
    }
  | { ok: false; path: string; reason: string; message: string };

export interface ProcessOptions {
  mode: 'field' | 'crop';
  maxPixels?: number;
  /** Cells given by an annotation file instead of segmentation (boxes in image px). */
  boxes?: Array<[number, number, number, number]>;
  /** Fields with more pixels are processed tile by tile from the file (default LARGE_FIELD_PIXELS). */
  largeFieldPixels?: number;
  /** Core tile side for large fields (default LARGE_FIELD_TILE). */
  tileSize?: number;
  /**
   * The scale to segment a field of this size at, skipping its scale search (ignored for a field of another
   * size): the engine passes the RBC diameter the first field of this size in the import was segmented at
   * (ProcessResult.cellDiameter), so every field of one size is segmented at one scale whichever worker gets
   * it, and a re-import gives the same cells.
   */
  scale?: FieldScale;
}

let detector: Promise<CellDetector | null> | null = null;

/**
 * Segments a large field tile by tile with the detector at the scale found on its central region and the
 * stain parameters of that region, so every tile agrees on one scale and one foreground; `onTileCells` gets
 * each tile's kept cells while its pixels are in memory.
 */
async function segmentLarge(
  read: RegionReader,
  width: number,
  height: number,
  det: CellDetector | null,
  opts: {
    tile?: number;
    onTileCells?: (cells: SegmentedCell[], region: RgbImage, x0: number, y0: number) => void;
  },
) {
  const side = Math.min(LARGE_FIELD_TILE, width, height);
  const x = Math.floor((width - side) / 2);
  const y = Math.floor((height - side) / 2);
  const centre = await read(x, y, side, side);
  const { cellDiameter } = await segmentCells(centre, { detector: det });
  return segmentLargeField(read, width, height, {
    tile: opts.tile,
    cellRadius: cellDiameter / 2,
    stain: estimateStainParameters(centre),
    segment: async (tile, slide) =>
      (await segmentCells(tile, { detector: det, cellDiameter, stain: slide.stain })).cells,
    onTileCells: opts.onTileCells,
  });
}

/**
 * A field above the large-field limit: tiles are decoded from the file one strip at a time (fileRegionReader)
 * and each tile's cells are measured, thumbnailed and embedded before the next tile is read, so memory is
 * bounded by a strip of tiles plus the results, never the whole image (a 10000 x 10000 field is 300 MB as RGB).
 */
async function processLargeField(
  path: string,
  header: LargeImageHeader,
  opts: ProcessOptions,
): Promise<ProcessResult> {
  const det = await loadDetector();
  const reader = fileRegionReader(path, header.width);
  const cells: ProcessedCell[] = [];
  const features: Float32Array[] = [];
  const arena = new ResultArena();
  try {
    await segmentLarge(reader.read, header.width, header.height, det, {
      tile: opts.tileSize ?? LARGE_FIELD_TILE,
      onTileCells: (found, region, x0, y0) => {
        for (const c of found) measureSegmentedCell(region, x0, y0, c, cells, features, arena);
      },
    });
    const { sha256, format, width, height, bitDepth } = header;
    return {
      ok: true,
      path,
      sha256,
      format,
      width,
      height,
      bitDepth,
      cells,
      morphology: packFeatures(features),
      buffers: arena.buffers,
    };
  } catch (err) {
    if (err instanceof ImageDecodeError) return { ok: false, path, reason: err.reason, message: err.message };
    throw err;
  }
}

/** Measures, thumbnails and embeds one segmented cell from `img`, whose top-left is (x0, y0) in the field. */
function measureSegmentedCell(
  img: RgbImage,
  x0: number,
  y0: number,
  c: SegmentedCell,
  cells: ProcessedCell[],
  features: Float32Array[],
  arena: ResultArena,
): void {
  const local: [number, number, number, number] = [c.bbox[0] - x0, c.bbox[1] - y0, c.bbox[2], c.bbox[3]];
  const crop = cropRgb(img, local);
  const mask = rasterizeContour(c.contour, c.bbox);
  cells.push({
    kind: c.kind,
    bbox: c.bbox,
    centroid: c.centroid,
    contour: arena.floats(c.contour),
    touchesBorder: c.touchesBorder,
    area: c.morph.area,
    perimeter: c.morph.perimeter,
    circularity: c.morph.circularity,
    convexity: c.morph.convexity,
    eccentricity: c.morph.eccentricity,
    meanColor: c.morph.meanColor,
    thumbnail: arena.bytes(cellThumbnail(img, local, true)),
  });
  features.push(morph(crop.data, crop.width, crop.height, mask));
}

function packFeatures(features: Float32Array[]): Float32Array {
  const morphology = new Float32Array(features.length * MORPHOLOGY_DIMS);
  features.forEach((f, i) => morphology.set(f, i * MORPHOLOGY_DIMS));
  return morphology;
}

/** Starts loading the detector (ingest workers call this at start-up, before their first image). */
export async function preloadDetector(): Promise<void> {
  await loadDetector();
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
    // Annotation boxes and crops are cut from the whole image; segmented fields above the limit are streamed.
    const largeAbove =
      opts.mode === 'field' && !opts.boxes ? (opts.largeFieldPixels ?? LARGE_FIELD_PIXELS) : Infinity;
    const decoded = await decodeField(path, { maxPixels: opts.maxPixels, largeAbove });
    if ('large' in decoded) return await processLargeField(path, decoded, opts);
    img = decoded;
  } catch (err) {
    if (err instanceof ImageDecodeError) return { ok: false, path, reason: err.reason, message: err.message };
    return { ok: false, path, reason: 'unreadable', message: `${path}: ${(err as Error).message}` };
  }
  const rgb: RgbImage = { data: img.data, width: img.width, height: img.height };
  const cells: ProcessedCell[] = [];
  const features: Float32Array[] = [];
  const arena = new ResultArena();
  let cellDiameter: number | undefined;
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
      thumbnail: arena.bytes(cellThumbnail(rgb, [0, 0, img.width, img.height], true)),
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
        thumbnail: arena.bytes(cellThumbnail(rgb, box, true)),
      });
      features.push(morph(crop.data, crop.width, crop.height, mask));
    }
  } else {
    const det = await loadDetector();
    const given = opts.scale && opts.scale.width === img.width && opts.scale.height === img.height;
    const seg = await segmentCells(rgb, {
      detector: det,
      cellDiameter: given ? opts.scale!.cellDiameter : undefined,
    });
    for (const c of seg.cells) measureSegmentedCell(rgb, 0, 0, c, cells, features, arena);
    if (given || seg.cells.length >= MIN_CELLS_FOR_SCALE) cellDiameter = seg.cellDiameter;
  }
  const morphology = packFeatures(features);
  return {
    ...(cellDiameter ? { cellDiameter } : {}),
    ok: true,
    path,
    sha256: img.sha256,
    width: img.width,
    height: img.height,
    format: img.format,
    bitDepth: img.bitDepth,
    cells,
    morphology,
    buffers: arena.buffers,
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
