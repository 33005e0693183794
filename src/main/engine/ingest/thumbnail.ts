import { encodeJpeg } from './jpeg';
import type { RgbImage } from './segment/types';

export const THUMB_SIZE = 96;

/** Context around the cell's larger side, so its outline and neighbours stay visible. */
const CONTEXT = 1.3;

/**
 * Source taps and weights of an antialiased linear (triangle) resampling from `inSize` px starting at `start` to
 * `outSize` px; taps are clamped to [0, limit) so that context beyond the field repeats its edge. Enlarging
 * (the usual case: cells are smaller than thumbnails) needs two taps per output pixel.
 */
function resampleTaps(start: number, inSize: number, outSize: number, limit: number) {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const span = support === 1 ? 2 : Math.ceil(2 * support) + 1;
  const index = new Int32Array(outSize * span);
  const weight = new Float32Array(outSize * span);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.floor(centre - support + 0.5);
    let total = 0;
    for (let k = 0; k < span; k++) {
      const j = lo + k;
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      index[i * span + k] = Math.min(limit - 1, Math.max(0, start + j));
      weight[i * span + k] = w;
      total += w;
    }
    for (let k = 0; k < span; k++) weight[i * span + k] /= total;
  }
  return { index, weight, span };
}

/**
 * The square RGB patch a thumbnail shows: centred on the cell's box, CONTEXT times its larger side, resampled
 * to size x size straight from the field (crop and resize in one pass, no intermediate crop buffer).
 */
export function thumbnailPixels(
  img: RgbImage,
  bbox: readonly [number, number, number, number],
  size = THUMB_SIZE,
): Uint8Array {
  const side = Math.max(8, Math.ceil(Math.max(bbox[2], bbox[3]) * CONTEXT));
  const x0 = Math.round(bbox[0] + bbox[2] / 2 - side / 2);
  const y0 = Math.round(bbox[1] + bbox[3] / 2 - side / 2);
  const tx = resampleTaps(x0, side, size, img.width);
  const ty = resampleTaps(y0, side, size, img.height);
  const { data, width } = img;
  // Horizontal pass over only the source rows the vertical taps reach.
  let rowLo = img.height;
  let rowHi = -1;
  for (let k = 0; k < ty.index.length; k++) {
    rowLo = Math.min(rowLo, ty.index[k]);
    rowHi = Math.max(rowHi, ty.index[k]);
  }
  const rows = rowHi - rowLo + 1;
  const line = size * 3;
  const tmp = new Float32Array(rows * line);
  const xSpan = tx.span;
  const xIndex = tx.index;
  const xWeight = tx.weight;
  for (let r = 0; r < rows; r++) {
    const src = (rowLo + r) * width;
    const dst = r * line;
    for (let i = 0; i < size; i++) {
      let sr = 0;
      let sg = 0;
      let sb = 0;
      for (let k = i * xSpan, end = k + xSpan; k < end; k++) {
        const w = xWeight[k];
        const p = (src + xIndex[k]) * 3;
        sr += w * data[p];
        sg += w * data[p + 1];
        sb += w * data[p + 2];
      }
      const o = dst + i * 3;
      tmp[o] = sr;
      tmp[o + 1] = sg;
      tmp[o + 2] = sb;
    }
  }
  const out = new Uint8Array(size * line);
  const acc = new Float32Array(line);
  for (let j = 0; j < size; j++) {
    acc.fill(0.5);
    for (let k = j * ty.span, end = k + ty.span; k < end; k++) {
      const w = ty.weight[k];
      if (w === 0) continue;
      const src = (ty.index[k] - rowLo) * line;
      for (let c = 0; c < line; c++) acc[c] += w * tmp[src + c];
    }
    // Weights sum to 1, so values stay within [0, 255.5); the 0.5 start rounds (the store truncates).
    out.set(acc, j * line);
  }
  return out;
}

/** A square, context-padded JPEG thumbnail centred on the cell. */
export function cellThumbnail(img: RgbImage, bbox: readonly [number, number, number, number]): Uint8Array {
  return encodeJpeg(thumbnailPixels(img, bbox), THUMB_SIZE, THUMB_SIZE, 85);
}
