import fs from 'node:fs';
import { decodeImage, ImageDecodeError, type ImageDecodeErrorReason } from './decode';
import { segmentCells } from './segment/cells';
import { CellDetector, defaultDetectorPath } from './segment/detector';
import type { CellKind } from './segment/types';

/** One cell in the `reddino detect` JSON: full-resolution px, top-left origin. */
export interface DetectedCell {
  bbox: [number, number, number, number];
  centroid: [number, number];
  area: number;
  kind: CellKind;
  touchesBorder: boolean;
  score?: number;
}

export interface DetectedImage {
  image: string;
  width: number;
  height: number;
  cells: DetectedCell[];
  /** Present when the image could not be decoded; the batch goes on with the next file. */
  error?: { reason: ImageDecodeErrorReason; message: string };
}

export interface DetectImagesOptions {
  /**
   * The learned detector to use: a loaded CellDetector, a path to an ONNX file, or null for the classical
   * pipeline only. Default: the shipped resources/models/detector-cells.onnx when present, else classical.
   */
  detector?: CellDetector | string | null;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Decodes and segments each image in turn (the `reddino detect` command's engine side). */
export async function detectImages(
  paths: readonly string[],
  opts: DetectImagesOptions = {},
): Promise<DetectedImage[]> {
  let detector: CellDetector | null = null;
  if (opts.detector instanceof CellDetector) detector = opts.detector;
  else if (typeof opts.detector === 'string') detector = await CellDetector.load(opts.detector);
  else if (opts.detector === undefined && fs.existsSync(defaultDetectorPath())) {
    detector = await CellDetector.load(defaultDetectorPath());
  }
  const results: DetectedImage[] = [];
  for (const [i, image] of paths.entries()) {
    opts.signal?.throwIfAborted();
    try {
      const img = await decodeImage(image);
      const { cells } = await segmentCells(img, { detector, signal: opts.signal });
      results.push({
        image,
        width: img.width,
        height: img.height,
        cells: cells.map((c) => {
          const cell: DetectedCell = {
            bbox: c.bbox.map(round2) as [number, number, number, number],
            centroid: c.centroid.map(round2) as [number, number],
            area: c.morph.area,
            kind: c.kind,
            touchesBorder: c.touchesBorder,
          };
          if (c.score !== undefined) cell.score = round2(c.score);
          return cell;
        }),
      });
    } catch (err) {
      if (!(err instanceof ImageDecodeError)) throw err;
      results.push({
        image,
        width: 0,
        height: 0,
        cells: [],
        error: { reason: err.reason, message: err.message },
      });
    }
    opts.onProgress?.(i + 1, paths.length, 'detect');
  }
  return results;
}
