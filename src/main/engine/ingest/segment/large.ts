import { estimateFieldCellRadius, estimateStainParameters, segmentField } from './field';
import type { RgbImage, SegmentedCell, StainParameters } from './types';

/** Reads the RGB pixels of a rectangle of the full image (x, y, w, h in full-resolution px). */
export type RegionReader = (x: number, y: number, w: number, h: number) => Promise<RgbImage> | RgbImage;

/** Slide-wide parameters every tile is segmented with, so that both tiles of a seam agree on its cells. */
export interface SlideParameters {
  cellRadius: number;
  stain: StainParameters;
}

/** Segments one tile with the slide-wide parameters. */
export type TileSegmenter = (
  tile: RgbImage,
  slide: SlideParameters,
) => Promise<SegmentedCell[]> | SegmentedCell[];

export interface LargeFieldOptions {
  /** Side of the core tiles that partition the image. */
  tile?: number;
  /**
   * Context added on every side of a core tile. Must exceed the largest cell's diameter, so that a cell whose
   * centroid lies in a core is whole inside the tile read around it. Default: 8 typical RBC radii (a large WBC
   * is about 3 RBC diameters across), at least 64 px.
   */
  overlap?: number;
  /** Typical RBC radius; estimated from the central tile when absent. */
  cellRadius?: number;
  /** Background and threshold; estimated from the central tile when absent. */
  stain?: StainParameters;
  segment?: TileSegmenter;
  /**
   * Called once per tile with the cells it keeps (image coordinates) while the tile's pixels are still in
   * memory, so thumbnails and crops can be cut without reading the region again. Cells handed to it are not
   * also collected: segmentLargeField then returns an empty list, and a huge field's cells are held once.
   */
  onTileCells?: (cells: SegmentedCell[], region: RgbImage, x0: number, y0: number) => void | Promise<void>;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

/**
 * Segments a field too large to hold as one RGB buffer (a 10000 x 10000 scan is 300 MB as RGB, several GB of
 * intermediate maps), one overlapping tile at a time. Each cell is kept exactly once: by the tile whose core
 * contains its centroid. Memory is bounded by one (tile + 2 overlap)^2 region (plus what the reader holds, see
 * fileRegionReader) and the cells found.
 */
export async function segmentLargeField(
  readRegion: RegionReader,
  width: number,
  height: number,
  opts: LargeFieldOptions = {},
): Promise<SegmentedCell[]> {
  const tile = Math.max(64, Math.floor(opts.tile ?? 2048));
  const segment: TileSegmenter =
    opts.segment ?? ((img, slide) => segmentField(img, { cellRadius: slide.cellRadius, stain: slide.stain }));
  let r = opts.cellRadius;
  let stain = opts.stain;
  if (!r || !stain) {
    const side = Math.min(tile, width, height);
    const x = Math.max(0, Math.floor((width - side) / 2));
    const y = Math.max(0, Math.floor((height - side) / 2));
    const centre = await readRegion(x, y, Math.min(side, width), Math.min(side, height));
    r ??= estimateFieldCellRadius(centre);
    stain ??= estimateStainParameters(centre);
  }
  const slide: SlideParameters = { cellRadius: r, stain };
  const overlap = Math.ceil(opts.overlap ?? Math.max(64, 8 * r));
  const cols = Math.ceil(width / tile);
  const rows = Math.ceil(height / tile);
  const total = cols * rows;
  const cells: SegmentedCell[] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      opts.signal?.throwIfAborted();
      const coreX = col * tile;
      const coreY = row * tile;
      const coreX1 = Math.min(width, coreX + tile);
      const coreY1 = Math.min(height, coreY + tile);
      const x0 = Math.max(0, coreX - overlap);
      const y0 = Math.max(0, coreY - overlap);
      const x1 = Math.min(width, coreX1 + overlap);
      const y1 = Math.min(height, coreY1 + overlap);
      const region = await readRegion(x0, y0, x1 - x0, y1 - y0);
      const kept: SegmentedCell[] = [];
      for (const cell of await segment(region, slide)) {
        const cx = cell.centroid[0] + x0;
        const cy = cell.centroid[1] + y0;
        if (cx < coreX || cx >= coreX1 || cy < coreY || cy >= coreY1) continue;
        kept.push(toImageCoordinates(cell, x0, y0, width, height));
      }
      if (opts.onTileCells) await opts.onTileCells(kept, region, x0, y0);
      else for (const cell of kept) cells.push(cell);
      opts.onProgress?.(row * cols + col + 1, total, 'segment');
    }
  }
  return cells;
}

function toImageCoordinates(cell: SegmentedCell, x0: number, y0: number, width: number, height: number) {
  const contour = new Float32Array(cell.contour.length);
  for (let k = 0; k < contour.length; k += 2) {
    contour[k] = cell.contour[k] + x0;
    contour[k + 1] = cell.contour[k + 1] + y0;
  }
  const [bx, by, bw, bh] = cell.bbox;
  const bbox: [number, number, number, number] = [bx + x0, by + y0, bw, bh];
  return {
    ...cell,
    bbox,
    centroid: [cell.centroid[0] + x0, cell.centroid[1] + y0] as [number, number],
    contour,
    touchesBorder: bbox[0] <= 0 || bbox[1] <= 0 || bbox[0] + bw >= width || bbox[1] + bh >= height,
  };
}

/** RegionReader over an RGB image already in memory (tests, and fields small enough to decode whole). */
export function inMemoryRegionReader(img: RgbImage): RegionReader {
  return (x, y, w, h) => {
    const data = new Uint8Array(w * h * 3);
    for (let row = 0; row < h; row++) {
      const src = ((y + row) * img.width + x) * 3;
      data.set(img.data.subarray(src, src + w * 3), row * w * 3);
    }
    return { data, width: w, height: h };
  };
}
