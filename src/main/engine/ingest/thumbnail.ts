import { encodeJpegYcc } from './jpeg';
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
  const weight = slot < 0 ? new Float32Array(outSize * span) : scratchFloats(5 + slot, outSize * span);
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

/**
 * Scratch planes reused by every thumbnail (encoding is synchronous): slot 1 the resampler's intermediate,
 * 2-4 the colour-converted patch. Only the first `length` values of a slot are meaningful.
 */
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

const planeY = new Float32Array(THUMB_SIZE * THUMB_SIZE);
const planeCb = new Float32Array((THUMB_SIZE >> 1) * (THUMB_SIZE >> 1));
const planeCr = new Float32Array((THUMB_SIZE >> 1) * (THUMB_SIZE >> 1));

/** Resamples one plane (patch-relative taps) to outW x outH: horizontal pass, then vertical. */
function resamplePlane(
  src: Float32Array,
  srcWidth: number,
  srcHeight: number,
  tx: ReturnType<typeof resampleTaps>,
  ty: ReturnType<typeof resampleTaps>,
  outW: number,
  outH: number,
  out: Float32Array,
): Float32Array {
  const tmp = scratchFloats(1, srcHeight * outW);
  const { index, weight, span } = tx;
  if (span === 2) {
    // Enlarging (the usual case): two taps, written out.
    for (let r = 0; r < srcHeight; r++) {
      const row = r * srcWidth;
      const o = r * outW;
      for (let i = 0, k = 0; i < outW; i++, k += 2)
        tmp[o + i] = weight[k] * src[row + index[k]] + weight[k + 1] * src[row + index[k + 1]];
    }
  } else {
    for (let r = 0; r < srcHeight; r++) {
      const row = r * srcWidth;
      for (let i = 0; i < outW; i++) {
        let acc = 0;
        for (let k = i * span, end = k + span; k < end; k++) acc += weight[k] * src[row + index[k]];
        tmp[r * outW + i] = acc;
      }
    }
  }
  if (ty.span === 2) {
    for (let j = 0; j < outH; j++) {
      const o = j * outW;
      const w0 = ty.weight[2 * j];
      const w1 = ty.weight[2 * j + 1];
      const t0 = ty.index[2 * j] * outW;
      const t1 = ty.index[2 * j + 1] * outW;
      for (let i = 0; i < outW; i++) out[o + i] = w0 * tmp[t0 + i] + w1 * tmp[t1 + i];
    }
    return out;
  }
  out.fill(0, 0, outW * outH);
  for (let j = 0; j < outH; j++) {
    const o = j * outW;
    for (let k = j * ty.span, end = k + ty.span; k < end; k++) {
      const w = ty.weight[k];
      if (w === 0) continue;
      const t = ty.index[k] * outW;
      for (let i = 0; i < outW; i++) out[o + i] += w * tmp[t + i];
    }
  }
  return out;
}

/**
 * A square, context-padded JPEG thumbnail centred on the cell: the same patch as thumbnailPixels, but colour
 * converted once at source resolution (a cell patch is ~3x smaller than the thumbnail) and resampled straight
 * into the encoder's planes (luma at 96 px, chroma at 48 px), with no 8-bit RGB image in between.
 */
export function cellThumbnail(
  img: RgbImage,
  bbox: readonly [number, number, number, number],
  /** Return a view of the encoder's buffer, valid until the next thumbnail, for a caller that copies it. */
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
  for (let k = 0; k < 4; k++) {
    const index = taps[k].index;
    const lo = k % 2 === 0 ? colLo : rowLo;
    for (let i = 0; i < index.length; i++) index[i] -= lo;
  }
  const pw = colHi - colLo + 1;
  const ph = rowHi - rowLo + 1;
  const y = scratchFloats(2, pw * ph);
  const cb = scratchFloats(3, pw * ph);
  const cr = scratchFloats(4, pw * ph);
  const { data, width } = img;
  for (let r = 0; r < ph; r++) {
    for (let c = 0; c < pw; c++) {
      const p = ((rowLo + r) * width + colLo + c) * 3;
      const R = data[p];
      const G = data[p + 1];
      const B = data[p + 2];
      const i = r * pw + c;
      y[i] = 0.299 * R + 0.587 * G + 0.114 * B - 128;
      cb[i] = -0.168736 * R - 0.331264 * G + 0.5 * B;
      cr[i] = 0.5 * R - 0.418688 * G - 0.081312 * B;
    }
  }
  return encodeJpegYcc(
    {
      y: resamplePlane(y, pw, ph, taps[0], taps[1], size, size, planeY),
      cb: resamplePlane(cb, pw, ph, taps[2], taps[3], half, half, planeCb),
      cr: resamplePlane(cr, pw, ph, taps[2], taps[3], half, half, planeCr),
      width: size,
      height: size,
    },
    85,
    shared,
  );
}
