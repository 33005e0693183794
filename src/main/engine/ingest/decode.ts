import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import sharp from 'sharp';

export type ImageDecodeErrorReason =
  'empty' | 'truncated' | 'not-an-image' | 'too-large' | 'unreadable' | 'unsupported';

export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
  constructor(
    readonly reason: ImageDecodeErrorReason,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface DecodedImage {
  /** RGB interleaved, 8 bits per channel, EXIF orientation applied, alpha flattened on white. */
  data: Uint8Array;
  width: number;
  height: number;
  /** Container format as read from the file: 'jpeg', 'png', 'tiff', 'bmp', 'webp', ... */
  format: string;
  /** Bits per channel in the file before conversion to 8 bits. */
  bitDepth: number;
  /** Hex SHA-256 of the file bytes, for deduplication. */
  sha256: string;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this; a 200 MP field already needs 600 MB as RGB. */
  maxPixels?: number;
}

const DEFAULT_MAX_PIXELS = 200e6;

type SniffedFormat = 'jpeg' | 'png' | 'tiff' | 'bmp' | 'webp' | 'gif' | 'heif' | 'jp2' | 'jxl' | 'unknown';

function sniffFormat(head: Uint8Array): SniffedFormat {
  const at = (i: number) => head[i] ?? -1;
  const ascii = (from: number, len: number) =>
    String.fromCharCode(...Array.from(head.subarray(from, from + len)));
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'jpeg';
  if (at(0) === 0x89 && ascii(1, 3) === 'PNG') return 'png';
  if (
    (ascii(0, 2) === 'II' && at(2) === 42 && at(3) === 0) ||
    (ascii(0, 2) === 'MM' && at(2) === 0 && at(3) === 42)
  )
    return 'tiff';
  if ((ascii(0, 2) === 'II' && at(2) === 43) || (ascii(0, 2) === 'MM' && at(3) === 43)) return 'tiff';
  if (ascii(0, 2) === 'BM') return 'bmp';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(4, 4) === 'ftyp') return 'heif';
  if (at(0) === 0 && at(1) === 0 && at(2) === 0 && at(3) === 0x0c && ascii(4, 4) === 'jP  ') return 'jp2';
  if ((at(0) === 0xff && at(1) === 0x0a) || ascii(4, 4) === 'JXL ') return 'jxl';
  return 'unknown';
}

/**
 * Decodes a smear image to 8-bit RGB. Every failure is an ImageDecodeError whose message says what was wrong
 * with the file and what the user can do, because these messages reach lab users through the import report.
 */
export async function decodeImage(path: string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  return (await decodeOrHeader(path, opts, Infinity)) as DecodedImage;
}

/** A field too large to decode whole: its header and file hash, for the region-by-region path. */
export interface LargeImageHeader extends ImageHeader {
  sha256: string;
  large: true;
}

/**
 * decodeImage, except that an image sharp can stream (not BMP) with more than `largeAbove` pixels is not
 * decoded: its header comes back instead (same checks and messages), and readImageRegion reads its pixels.
 */
export async function decodeField(
  path: string,
  opts: DecodeOptions & { largeAbove: number },
): Promise<DecodedImage | LargeImageHeader> {
  return decodeOrHeader(path, opts, opts.largeAbove);
}

async function decodeOrHeader(
  path: string,
  opts: DecodeOptions,
  largeAbove: number,
): Promise<DecodedImage | LargeImageHeader> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new ImageDecodeError('unreadable', path, `${path} is a folder, not an image file.`);
    }
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
    const hint =
      code === 'ENOENT'
        ? 'the file does not exist (moved or deleted?); check the path'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied; give this user read access to the file'
          : `the operating system reported ${code}; check the disk or network share`;
    throw new ImageDecodeError('unreadable', path, `Cannot read ${path}: ${hint}.`);
  }
  if (bytes.length === 0) {
    throw new ImageDecodeError(
      'empty',
      path,
      `${path} is empty (0 bytes); the copy or download probably failed. Copy the file again.`,
    );
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const sniffed = sniffFormat(bytes.subarray(0, 16));
  if (sniffed === 'unknown') {
    throw new ImageDecodeError(
      'not-an-image',
      path,
      `${path} is not an image file this program recognises (expected JPEG, PNG, TIFF, BMP or WebP).`,
    );
  }
  if (sniffed === 'bmp') {
    const bmp = decodeBmp(bytes, path, maxPixels);
    return { ...bmp, format: 'bmp', sha256 };
  }
  return decodeWithSharp(bytes, path, sniffed, maxPixels, sha256, largeAbove);
}

const SHARP_READS = new Set<SniffedFormat>(['jpeg', 'png', 'tiff', 'webp', 'gif']);

function classifySharpError(message: string): ImageDecodeErrorReason {
  const m = message.toLowerCase();
  if (
    /premature end|truncated|unexpected end|not enough data|end of (file|data|stream)|short read|read error|incomplete|crc/.test(
      m,
    )
  )
    return 'truncated';
  if (/pixel limit|exceeds/.test(m)) return 'too-large';
  if (/unsupported|not supported|unknown compression|compression scheme/.test(m)) return 'unsupported';
  if (/corrupt|bad |invalid|damaged/.test(m)) return 'truncated';
  return 'unsupported';
}

function messageFor(reason: ImageDecodeErrorReason, path: string, format: string, detail: string): string {
  switch (reason) {
    case 'truncated':
      return `${path} is a damaged or incomplete ${format.toUpperCase()} file (${detail}); copy it again from the scanner or source.`;
    case 'too-large':
      return `${path} is too large to decode (${detail}); import it as a tiled whole-slide image or split it into fields.`;
    case 'unsupported':
      return `${path} uses a ${format.toUpperCase()} variant this program cannot decode (${detail}); re-save it as PNG or TIFF.`;
    default:
      return `${path} could not be decoded (${detail}).`;
  }
}

async function decodeWithSharp(
  bytes: Buffer,
  path: string,
  sniffed: SniffedFormat,
  maxPixels: number,
  sha256: string,
  largeAbove = Infinity,
): Promise<DecodedImage | LargeImageHeader> {
  let format: string = sniffed;
  try {
    // failOn 'truncated' rejects cut-off files but tolerates the benign warnings many scanners' JPEGs raise.
    const input = sharp(bytes, { failOn: 'truncated', limitInputPixels: false });
    const meta = await input.metadata();
    format = meta.format ?? sniffed;
    const width = meta.width ?? 0;
    const height = meta.height ?? 0;
    if (width * height > maxPixels) {
      throw new ImageDecodeError(
        'too-large',
        path,
        messageFor(
          'too-large',
          path,
          format,
          `${width}x${height} px is over the ${maxPixels / 1e6} MP limit`,
        ),
      );
    }
    const bitDepth = depthBits(meta.depth);
    const oriented = meta.autoOrient ?? { width, height };
    if (oriented.width * oriented.height > largeAbove) {
      return { format, width: oriented.width, height: oriented.height, bitDepth, sha256, large: true };
    }
    const { data, info } = await sharp(bytes, {
      failOn: 'truncated',
      limitInputPixels: false,
      autoOrient: true,
    })
      .flatten({ background: '#ffffff' })
      // toColourspace('srgb') also rescales 16-bit samples to 8 bits (value / 257), so full range is kept.
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImageDecodeError(
        'unsupported',
        path,
        messageFor('unsupported', path, format, `${info.channels} channels after conversion to RGB`),
      );
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
      format,
      bitDepth,
      sha256,
    };
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    const detail = (err as Error).message.split('\n')[0].trim();
    let reason = classifySharpError(detail);
    // The signature matched a format sharp reads, so "unsupported format" means the structure after it is broken.
    if (reason === 'unsupported' && /unsupported image format/i.test(detail) && SHARP_READS.has(sniffed)) {
      reason = 'truncated';
    }
    throw new ImageDecodeError(reason, path, messageFor(reason, path, format, detail));
  }
}

/** A sharp-readable image's header: what the streamed (region by region) path needs before reading pixels. */
export interface ImageHeader {
  format: string;
  width: number;
  height: number;
  bitDepth: number;
}

/**
 * 8-bit RGB of one rectangle of an image file (EXIF orientation applied, alpha flattened on white, 16-bit
 * scaled), decoded by libvips without holding the whole image: memory is the rectangle plus the decoder's
 * working rows.
 */
export async function readImageRegion(
  path: string,
  x: number,
  y: number,
  w: number,
  h: number,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  try {
    const { data, info } = await sharp(path, {
      failOn: 'truncated',
      limitInputPixels: false,
      autoOrient: true,
      sequentialRead: true,
    })
      .extract({ left: x, top: y, width: w, height: h })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== w || info.height !== h) {
      throw new ImageDecodeError(
        'unsupported',
        path,
        messageFor(
          'unsupported',
          path,
          'image',
          `region read gave ${info.width}x${info.height}x${info.channels}`,
        ),
      );
    }
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: w, height: h };
  } catch (err) {
    throw sharpError(err, path, 'unknown', 'image');
  }
}

function sharpError(err: unknown, path: string, sniffed: SniffedFormat, format: string): ImageDecodeError {
  if (err instanceof ImageDecodeError) return err;
  const detail = (err as Error).message.split('\n')[0].trim();
  let reason = classifySharpError(detail);
  if (reason === 'unsupported' && /unsupported image format/i.test(detail) && SHARP_READS.has(sniffed)) {
    reason = 'truncated';
  }
  return new ImageDecodeError(reason, path, messageFor(reason, path, format, detail));
}

function depthBits(depth: string | undefined): number {
  switch (depth) {
    case 'char':
    case 'uchar':
      return 8;
    case 'short':
    case 'ushort':
      return 16;
    case 'int':
    case 'uint':
    case 'float':
      return 32;
    case 'double':
      return 64;
    default:
      return 8;
  }
}

type BmpImage = Omit<DecodedImage, 'format' | 'sha256'>;

/** The fields of a BMP file header decodeBmp reads, or null when `bytes` is too short to hold them. */
function bmpHeader(bytes: Uint8Array) {
  if (bytes.length < 26) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (headerSize < 12 || 14 + headerSize > bytes.length) return null;
  if (headerSize === 12) {
    return {
      pixelOffset,
      headerSize,
      width: view.getUint16(18, true),
      rawHeight: view.getInt16(20, true),
      bpp: view.getUint16(24, true),
      compression: 0,
      paletteCount: 0,
    };
  }
  if (bytes.length < 14 + 40) return null;
  return {
    pixelOffset,
    headerSize,
    width: view.getInt32(18, true),
    rawHeight: view.getInt32(22, true),
    bpp: view.getUint16(28, true),
    compression: view.getUint32(30, true),
    paletteCount: view.getUint32(46, true),
  };
}

/** An image file's size from its header. */
export interface ImageSize {
  /** As decodeImage returns the image (EXIF orientation applied). */
  width: number;
  height: number;
  /** As stored in the file, before orientation, when sharp read the header (null for BMP, read here). */
  stored: { width: number; height: number } | null;
}

/** An image file's size from its header alone; null when the header cannot be read (decoding will say why). */
export async function imageSize(path: string): Promise<ImageSize | null> {
  try {
    const meta = await sharp(path).metadata();
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.autoOrient?.height ?? meta.height;
    return width && height ? { width, height, stored: { width: meta.width, height: meta.height } } : null;
  } catch {
    // sharp reads no BMP: its header is read here.
  }
  try {
    const file = await open(path, 'r');
    try {
      // Long enough for the largest (V5, 124-byte) info header.
      const head = new Uint8Array(160);
      const { bytesRead } = await file.read(head, 0, head.length, 0);
      if (bytesRead < 26 || head[0] !== 0x42 || head[1] !== 0x4d) return null;
      const h = bmpHeader(head.subarray(0, bytesRead));
      return h && h.width > 0 && h.rawHeight !== 0
        ? { width: h.width, height: Math.abs(h.rawHeight), stored: null }
        : null;
    } finally {
      await file.close();
    }
  } catch {
    return null;
  }
}

/**
 * Uncompressed BMP (1/4/8-bit palette, 24-bit, 32-bit BI_RGB or BI_BITFIELDS): the prebuilt libvips in sharp
 * has no BMP loader, and microscope capture software still writes BMP.
 */
export function decodeBmp(bytes: Uint8Array, path: string, maxPixels = DEFAULT_MAX_PIXELS): BmpImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const truncated = (what: string) =>
    new ImageDecodeError('truncated', path, messageFor('truncated', path, 'bmp', what));
  const header = bmpHeader(bytes);
  if (!header) throw truncated('the header is cut off');
  const { pixelOffset, headerSize, width, rawHeight, bpp, compression, paletteCount } = header;
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) {
    throw new ImageDecodeError(
      'truncated',
      path,
      messageFor('truncated', path, 'bmp', `invalid size ${width}x${height}`),
    );
  }
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      'too-large',
      path,
      messageFor('too-large', path, 'bmp', `${width}x${height} px is over the ${maxPixels / 1e6} MP limit`),
    );
  }
  const BI_RGB = 0;
  const BI_BITFIELDS = 3;
  const supported =
    ([1, 4, 8, 24].includes(bpp) && compression === BI_RGB) ||
    (bpp === 32 && (compression === BI_RGB || compression === BI_BITFIELDS));
  if (!supported) {
    throw new ImageDecodeError(
      'unsupported',
      path,
      messageFor('unsupported', path, 'bmp', `${bpp}-bit with compression type ${compression}`),
    );
  }
  // 32-bit masks: BI_RGB means BGRX; BITFIELDS masks follow a 40-byte header or live inside a V4/V5 header.
  let masks = [0x00ff0000, 0x0000ff00, 0x000000ff];
  if (bpp === 32 && compression === BI_BITFIELDS) {
    if (bytes.length < 14 + 40 + 12) throw truncated('the colour masks are cut off');
    masks = [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true)];
  }
  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    const count = paletteCount || 1 << bpp;
    const entrySize = headerSize === 12 ? 3 : 4;
    const start = 14 + headerSize;
    if (start + count * entrySize > bytes.length) throw truncated('the colour palette is cut off');
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < Math.min(count, 256); i++) {
      const o = start + i * entrySize;
      palette[i * 3] = bytes[o + 2];
      palette[i * 3 + 1] = bytes[o + 1];
      palette[i * 3 + 2] = bytes[o];
    }
  }
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  if (pixelOffset + rowBytes * (height - 1) + Math.ceil((width * bpp) / 8) > bytes.length) {
    throw truncated(
      `pixel data ends early (${bytes.length} bytes, ${pixelOffset + rowBytes * height} expected)`,
    );
  }
  const out = new Uint8Array(width * height * 3);
  const shiftOf = (m: number) => (m === 0 ? 0 : 31 - Math.clz32(m & -m));
  const bitsOf = (m: number) => {
    let n = 0;
    for (let v = m >>> 0; v; v >>>= 1) n += v & 1;
    return n;
  };
  const maskShift = masks.map(shiftOf);
  const maskMax = masks.map((m) => (1 << bitsOf(m)) - 1 || 1);
  for (let y = 0; y < height; y++) {
    const srcRow = pixelOffset + (topDown ? y : height - 1 - y) * rowBytes;
    const dst = y * width * 3;
    if (bpp === 24) {
      for (let x = 0; x < width; x++) {
        const s = srcRow + x * 3;
        out[dst + x * 3] = bytes[s + 2];
        out[dst + x * 3 + 1] = bytes[s + 1];
        out[dst + x * 3 + 2] = bytes[s];
      }
    } else if (bpp === 32) {
      for (let x = 0; x < width; x++) {
        const v = view.getUint32(srcRow + x * 4, true);
        for (let c = 0; c < 3; c++) {
          const raw = (v & masks[c]) >>> maskShift[c];
          out[dst + x * 3 + c] = maskMax[c] === 255 ? raw : Math.round((raw * 255) / maskMax[c]);
        }
      }
    } else if (palette) {
      const perByte = 8 / bpp;
      const valueMask = (1 << bpp) - 1;
      for (let x = 0; x < width; x++) {
        const byte = bytes[srcRow + Math.floor(x / perByte)];
        const shift = 8 - bpp * ((x % perByte) + 1);
        const index = (byte >> shift) & valueMask;
        out[dst + x * 3] = palette[index * 3];
        out[dst + x * 3 + 1] = palette[index * 3 + 1];
        out[dst + x * 3 + 2] = palette[index * 3 + 2];
      }
    }
  }
  return { data: out, width, height, bitDepth: 8 };
}
