/**
 * Baseline JPEG encoder (YCbCr 4:2:0, Annex K quantisation and Huffman tables) for cell thumbnails. Thumbnails
 * are tiny (96 x 96) and there are ~100 per field: one native codec call each cost more in call overhead than
 * the encoding itself, so ingest encodes them synchronously, on the worker that cut them. The DCT, quantisation
 * and Huffman coding run in a small WebAssembly kernel (wasm/jpeg.as.ts, AssemblyScript, built by
 * scripts/build-wasm.mjs): it produces the bytes the TypeScript encoder did, at under half its cost. Headers and
 * tables are written here.
 */
import { JPEG_WASM } from './wasm/jpeg-wasm';

/** Natural (row-major) index of the coefficient at each zig-zag position. */
const UNZIG = (() => {
  const out = new Uint8Array(64);
  let k = 0;
  for (let s = 0; s < 15; s++) {
    const lo = Math.max(0, s - 7);
    const hi = Math.min(s, 7);
    // Even anti-diagonals run up and to the right, odd ones down and to the left.
    if (s % 2 === 0) for (let row = hi; row >= lo; row--) out[k++] = row * 8 + (s - row);
    else for (let row = lo; row <= hi; row++) out[k++] = row * 8 + (s - row);
  }
  return out;
})();

/** Zig-zag position of each natural (row-major) index. */
const ZIG = (() => {
  const out = new Uint8Array(64);
  for (let z = 0; z < 64; z++) out[UNZIG[z]] = z;
  return out;
})();

// prettier-ignore
const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
  14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
// prettier-ignore
const CHROMA_Q = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
  47, 66, 99, 99, 99, 99, 99, 99, ...new Array<number>(32).fill(99),
];

const DC_LUMA_COUNTS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMA_COUNTS = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_LUMA_COUNTS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
// prettier-ignore
const AC_LUMA_VALUES = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
  0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
  0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
  0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
  0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
  0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
  0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
  0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
  0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];
const AC_CHROMA_COUNTS = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
// prettier-ignore
const AC_CHROMA_VALUES = [
  0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
  0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
  0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
  0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
  0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
  0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
  0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
  0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
  0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];

/** Canonical Huffman code (code and length per symbol) from the DHT counts and symbol order. */
interface HuffmanTable {
  counts: number[];
  values: number[];
  code: Uint16Array;
  length: Uint8Array;
}

function huffmanTable(counts: number[], values: number[]): HuffmanTable {
  const code = new Uint16Array(256);
  const length = new Uint8Array(256);
  let c = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < counts[len - 1]; i++) {
      code[values[k]] = c++;
      length[values[k]] = len;
      k++;
    }
    c <<= 1;
  }
  return { counts, values, code, length };
}

const DC_LUMA = huffmanTable(DC_LUMA_COUNTS, DC_VALUES);
const DC_CHROMA = huffmanTable(DC_CHROMA_COUNTS, DC_VALUES);
const AC_LUMA = huffmanTable(AC_LUMA_COUNTS, AC_LUMA_VALUES);
const AC_CHROMA = huffmanTable(AC_CHROMA_COUNTS, AC_CHROMA_VALUES);

/** AAN DCT output scale per frequency, folded into the quantisation divisors. */
const AAN = [1.0, 1.387039845, 1.306562965, 1.175875602, 1.0, 0.785694958, 0.5411961, 0.275899379];

interface Quantiser {
  /** Quantisation table in zig-zag order, as written to DQT. */
  zigzag: Uint8Array;
  /** 1 / (q * AAN scale) per natural index, applied to the raw AAN output. */
  scale: Float32Array;
}

const quantisers = new Map<number, [Quantiser, Quantiser]>();

function quantiser(base: number[], quality: number): Quantiser {
  const s = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  const zigzag = new Uint8Array(64);
  const scale = new Float32Array(64);
  for (let z = 0; z < 64; z++) {
    const k = UNZIG[z];
    const q = Math.min(255, Math.max(1, Math.floor((base[k] * s + 50) / 100)));
    zigzag[z] = q;
    scale[k] = 1 / (q * AAN[k >> 3] * AAN[k & 7] * 8);
  }
  return { zigzag, scale };
}

function quantisersFor(quality: number): [Quantiser, Quantiser] {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  let pair = quantisers.get(q);
  if (!pair) {
    pair = [quantiser(LUMA_Q, q), quantiser(CHROMA_Q, q)];
    quantisers.set(q, pair);
  }
  return pair;
}

/** Growable byte sink for the headers. */
class ByteWriter {
  n = 0;

  constructor(public bytes: Uint8Array) {}

  byte(b: number): void {
    if (this.n === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.n++] = b;
  }

  word(w: number): void {
    this.byte(w >> 8);
    this.byte(w & 0xff);
  }
}

function writeHeaders(w: ByteWriter, width: number, height: number, luma: Quantiser, chroma: Quantiser) {
  w.word(0xffd8);
  // JFIF APP0: version 1.1, no density, no embedded thumbnail.
  w.word(0xffe0);
  w.word(16);
  for (const b of [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]) w.byte(b);
  w.word(0xffdb);
  w.word(2 + 2 * 65);
  for (const [id, q] of [luma, chroma].entries()) {
    w.byte(id);
    for (let z = 0; z < 64; z++) w.byte(q.zigzag[z]);
  }
  w.word(0xffc0);
  w.word(17);
  w.byte(8);
  w.word(height);
  w.word(width);
  w.byte(3);
  for (const [id, sampling, table] of [
    [1, 0x22, 0],
    [2, 0x11, 1],
    [3, 0x11, 1],
  ]) {
    w.byte(id);
    w.byte(sampling);
    w.byte(table);
  }
  const tables: Array<[number, HuffmanTable]> = [
    [0x00, DC_LUMA],
    [0x10, AC_LUMA],
    [0x01, DC_CHROMA],
    [0x11, AC_CHROMA],
  ];
  w.word(0xffc4);
  w.word(2 + tables.reduce((a, [, t]) => a + 17 + t.values.length, 0));
  for (const [tc, t] of tables) {
    w.byte(tc);
    for (const c of t.counts) w.byte(c);
    for (const v of t.values) w.byte(v);
  }
  w.word(0xffda);
  w.word(12);
  w.byte(3);
  for (const [id, tables] of [
    [1, 0x00],
    [2, 0x11],
    [3, 0x11],
  ]) {
    w.byte(id);
    w.byte(tables);
  }
  w.byte(0);
  w.byte(63);
  w.byte(0);
}

/**
 * YCbCr planes ready for encoding: luma at full size (level-shifted: Y - 128), chroma at half size in each
 * direction (rounded up), centred on 0. Producers that resample anyway (thumbnails) build these directly.
 */
export interface YccPlanes {
  y: Float32Array;
  cb: Float32Array;
  cr: Float32Array;
  width: number;
  height: number;
}

/** Interleaved 8-bit RGB to planes (chroma averaged over 2 x 2 pixels). */
export function rgbToYcc(rgb: Uint8Array, width: number, height: number): YccPlanes {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const y = new Float32Array(width * height);
  const cb = new Float32Array(cw * ch);
  const cr = new Float32Array(cw * ch);
  const count = new Float32Array(cw * ch);
  for (let row = 0; row < height; row++) {
    for (let x = 0; x < width; x++) {
      const i = row * width + x;
      const r = rgb[i * 3];
      const g = rgb[i * 3 + 1];
      const b = rgb[i * 3 + 2];
      y[i] = 0.299 * r + 0.587 * g + 0.114 * b - 128;
      const c = (row >> 1) * cw + (x >> 1);
      cb[c] += -0.168736 * r - 0.331264 * g + 0.5 * b;
      cr[c] += 0.5 * r - 0.418688 * g - 0.081312 * b;
      count[c]++;
    }
  }
  for (let c = 0; c < count.length; c++) {
    cb[c] /= count[c];
    cr[c] /= count[c];
  }
  return { y, cb, cr, width, height };
}

/** Encodes interleaved 8-bit RGB as a baseline JFIF JPEG (4:2:0 chroma). */
export function encodeJpeg(rgb: Uint8Array, width: number, height: number, quality = 85): Uint8Array {
  return encodeJpegYcc(rgbToYcc(rgb, width, height), quality);
}

/** Header bytes (SOI to SOS) per size and quality: identical for every thumbnail, so written once. */
const headers = new Map<string, Uint8Array>();

function headerBytes(width: number, height: number, quality: number): Uint8Array {
  const key = `${width}x${height}q${quality}`;
  let h = headers.get(key);
  if (!h) {
    const [luma, chroma] = quantisersFor(quality);
    const w = new ByteWriter(new Uint8Array(1024));
    writeHeaders(w, width, height, luma, chroma);
    h = w.bytes.slice(0, w.n);
    headers.set(key, h);
  }
  return h;
}

interface KernelExports {
  memory: WebAssembly.Memory;
  encodeScan(
    y: number,
    cb: number,
    cr: number,
    width: number,
    height: number,
    lumaScale: number,
    chromaScale: number,
    tables: number,
    scratch: number,
    dst: number,
  ): number;
  thumbnailPlanes(
    patch: number,
    pw: number,
    ph: number,
    planes: number,
    taps: number,
    size: number,
    half: number,
    outY: number,
    outCb: number,
    outCr: number,
    tmp: number,
  ): void;
}

// Fixed regions of the kernel's memory (bytes); each call's own data goes above DYNAMIC.
const TABLES = 0; // zig-zag order, Huffman codes and lengths, natural order (wasm/jpeg.as.ts)
const SCALES = 4096; // quantisation scales: luma f64[64], chroma f64[64]
const SCRATCH = 5120; // one block: f32[64] and i32[64]
const DYNAMIC = 8192;
const PAGE = 65536;
/** A coded block is at most ~400 bytes even with every byte stuffed. */
const BLOCK_ROOM = 1024;
/** A kernel whose memory grew past this (a huge crop's thumbnail) is dropped after the call. */
const KEEP_BYTES = 64 * 2 ** 20;

let wasmModule: WebAssembly.Module | null = null;

/**
 * The JPEG kernel of this thread: its WebAssembly exports, typed views of its memory, and a bump allocator
 * that each (synchronous) encoding call starts afresh with reset().
 */
export class JpegKernel {
  readonly k: KernelExports;
  private top = DYNAMIC;
  private quality = -1;
  private buffer: ArrayBuffer | null = null;
  private views: { u8: Uint8Array; i32: Int32Array; f32: Float32Array } | null = null;

  constructor() {
    wasmModule ??= new WebAssembly.Module(Buffer.from(JPEG_WASM, 'base64'));
    this.k = new WebAssembly.Instance(wasmModule).exports as unknown as KernelExports;
    this.ensure(DYNAMIC);
    const u8 = this.u8;
    u8.set(ZIG, TABLES);
    [DC_LUMA, AC_LUMA, DC_CHROMA, AC_CHROMA].forEach((t, i) => {
      const at = TABLES + 64 + i * 768;
      new Uint16Array(this.k.memory.buffer, at, 256).set(t.code);
      u8.set(t.length, at + 512);
    });
    u8.set(UNZIG, TABLES + 64 + 4 * 768);
  }

  reset(): void {
    this.top = DYNAMIC;
  }

  /** `bytes` of this call's memory (8-byte aligned); the views below are renewed if the memory grew. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top = at + Math.ceil(bytes / 8) * 8;
    this.ensure(this.top);
    return at;
  }

  get u8(): Uint8Array {
    return this.view().u8;
  }

  get i32(): Int32Array {
    return this.view().i32;
  }

  get f32(): Float32Array {
    return this.view().f32;
  }

  get oversized(): boolean {
    return this.k.memory.buffer.byteLength > KEEP_BYTES;
  }

  private ensure(bytes: number): void {
    const have = this.k.memory.buffer.byteLength;
    if (bytes > have) this.k.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  private view() {
    const buffer = this.k.memory.buffer;
    if (buffer !== this.buffer || !this.views) {
      this.buffer = buffer;
      this.views = { u8: new Uint8Array(buffer), i32: new Int32Array(buffer), f32: new Float32Array(buffer) };
    }
    return this.views;
  }

  /**
   * Encodes the planes at byte addresses y, cb and cr of this kernel's memory (see YccPlanes). With `shared`,
   * the result is a view of the kernel's memory, valid until its next call (for a caller that copies it at
   * once).
   */
  encodePlanes(
    y: number,
    cb: number,
    cr: number,
    width: number,
    height: number,
    quality: number,
    shared: boolean,
  ): Uint8Array {
    const q = Math.min(100, Math.max(1, Math.round(quality)));
    const header = headerBytes(width, height, q);
    const blocks = Math.ceil(width / 16) * Math.ceil(height / 16) * 6;
    const out = this.alloc(header.length + blocks * BLOCK_ROOM + 16);
    if (q !== this.quality) {
      const [luma, chroma] = quantisersFor(q);
      const scales = new Float64Array(this.k.memory.buffer, SCALES, 128);
      scales.set(luma.scale);
      scales.set(chroma.scale, 64);
      this.quality = q;
    }
    this.u8.set(header, out);
    const n = this.k.encodeScan(
      y,
      cb,
      cr,
      width,
      height,
      SCALES,
      SCALES + 512,
      TABLES,
      SCRATCH,
      out + header.length,
    );
    const bytes = this.u8.subarray(out, out + header.length + n);
    if (shared && !this.oversized) return bytes;
    const own = bytes.slice();
    if (this.oversized) dropKernel();
    return own;
  }
}

let kernel: JpegKernel | null = null;

/** This thread's kernel, reset for a new call. */
export function jpegKernel(): JpegKernel {
  kernel ??= new JpegKernel();
  kernel.reset();
  return kernel;
}

function dropKernel(): void {
  kernel = null;
}

/**
 * Encodes YCbCr planes (see YccPlanes) as a baseline JFIF JPEG with 4:2:0 chroma. With `shared`, the result is
 * a view of the encoder's own memory, valid until the next call (for a caller that copies it at once).
 */
export function encodeJpegYcc(planes: YccPlanes, quality = 85, shared = false): Uint8Array {
  const k = jpegKernel();
  const y = k.alloc(planes.y.length * 4);
  const cb = k.alloc(planes.cb.length * 4);
  const cr = k.alloc(planes.cr.length * 4);
  const f32 = k.f32;
  f32.set(planes.y, y / 4);
  f32.set(planes.cb, cb / 4);
  f32.set(planes.cr, cr / 4);
  return k.encodePlanes(y, cb, cr, planes.width, planes.height, quality, shared);
}
