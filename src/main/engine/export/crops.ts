import sharp from 'sharp';
import type { DecodedImage } from '../ingest/decode';

export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The pixel rectangle cut for a cell. Native: the bbox rounded outward. With `size`: a square of side max(w, h)
 * centred on the bbox, so resizing to size x size keeps the cell's aspect ratio (shape is the signal for
 * elliptocytes and sickle cells). Clipped to the image.
 */
export function cropBox(
  bbox: readonly [number, number, number, number],
  imageWidth: number,
  imageHeight: number,
  square: boolean,
): CropBox {
  let [x, y, w, h] = bbox;
  if (square) {
    const side = Math.max(w, h);
    x -= (side - w) / 2;
    y -= (side - h) / 2;
    w = side;
    h = side;
  }
  const left = Math.max(0, Math.floor(x));
  const top = Math.max(0, Math.floor(y));
  const right = Math.min(imageWidth, Math.ceil(x + w));
  const bottom = Math.min(imageHeight, Math.ceil(y + h));
  return { left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) };
}

/**
 * PNG of one crop from a decoded RGB field; lossless so exported pixels equal the field's. The region is copied
 * out in JS first: handing sharp the whole field per crop would copy ~1 MB per cell.
 */
export async function cropPng(img: DecodedImage, box: CropBox, size?: number): Promise<Buffer> {
  const left = Math.min(box.left, img.width - 1);
  const top = Math.min(box.top, img.height - 1);
  const width = Math.min(box.width, img.width - left);
  const height = Math.min(box.height, img.height - top);
  const region = Buffer.allocUnsafe(width * height * 3);
  const src = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * 3;
    src.copy(region, y * width * 3, from, from + width * 3);
  }
  let pipeline = sharp(region, { raw: { width, height, channels: 3 } });
  if (size) pipeline = pipeline.resize(size, size, { fit: 'fill', kernel: 'lanczos3' });
  return pipeline.png({ compressionLevel: 6 }).toBuffer();
}
