import { readImageRegion } from './decode';
import type { RegionReader } from './segment/large';
import type { RgbImage } from './segment/types';

export interface FileRegionReaderOptions {
  /**
   * Largest full-width strip kept in memory, in bytes of RGB. Tiles are read row of tiles by row of tiles, so a
   * strip as tall as a tile's region serves every tile of its row with one decode pass (JPEG and PNG decode
   * from the top: reading each tile on its own would decode the rows above it again for every column). Wider
   * images than the budget allows are read tile by tile instead.
   */
  stripBytes?: number;
}

export interface FileRegionReader {
  read: RegionReader;
  /** Largest number of pixels held at once by the reader (strip or region), for the memory bound. */
  readonly peakPixels: number;
}

/**
 * RegionReader over an image file: pixels come from libvips region by region (sharp `extract`), so a stitched
 * smear far larger than memory is segmented with memory bounded by one strip or tile.
 */
export function fileRegionReader(
  path: string,
  width: number,
  opts: FileRegionReaderOptions = {},
): FileRegionReader {
  const budget = opts.stripBytes ?? 96 * 2 ** 20;
  let strip: { y: number; h: number; image: RgbImage } | null = null;
  let peakPixels = 0;
  const read: RegionReader = async (x, y, w, h) => {
    if (!strip || y < strip.y || y + h > strip.y + strip.h) {
      strip = null;
      if (width * h * 3 > budget) {
        peakPixels = Math.max(peakPixels, w * h);
        return readImageRegion(path, x, y, w, h);
      }
      strip = { y, h, image: await readImageRegion(path, 0, y, width, h) };
      peakPixels = Math.max(peakPixels, width * h);
    }
    const { image } = strip;
    const data = new Uint8Array(w * h * 3);
    for (let row = 0; row < h; row++) {
      const src = ((y - strip.y + row) * width + x) * 3;
      data.set(image.data.subarray(src, src + w * 3), row * w * 3);
    }
    return { data, width: w, height: h };
  };
  return {
    read,
    get peakPixels() {
      return peakPixels;
    },
  };
}
