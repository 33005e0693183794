import sharp from 'sharp';

/**
 * Model input for RedDino / DINOv2 embeddings, as in RedDino's evaluation: a square crop around the cell,
 * resized to the model size with PIL's Image.resize(BILINEAR) (what torchvision's Resize does on PIL
 * images), scaled to [0, 1] and normalized with the model's mean/std, NCHW float32.
 *
 * The resampler below is a port of Pillow's Resample.c for 8-bit images: a triangle filter whose support
 * grows with the downscale factor (antialiasing), fixed-point coefficients with 22 fraction bits, a
 * horizontal pass into an 8-bit image, then a vertical pass. It reproduces PIL's output exactly.
 */

export interface RgbImage {
  /** Interleaved RGB, row-major, 3 bytes per pixel. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** A cell's bounding box in full-resolution image pixels, origin top-left. */
export interface CellBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Rgb = [number, number, number];

/**
 * Crop side = max(width, height) x this factor. RedDino was trained on single-cell crops whose cell fills
 * most of the frame; 1.25 keeps the whole membrane plus a thin ring of background while leaving little
 * room for neighbouring cells in dense smears.
 */
export const DEFAULT_CONTEXT_FACTOR = 1.25;

export interface CellCropOptions {
  contextFactor?: number;
}

export interface SquareBox {
  x0: number;
  y0: number;
  side: number;
}

const roundHalfUp = (v: number) => Math.floor(v + 0.5);

/** The square crop (may extend past the image) centred on the cell's box. */
export function cellCropBox(box: CellBox, contextFactor = DEFAULT_CONTEXT_FACTOR): SquareBox {
  if (!(box.width > 0 && box.height > 0)) throw new Error(`cell box ${JSON.stringify(box)} is empty`);
  if (!(contextFactor > 0)) throw new Error(`context factor must be positive, got ${contextFactor}`);
  const side = Math.max(1, roundHalfUp(Math.max(box.width, box.height) * contextFactor));
  return {
    x0: roundHalfUp(box.x + box.width / 2 - side / 2),
    y0: roundHalfUp(box.y + box.height / 2 - side / 2),
    side,
  };
}

/** Mean colour of the image, rounded: the padding where a crop leaves the image (mostly smear background). */
export function imageMeanColor(image: RgbImage): Rgb {
  let r = 0;
  let g = 0;
  let b = 0;
  const d = image.data;
  for (let i = 0; i < d.length; i += 3) {
    r += d[i];
    g += d[i + 1];
    b += d[i + 2];
  }
  const n = image.width * image.height;
  return [roundHalfUp(r / n), roundHalfUp(g / n), roundHalfUp(b / n)];
}

function checkImage(image: RgbImage): void {
  if (image.data.length !== image.width * image.height * 3) {
    throw new Error(
      `RGB image ${image.width}x${image.height} needs ${image.width * image.height * 3} bytes, got ${image.data.length}`,
    );
  }
}

export function cropSquare(image: RgbImage, box: SquareBox, fill: Rgb): RgbImage {
  const { x0, y0, side } = box;
  const out = new Uint8Array(side * side * 3);
  for (let i = 0; i < out.length; i += 3) {
    out[i] = fill[0];
    out[i + 1] = fill[1];
    out[i + 2] = fill[2];
  }
  const sx0 = Math.max(x0, 0);
  const sy0 = Math.max(y0, 0);
  const sx1 = Math.min(x0 + side, image.width);
  const sy1 = Math.min(y0 + side, image.height);
  if (sx1 > sx0) {
    for (let y = sy0; y < sy1; y++) {
      const src = (y * image.width + sx0) * 3;
      out.set(image.data.subarray(src, src + (sx1 - sx0) * 3), ((y - y0) * side + (sx0 - x0)) * 3);
    }
  }
  return { data: out, width: side, height: side };
}

// ---- Pillow's resampler (Resample.c), bilinear filter, 8 bits per channel ----

const PRECISION_BITS = 32 - 8 - 2;

interface Coefficients {
  bounds: Int32Array; // [xmin, count] per output pixel
  weights: Int32Array; // ksize fixed-point weights per output pixel
  ksize: number;
}

function bilinearFilter(x: number): number {
  const a = x < 0 ? -x : x;
  return a < 1 ? 1 - a : 0;
}

function precomputeCoefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bilinearFilter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) if (ww !== 0) k[x] /= ww;
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax ? k[x] : 0;
      weights[xx * ksize + x] =
        v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, weights, ksize };
}

function clip8(v: number): number {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

const HALF = 1 << (PRECISION_BITS - 1);

function resampleHorizontal(src: RgbImage, outWidth: number): RgbImage {
  const { bounds, weights, ksize } = precomputeCoefficients(src.width, outWidth);
  const out = new Uint8Array(outWidth * src.height * 3);
  const d = src.data;
  for (let y = 0; y < src.height; y++) {
    const row = y * src.width * 3;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = bounds[xx * 2];
      const count = bounds[xx * 2 + 1];
      const kb = xx * ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      for (let x = 0; x < count; x++) {
        const w = weights[kb + x];
        const p = row + (xmin + x) * 3;
        s0 += d[p] * w;
        s1 += d[p + 1] * w;
        s2 += d[p + 2] * w;
      }
      const o = (y * outWidth + xx) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return { data: out, width: outWidth, height: src.height };
}

function resampleVertical(src: RgbImage, outHeight: number): RgbImage {
  const { bounds, weights, ksize } = precomputeCoefficients(src.height, outHeight);
  const rowBytes = src.width * 3;
  const out = new Uint8Array(rowBytes * outHeight);
  const d = src.data;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2];
    const count = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    for (let i = 0; i < rowBytes; i++) {
      let s = HALF;
      for (let y = 0; y < count; y++) s += d[(ymin + y) * rowBytes + i] * weights[kb + y];
      out[yy * rowBytes + i] = clip8(s);
    }
  }
  return { data: out, width: src.width, height: outHeight };
}

/** PIL `Image.resize((width, height), Image.BILINEAR)` on an RGB image, bit for bit. */
export function resizeBilinearLikePil(src: RgbImage, width: number, height: number): RgbImage {
  checkImage(src);
  let img = src;
  if (width !== img.width) img = resampleHorizontal(img, width);
  if (height !== img.height) img = resampleVertical(img, height);
  return img === src ? { data: src.data.slice(), width, height } : img;
}

/** ToTensor + Normalize in float32 arithmetic, like torchvision, written at `offset` as CHW. */
export function normalizeIntoNchw(
  img: RgbImage,
  mean: Rgb,
  std: Rgb,
  out: Float32Array,
  offset: number,
): void {
  const plane = img.width * img.height;
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
  }
  const d = img.data;
  for (let p = 0; p < plane; p++) {
    out[offset + p] = lut[d[p * 3]];
    out[offset + plane + p] = lut[256 + d[p * 3 + 1]];
    out[offset + 2 * plane + p] = lut[512 + d[p * 3 + 2]];
  }
}

/** Square RGB crop of one cell at model size (before normalization): for previews and parity tests. */
export function cellCropAtModelSize(
  image: RgbImage,
  box: CellBox,
  inputSize: number,
  options: CellCropOptions & { fill?: Rgb } = {},
): RgbImage {
  checkImage(image);
  const crop = cropSquare(
    image,
    cellCropBox(box, options.contextFactor),
    options.fill ?? imageMeanColor(image),
  );
  return crop.width === inputSize ? crop : resizeBilinearLikePil(crop, inputSize, inputSize);
}

/** One NCHW float32 batch with the model input of every cell box in `image`. */
export function preprocessCellCrops(
  image: RgbImage,
  boxes: readonly CellBox[],
  inputSize: number,
  mean: Rgb,
  std: Rgb,
  options: CellCropOptions = {},
): Float32Array {
  const out = new Float32Array(boxes.length * 3 * inputSize * inputSize);
  preprocessCellCropsInto(image, boxes, inputSize, mean, std, out, 0, options);
  return out;
}

/**
 * preprocessCellCrops writing into `out` from image slot `slot` on (a batch filled from several images); `fill`
 * is the image's mean colour when the caller already has it.
 */
export function preprocessCellCropsInto(
  image: RgbImage,
  boxes: readonly CellBox[],
  inputSize: number,
  mean: Rgb,
  std: Rgb,
  out: Float32Array,
  slot: number,
  options: CellCropOptions & { fill?: Rgb } = {},
): void {
  checkImage(image);
  const fill = options.fill ?? imageMeanColor(image);
  const per = 3 * inputSize * inputSize;
  if ((slot + boxes.length) * per > out.length) {
    throw new Error(`a batch of ${out.length / per} images has no room for ${boxes.length} more at ${slot}`);
  }
  boxes.forEach((box, i) => {
    const crop = cellCropAtModelSize(image, box, inputSize, { ...options, fill });
    normalizeIntoNchw(crop, mean, std, out, (slot + i) * per);
  });
}

export async function decodeRgb(filePath: string): Promise<RgbImage> {
  // No EXIF auto-rotation: PIL and torchvision do not rotate either, and the parity tests rely on it.
  const { data, info } = await sharp(filePath)
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${filePath}: decoded to ${info.channels} channels, expected 3`);
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
  };
}

/**
 * Model input for a whole image file (a cell-crop folder entry): padded to a square with its mean colour,
 * so the cell keeps its shape, then resized. An image already at the model size is only normalized.
 */
export async function preprocessImageFile(
  filePath: string,
  inputSize: number,
  mean: Rgb,
  std: Rgb,
): Promise<Float32Array> {
  const image = await decodeRgb(filePath);
  return preprocessCellCrops(
    image,
    [{ x: 0, y: 0, width: image.width, height: image.height }],
    inputSize,
    mean,
    std,
    {
      contextFactor: 1,
    },
  );
}
