import { jpegKernel } from './jpeg';
import type { RgbImage } from './segment/types';

export const THUMB_SIZE = 96;

/** Context around the cell's larger side, so its outline and neighbours stay visible. */
const CONTEXT = 1.3;

/**
 * Source taps and weights of an antialiased linear (triangle) resampling from `inSize` px starting at `start` to
 * `outSize` px; taps are clamped to [0, limit) so that context beyond the field repeats its edge. Enlarging
 * (the usual case: cells are smaller than thumbnails) needs two taps per output pixel.
 */
function resampleTaps(start: number, inSize: number, outSize: number, limit: number, slot = -1) {
  const scale = inSize / outSize;
  // Plain two-tap bilinear up to 1.5x shrinking (chroma planes of typical cells): the aliasing it allows there
  // is invisible in smooth cell colour, and it halves the taps; larger shrinks are antialiased.
  const support = scale > 1.5 ? scale : 1;
  const span = support === 1 ? 2 : Math.ceil(2 * support) + 1;
  // A slot (cellThumbnail, synchronous) reuses that slot's arrays instead of allocating four per thumbnail.
  const index = slot < 0 ? new Int32Array(outSize * span) : scratchTapIndex(slot, outSize * span);
  const weight = slot < 0 ? new Float32Array(outSize * span) : scratchFloats(slot, outSize * span);
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

/** Scratch tap weights reused by every thumbnail (encoding is synchronous), one slot per tap set. */
const scratch: Float32Array[] = [];

function scratchFloats(slot: number, length: number): Float32Array {
  let a = scratch[slot];
  if (!a || a.length < length) {
    a = new Float32Array(Math.max(length, 2 * (a?.length ?? 0), 4096));
    scratch[slot] = a;
  }
  return a;
}

const tapIndex: Int32Array[] = [];

/** Slot `slot` of the reused tap indices, exactly `length` long (a view when the array is larger). */
function scratchTapIndex(slot: number, length: number): Int32Array {
  let a = tapIndex[slot];
  if (!a || a.length < length) {
    a = new Int32Array(Math.max(length, 2 * (a?.length ?? 0), 1024));
    tapIndex[slot] = a;
  }
  return a.subarray(0, length);
}

/**
 * A square, context-padded JPEG thumbnail centred on the cell: the same patch as thumbnailPixels, but colour
 * converted once at source resolution (a cell patch is ~3x smaller than the thumbnail) and resampled straight
 * into the encoder's planes (luma at 96 px, chroma at 48 px), with no 8-bit RGB image in between. The taps are
 * computed here; the patch is copied into the JPEG kernel, which converts, resamples and encodes it.
 */
export function cellThumbnail(
  img: RgbImage,
  bbox: readonly [number, number, number, number],
  /** Return a view of the encoder's memory, valid until the next thumbnail, for a caller that copies it. */
  shared = false,
): Uint8Array {
  const size = THUMB_SIZE;
  const half = size >> 1;
  const side = Math.max(8, Math.ceil(Math.max(bbox[2], bbox[3]) * CONTEXT));
  const x0 = Math.round(bbox[0] + bbox[2] / 2 - side / 2);
  const y0 = Math.round(bbox[1] + bbox[3] / 2 - side / 2);
  const taps = [
    resampleTaps(x0, side, size, img.width, 0),
    resampleTaps(y0, side, size, img.height, 1),
    resampleTaps(x0, side, half, img.width, 2),
    resampleTaps(y0, side, half, img.height, 3),
  ];
  // The source patch every tap falls in (clamped to the field), in field px.
  let colLo = img.width;
  let colHi = -1;
  let rowLo = img.height;
  let rowHi = -1;
  for (let k = 0; k < 4; k++) {
    const index = taps[k].index;
    for (let i = 0; i < index.length; i++) {
      const v = index[i];
      if (k % 2 === 0) {
        if (v < colLo) colLo = v;
        if (v > colHi) colHi = v;
      } else {
        if (v < rowLo) rowLo = v;
        if (v > rowHi) rowHi = v;
      }
    }
  }
  const pw = colHi - colLo + 1;
  const ph = rowHi - rowLo + 1;
  const kernel = jpegKernel();
  const patch = kernel.alloc(pw * ph * 3);
  const planes = kernel.alloc(pw * ph * 12);
  const tmp = kernel.alloc(ph * size * 4);
  const outY = kernel.alloc(size * size * 4);
  const outCb = kernel.alloc(half * half * 4);
  const outCr = kernel.alloc(half * half * 4);
  const table = kernel.alloc(48);
  const tapAt = taps.map((t) => [kernel.alloc(t.index.length * 4), kernel.alloc(t.index.length * 4)]);
  // Views after the last alloc (growing the memory renews them).
  const { u8, i32, f32 } = kernel;
  const { data, width } = img;
  for (let r = 0; r < ph; r++) {
    const from = ((rowLo + r) * width + colLo) * 3;
    u8.set(data.subarray(from, from + pw * 3), patch + r * pw * 3);
  }
  for (let k = 0; k < 4; k++) {
    const { index, weight, span } = taps[k];
    const [indexAt, weightAt] = tapAt[k];
    // Patch-relative source indices.
    const lo = k % 2 === 0 ? colLo : rowLo;
    const base = indexAt >> 2;
    for (let i = 0; i < index.length; i++) i32[base + i] = index[i] - lo;
    f32.set(weight.subarray(0, index.length), weightAt >> 2);
    i32[(table >> 2) + 3 * k] = indexAt;
    i32[(table >> 2) + 3 * k + 1] = weightAt;
    i32[(table >> 2) + 3 * k + 2] = span;
  }
  kernel.k.thumbnailPlanes(patch, pw, ph, planes, table, size, half, outY, outCb, outCr, tmp);
  return kernel.encodePlanes(outY, outCb, outCr, size, size, 85, shared);
}
