/**
 * Baseline JPEG encoder (YCbCr 4:2:0, Annex K quantisation and Huffman tables) for cell thumbnails. Thumbnails
 * are tiny (96 x 96) and there are ~100 per field: one native codec call each cost more in call overhead than
 * the encoding itself, so ingest encodes them here, synchronously, on the worker that cut them.
 */

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

/** Growable byte sink with the entropy coder's bit buffer and 0xFF byte stuffing. */
class ByteWriter {
  n = 0;
  private acc = 0;
  private bits = 0;

  /** Encoding is synchronous, so one scratch buffer (grown as needed) serves every call. */
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

  /** Appends the low `len` bits of `value` (len <= 16), most significant first. */
  put(value: number, len: number): void {
    this.acc = (this.acc << len) | (value & ((1 << len) - 1));
    this.bits += len;
    while (this.bits >= 8) {
      const b = (this.acc >> (this.bits - 8)) & 0xff;
      this.byte(b);
      if (b === 0xff) this.byte(0);
      this.bits -= 8;
    }
    this.acc &= (1 << this.bits) - 1;
  }

  /** Continues after bits coded elsewhere (`bits` < 8 pending bits in `acc`). */
  restoreBits(acc: number, bits: number): void {
    this.acc = acc;
    this.bits = bits;
  }

  /** Pads the last byte with one bits, as the standard asks. */
  flush(): void {
    if (this.bits > 0) this.put(0x7f, 8 - this.bits);
  }
}

/**
 * AAN forward DCT of the 8x8 block whose rows start at src[at + row * stride] (rows into `d`, then columns in
 * place), then quantisation to integers. Interior blocks are read straight from their plane, with no copy.
 */
function forwardDctQuantise(
  src: Float32Array,
  at: number,
  stride: number,
  d: Float32Array,
  scale: Float32Array,
  out: Int32Array,
): number {
  // Both passes are written out with constant strides: the generic strided version ran markedly slower.
  for (let o = 0, i = at; o < 64; o += 8, i += stride) {
    const tmp0 = src[i] + src[i + 7];
    const tmp7 = src[i] - src[i + 7];
    const tmp1 = src[i + 1] + src[i + 6];
    const tmp6 = src[i + 1] - src[i + 6];
    const tmp2 = src[i + 2] + src[i + 5];
    const tmp5 = src[i + 2] - src[i + 5];
    const tmp3 = src[i + 3] + src[i + 4];
    const tmp4 = src[i + 3] - src[i + 4];
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    d[o] = tmp10 + tmp11;
    d[o + 4] = tmp10 - tmp11;
    const z1 = (tmp12 + tmp13) * 0.707106781;
    d[o + 2] = tmp13 + z1;
    d[o + 6] = tmp13 - z1;
    const t10 = tmp4 + tmp5;
    const t11 = tmp5 + tmp6;
    const t12 = tmp6 + tmp7;
    const z5 = (t10 - t12) * 0.382683433;
    const z2 = 0.5411961 * t10 + z5;
    const z4 = 1.306562965 * t12 + z5;
    const z3 = t11 * 0.707106781;
    const z11 = tmp7 + z3;
    const z13 = tmp7 - z3;
    d[o + 5] = z13 + z2;
    d[o + 3] = z13 - z2;
    d[o + 1] = z11 + z4;
    d[o + 7] = z11 - z4;
  }
  // Column pass with quantisation folded in: each coefficient rounded to float32 as if stored (the values are
  // those of a separate store-then-quantise pass), written in zig-zag order (the order they are coded in). The
  // last non-zero position is returned, so the coder stops there instead of walking the trailing zeros.
  let last = 0;
  for (let o = 0; o < 8; o++) {
    const tmp0 = d[o] + d[o + 56];
    const tmp7 = d[o] - d[o + 56];
    const tmp1 = d[o + 8] + d[o + 48];
    const tmp6 = d[o + 8] - d[o + 48];
    const tmp2 = d[o + 16] + d[o + 40];
    const tmp5 = d[o + 16] - d[o + 40];
    const tmp3 = d[o + 24] + d[o + 32];
    const tmp4 = d[o + 24] - d[o + 32];
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    const z1 = (tmp12 + tmp13) * 0.707106781;
    const t10 = tmp4 + tmp5;
    const t11 = tmp5 + tmp6;
    const t12 = tmp6 + tmp7;
    const z5 = (t10 - t12) * 0.382683433;
    const z2 = 0.5411961 * t10 + z5;
    const z4 = 1.306562965 * t12 + z5;
    const z3 = t11 * 0.707106781;
    const z11 = tmp7 + z3;
    const z13 = tmp7 - z3;
    last = quantise(tmp10 + tmp11, o, scale, out, last);
    last = quantise(z11 + z4, o + 8, scale, out, last);
    last = quantise(tmp13 + z1, o + 16, scale, out, last);
    last = quantise(z13 - z2, o + 24, scale, out, last);
    last = quantise(tmp10 - tmp11, o + 32, scale, out, last);
    last = quantise(z13 + z2, o + 40, scale, out, last);
    last = quantise(tmp13 - z1, o + 48, scale, out, last);
    last = quantise(z11 - z4, o + 56, scale, out, last);
  }
  return last;
}

/** Quantises the coefficient at natural index k into its zig-zag slot; returns the last non-zero slot so far. */
function quantise(value: number, k: number, scale: Float32Array, out: Int32Array, last: number): number {
  const v = Math.fround(value) * scale[k];
  const q = v > 0 ? (v + 0.5) | 0 : (v - 0.5) | 0;
  const z = ZIG[k];
  out[z] = q;
  return q !== 0 && z > last ? z : last;
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

/** Copies the 8x8 block at (bx, by) of a plane into `block`, repeating the last row and column past the edge. */
function loadEdgeBlock(
  plane: Float32Array,
  pw: number,
  ph: number,
  bx: number,
  by: number,
  block: Float32Array,
) {
  for (let y = 0; y < 8; y++) {
    const row = Math.min(ph - 1, by + y) * pw;
    for (let x = 0; x < 8; x++) block[y * 8 + x] = plane[row + Math.min(pw - 1, bx + x)];
  }
}

/** Entropy coder state between blocks: output bytes, bit accumulator (< 8 pending bits) and its length. */
interface Sink {
  bytes: Uint8Array;
  n: number;
  acc: number;
  bits: number;
}

/** A coded block is at most ~400 bytes even with every byte stuffed; the sink keeps this much room free. */
const BLOCK_ROOM = 1024;

/**
 * DCT, quantisation and Huffman coding of the 8x8 block at (bx, by) of a plane (repeating the last row and
 * column past the edge), appended to `s`; returns the block's DC for the next block's prediction. One function
 * with the bit accumulator in locals: the per-symbol method calls of ByteWriter cost several times the DCT.
 */
function codeBlock(
  s: Sink,
  plane: Float32Array,
  pw: number,
  ph: number,
  bx: number,
  by: number,
  block: Float32Array,
  coef: Int32Array,
  scale: Float32Array,
  prevDc: number,
  dc: HuffmanTable,
  ac: HuffmanTable,
): number {
  let last: number;
  if (bx + 8 <= pw && by + 8 <= ph) {
    last = forwardDctQuantise(plane, by * pw + bx, pw, block, scale, coef);
  } else {
    loadEdgeBlock(plane, pw, ph, bx, by, block);
    last = forwardDctQuantise(block, 0, 8, block, scale, coef);
  }
  if (s.n + BLOCK_ROOM > s.bytes.length) {
    const grown = new Uint8Array(s.bytes.length * 2);
    grown.set(s.bytes.subarray(0, s.n));
    s.bytes = grown;
  }
  const out = s.bytes;
  let n = s.n;
  let acc = s.acc;
  let bits = s.bits;
  const dcCode = dc.code;
  const dcLength = dc.length;
  const acCode = ac.code;
  const acLength = ac.length;
  // Appends `len` (<= 16) bits; `acc` holds under 8 pending bits between appends, so it never passes 24 bits.
  let code = 0;
  let len = 0;
  const diff = coef[0] - prevDc;
  const cat = diff === 0 ? 0 : 32 - Math.clz32(diff < 0 ? -diff : diff);
  code = dcCode[cat];
  len = dcLength[cat];
  acc = (acc << len) | code;
  bits += len;
  while (bits >= 8) {
    bits -= 8;
    const b = (acc >> bits) & 0xff;
    out[n++] = b;
    if (b === 0xff) out[n++] = 0;
  }
  acc &= (1 << bits) - 1;
  if (cat) {
    acc = (acc << cat) | ((diff < 0 ? diff + (1 << cat) - 1 : diff) & ((1 << cat) - 1));
    bits += cat;
    while (bits >= 8) {
      bits -= 8;
      const b = (acc >> bits) & 0xff;
      out[n++] = b;
      if (b === 0xff) out[n++] = 0;
    }
    acc &= (1 << bits) - 1;
  }
  let run = 0;
  for (let z = 1; z <= last; z++) {
    const v = coef[z];
    if (v === 0) {
      run++;
      continue;
    }
    while (run >= 16) {
      acc = (acc << acLength[0xf0]) | acCode[0xf0];
      bits += acLength[0xf0];
      while (bits >= 8) {
        bits -= 8;
        const b = (acc >> bits) & 0xff;
        out[n++] = b;
        if (b === 0xff) out[n++] = 0;
      }
      acc &= (1 << bits) - 1;
      run -= 16;
    }
    const c = 32 - Math.clz32(v < 0 ? -v : v);
    const sym = (run << 4) | c;
    acc = (acc << acLength[sym]) | acCode[sym];
    bits += acLength[sym];
    while (bits >= 8) {
      bits -= 8;
      const b = (acc >> bits) & 0xff;
      out[n++] = b;
      if (b === 0xff) out[n++] = 0;
    }
    acc &= (1 << bits) - 1;
    acc = (acc << c) | ((v < 0 ? v + (1 << c) - 1 : v) & ((1 << c) - 1));
    bits += c;
    while (bits >= 8) {
      bits -= 8;
      const b = (acc >> bits) & 0xff;
      out[n++] = b;
      if (b === 0xff) out[n++] = 0;
    }
    acc &= (1 << bits) - 1;
    run = 0;
  }
  if (last < 63) {
    acc = (acc << acLength[0]) | acCode[0];
    bits += acLength[0];
    while (bits >= 8) {
      bits -= 8;
      const b = (acc >> bits) & 0xff;
      out[n++] = b;
      if (b === 0xff) out[n++] = 0;
    }
    acc &= (1 << bits) - 1;
  }
  s.n = n;
  s.acc = acc;
  s.bits = bits;
  return coef[0];
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

const sink: Sink = { bytes: new Uint8Array(16384), n: 0, acc: 0, bits: 0 };
const blockScratch = new Float32Array(64);
const coefScratch = new Int32Array(64);

/**
 * Encodes YCbCr planes (see YccPlanes) as a baseline JFIF JPEG with 4:2:0 chroma. With `shared`, the result is
 * a view of the encoder's own buffer, valid until the next call (for a caller that copies it at once).
 */
export function encodeJpegYcc(planes: YccPlanes, quality = 85, shared = false): Uint8Array {
  const { width, height } = planes;
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const [luma, chroma] = quantisersFor(quality);
  const header = headerBytes(width, height, quality);
  // Encoding is synchronous, so one sink (grown as needed) serves every call.
  const s = sink;
  if (s.bytes.length < header.length + BLOCK_ROOM) s.bytes = new Uint8Array(header.length + 4 * BLOCK_ROOM);
  s.bytes.set(header);
  s.n = header.length;
  s.acc = 0;
  s.bits = 0;
  const block = blockScratch;
  const coef = coefScratch;
  let dcY = 0;
  let dcCb = 0;
  let dcCr = 0;
  for (let my = 0; my < height; my += 16) {
    for (let mx = 0; mx < width; mx += 16) {
      for (let q = 0; q < 4; q++) {
        const bx = mx + (q & 1) * 8;
        const by = my + (q >> 1) * 8;
        dcY = codeBlock(s, planes.y, width, height, bx, by, block, coef, luma.scale, dcY, DC_LUMA, AC_LUMA);
      }
      const cx = mx >> 1;
      const cy = my >> 1;
      dcCb = codeBlock(s, planes.cb, cw, ch, cx, cy, block, coef, chroma.scale, dcCb, DC_CHROMA, AC_CHROMA);
      dcCr = codeBlock(s, planes.cr, cw, ch, cx, cy, block, coef, chroma.scale, dcCr, DC_CHROMA, AC_CHROMA);
    }
  }
  const w = new ByteWriter(s.bytes);
  w.n = s.n;
  w.restoreBits(s.acc, s.bits);
  w.flush();
  w.word(0xffd9);
  // The writer grows the buffer it was given: keep the larger one for the next call.
  s.bytes = w.bytes;
  return shared ? w.bytes.subarray(0, w.n) : w.bytes.slice(0, w.n);
}
