// AssemblyScript source of the thumbnail JPEG kernel (compiled by scripts/build-wasm.mjs into jpeg-wasm.ts).
//
// Baseline JPEG (YCbCr 4:2:0) for cell thumbnails: colour conversion, resampling to the encoder's planes, AAN
// forward DCT, quantisation and Huffman coding. It is the encoder ingest used to run in TypeScript, ported
// operation for operation: every value is computed in f64 and rounded to f32 wherever the TypeScript stored it
// in a Float32Array, so the bytes are identical (test/unit/ingest-thumbnail-bytes.test.ts pins them). WebAssembly
// has no fused multiply-add, so f64 arithmetic here rounds exactly as JavaScript's does.
//
// The host (jpeg.ts, thumbnail.ts) owns the memory layout: it writes the tables, taps and pixels, passes their
// addresses, and reads the coded bytes back. Nothing here allocates.

// ---- tables (written once by the host at `tables`) ----------------------------------------------------------
// +0       zig-zag position of each natural index, u8[64]
// +64      DC luma: Huffman code u16[256], then length u8[256]     (768 bytes per table)
// +832     AC luma
// +1600    DC chroma
// +2368    AC chroma
// +3136    natural index of each zig-zag position, u8[64]
const ZIG: usize = 0;
const DC_LUMA: usize = 64;
const AC_LUMA: usize = 64 + 768;
const DC_CHROMA: usize = 64 + 2 * 768;
const AC_CHROMA: usize = 64 + 3 * 768;
const UNZIG: usize = 64 + 4 * 768;

// ---- entropy coder state -------------------------------------------------------------------------------------
let out: usize = 0;
let n: i32 = 0;
let acc: i32 = 0;
let bits: i32 = 0;

@inline
function emit(code: i32, len: i32): void {
  // `acc` holds under 8 pending bits between appends and len <= 16, so it never passes 24 bits.
  acc = (acc << len) | code;
  bits += len;
  while (bits >= 8) {
    bits -= 8;
    const b = (acc >> bits) & 0xff;
    store<u8>(out + n++, b);
    if (b == 0xff) store<u8>(out + n++, 0);
  }
  acc &= (1 << bits) - 1;
}

@inline
function f(p: usize): f64 {
  return <f64>load<f32>(p);
}

@inline
function st(p: usize, v: f64): void {
  store<f32>(p, <f32>v);
}

/** Sign bit of each f64 lane. */
const SIGN = i64x2.splat(0x8000000000000000);
const HALF = f64x2.splat(0.5);

/**
 * Quantises the coefficients at natural indices k and k + 1 (lanes 0 and 1: f64, each rounded to f32 as if
 * stored, times its scale, rounded half away from zero) into coef[k], coef[k + 1]; returns their non-zero bits.
 */
@inline
function quantisePair(value: v128, k: usize, scale: usize, coef: usize): u64 {
  const v = f64x2.mul(f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(value)), v128.load(scale + (k << 3)));
  // v + 0.5 for v > 0 and v - 0.5 otherwise, then truncation: what (v +- 0.5) | 0 gives in JavaScript.
  const q = i32x4.trunc_sat_f64x2_s_zero(f64x2.add(v, v128.or(HALF, v128.and(v, SIGN))));
  v128.store64_lane(coef + (k << 2), q, 0);
  return <u64>(i32x4.bitmask(i32x4.ne(q, i32x4.splat(0))) & 3) << k;
}

@inline
function pair(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}

/**
 * AAN forward DCT of the 8x8 block whose rows start at src + row * stride floats (rows into `d`, then columns,
 * two at a time in f64x2 lanes), then quantisation to integers in natural order at `coef` (`scale`: f64[64]);
 * returns the last non-zero zig-zag position.
 */
function forwardDctQuantise(src: usize, stride: usize, d: usize, scale: usize, tables: usize, coef: usize): i32 {
  for (let r: usize = 0; r < 8; r++) {
    const i = src + r * stride * 4;
    const o = d + r * 32;
    const s0 = f(i);
    const s1 = f(i + 4);
    const s2 = f(i + 8);
    const s3 = f(i + 12);
    const s4 = f(i + 16);
    const s5 = f(i + 20);
    const s6 = f(i + 24);
    const s7 = f(i + 28);
    const tmp0 = s0 + s7;
    const tmp7 = s0 - s7;
    const tmp1 = s1 + s6;
    const tmp6 = s1 - s6;
    const tmp2 = s2 + s5;
    const tmp5 = s2 - s5;
    const tmp3 = s3 + s4;
    const tmp4 = s3 - s4;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    st(o, tmp10 + tmp11);
    st(o + 16, tmp10 - tmp11);
    const z1 = (tmp12 + tmp13) * 0.707106781;
    st(o + 8, tmp13 + z1);
    st(o + 24, tmp13 - z1);
    const t10 = tmp4 + tmp5;
    const t11 = tmp5 + tmp6;
    const t12 = tmp6 + tmp7;
    const z5 = (t10 - t12) * 0.382683433;
    const z2 = 0.5411961 * t10 + z5;
    const z4 = 1.306562965 * t12 + z5;
    const z3 = t11 * 0.707106781;
    const z11 = tmp7 + z3;
    const z13 = tmp7 - z3;
    st(o + 20, z13 + z2);
    st(o + 12, z13 - z2);
    st(o + 4, z11 + z4);
    st(o + 28, z11 - z4);
  }
  const c707 = f64x2.splat(0.707106781);
  const c383 = f64x2.splat(0.382683433);
  const c541 = f64x2.splat(0.5411961);
  const c1307 = f64x2.splat(1.306562965);
  let mask: u64 = 0;
  for (let c: usize = 0; c < 8; c += 2) {
    const o = d + c * 4;
    const d0 = pair(o);
    const d1 = pair(o + 32);
    const d2 = pair(o + 64);
    const d3 = pair(o + 96);
    const d4 = pair(o + 128);
    const d5 = pair(o + 160);
    const d6 = pair(o + 192);
    const d7 = pair(o + 224);
    const tmp0 = f64x2.add(d0, d7);
    const tmp7 = f64x2.sub(d0, d7);
    const tmp1 = f64x2.add(d1, d6);
    const tmp6 = f64x2.sub(d1, d6);
    const tmp2 = f64x2.add(d2, d5);
    const tmp5 = f64x2.sub(d2, d5);
    const tmp3 = f64x2.add(d3, d4);
    const tmp4 = f64x2.sub(d3, d4);
    const tmp10 = f64x2.add(tmp0, tmp3);
    const tmp13 = f64x2.sub(tmp0, tmp3);
    const tmp11 = f64x2.add(tmp1, tmp2);
    const tmp12 = f64x2.sub(tmp1, tmp2);
    const z1 = f64x2.mul(f64x2.add(tmp12, tmp13), c707);
    const t10 = f64x2.add(tmp4, tmp5);
    const t11 = f64x2.add(tmp5, tmp6);
    const t12 = f64x2.add(tmp6, tmp7);
    const z5 = f64x2.mul(f64x2.sub(t10, t12), c383);
    const z2 = f64x2.add(f64x2.mul(c541, t10), z5);
    const z4 = f64x2.add(f64x2.mul(c1307, t12), z5);
    const z3 = f64x2.mul(t11, c707);
    const z11 = f64x2.add(tmp7, z3);
    const z13 = f64x2.sub(tmp7, z3);
    mask |= quantisePair(f64x2.add(tmp10, tmp11), c, scale, coef);
    mask |= quantisePair(f64x2.add(z11, z4), c + 8, scale, coef);
    mask |= quantisePair(f64x2.add(tmp13, z1), c + 16, scale, coef);
    mask |= quantisePair(f64x2.sub(z13, z2), c + 24, scale, coef);
    mask |= quantisePair(f64x2.sub(tmp10, tmp11), c + 32, scale, coef);
    mask |= quantisePair(f64x2.add(z13, z2), c + 40, scale, coef);
    mask |= quantisePair(f64x2.sub(tmp13, z1), c + 48, scale, coef);
    mask |= quantisePair(f64x2.sub(z11, z4), c + 56, scale, coef);
  }
  // The last non-zero coefficient in zig-zag order: the largest zig-zag position among the non-zero bits.
  let last: i32 = 0;
  while (mask) {
    const z = <i32>load<u8>(tables + ZIG + <usize>ctz(mask));
    if (z > last) last = z;
    mask &= mask - 1;
  }
  return last;
}

/** Bit length of |v| (JPEG's magnitude category). */
@inline
function category(v: i32): i32 {
  return 32 - <i32>clz<i32>(v < 0 ? -v : v);
}

/**
 * DCT, quantisation and Huffman coding of the 8x8 block at (bx, by) of a plane (repeating the last row and
 * column past the edge); returns the block's DC for the next block's prediction.
 */
function codeBlock(
  plane: usize,
  pw: i32,
  ph: i32,
  bx: i32,
  by: i32,
  block: usize,
  coef: usize,
  scale: usize,
  tables: usize,
  prevDc: i32,
  dc: usize,
  ac: usize,
): i32 {
  let last: i32;
  if (bx + 8 <= pw && by + 8 <= ph) {
    last = forwardDctQuantise(plane + ((<usize>(by * pw + bx)) << 2), <usize>pw, block, scale, tables, coef);
  } else {
    for (let y = 0; y < 8; y++) {
      const row = min(ph - 1, by + y) * pw;
      for (let x = 0; x < 8; x++) {
        store<f32>(block + (<usize>(y * 8 + x) << 2), load<f32>(plane + (<usize>(row + min(pw - 1, bx + x)) << 2)));
      }
    }
    last = forwardDctQuantise(block, 8, block, scale, tables, coef);
  }
  const dcCode = tables + dc;
  const dcLength = dcCode + 512;
  const acCode = tables + ac;
  const acLength = acCode + 512;
  const dc0 = load<i32>(coef);
  const diff = dc0 - prevDc;
  const cat = diff == 0 ? 0 : category(diff);
  emit(<i32>load<u16>(dcCode + (<usize>cat << 1)), <i32>load<u8>(dcLength + cat));
  if (cat) emit((diff < 0 ? diff + (1 << cat) - 1 : diff) & ((1 << cat) - 1), cat);
  let run = 0;
  for (let z = 1; z <= last; z++) {
    const v = load<i32>(coef + (<usize>load<u8>(tables + UNZIG + z) << 2));
    if (v == 0) {
      run++;
      continue;
    }
    while (run >= 16) {
      emit(<i32>load<u16>(acCode + (0xf0 << 1)), <i32>load<u8>(acLength + 0xf0));
      run -= 16;
    }
    const c = category(v);
    const sym = (run << 4) | c;
    emit(<i32>load<u16>(acCode + (<usize>sym << 1)), <i32>load<u8>(acLength + sym));
    emit((v < 0 ? v + (1 << c) - 1 : v) & ((1 << c) - 1), c);
    run = 0;
  }
  if (last < 63) emit(<i32>load<u16>(acCode), <i32>load<u8>(acLength));
  return dc0;
}

/**
 * Entropy-coded scan of YCbCr planes (luma level-shifted, chroma at half size rounded up) at `dst`: every MCU,
 * the final bits padded with ones, then EOI. `scratch` holds 64 f32 and 64 i32. Returns the byte count.
 */
export function encodeScan(
  y: usize,
  cb: usize,
  cr: usize,
  width: i32,
  height: i32,
  lumaScale: usize,
  chromaScale: usize,
  tables: usize,
  scratch: usize,
  dst: usize,
): i32 {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const block = scratch;
  const coef = scratch + 256;
  out = dst;
  n = 0;
  acc = 0;
  bits = 0;
  let dcY = 0;
  let dcCb = 0;
  let dcCr = 0;
  for (let my = 0; my < height; my += 16) {
    for (let mx = 0; mx < width; mx += 16) {
      for (let q = 0; q < 4; q++) {
        const bx = mx + (q & 1) * 8;
        const by = my + (q >> 1) * 8;
        dcY = codeBlock(y, width, height, bx, by, block, coef, lumaScale, tables, dcY, DC_LUMA, AC_LUMA);
      }
      const cx = mx >> 1;
      const cy = my >> 1;
      dcCb = codeBlock(cb, cw, ch, cx, cy, block, coef, chromaScale, tables, dcCb, DC_CHROMA, AC_CHROMA);
      dcCr = codeBlock(cr, cw, ch, cx, cy, block, coef, chromaScale, tables, dcCr, DC_CHROMA, AC_CHROMA);
    }
  }
  // Pad the last byte with one bits, as the standard asks.
  if (bits > 0) {
    const len = 8 - bits;
    emit(0x7f & ((1 << len) - 1), len);
  }
  store<u8>(out + n++, 0xff);
  store<u8>(out + n++, 0xd9);
  return n;
}

// ---- thumbnail planes --------------------------------------------------------------------------------------

/** Resamples one plane (patch-relative taps: index i32[], weight f32[]) to outW x outH: horizontal, then vertical. */
function resamplePlane(
  src: usize,
  srcWidth: i32,
  srcHeight: i32,
  xIndex: usize,
  xWeight: usize,
  xSpan: i32,
  yIndex: usize,
  yWeight: usize,
  ySpan: i32,
  outW: i32,
  outH: i32,
  dst: usize,
  tmp: usize,
): void {
  if (xSpan == 2) {
    for (let r = 0; r < srcHeight; r++) {
      const row = src + (<usize>(r * srcWidth) << 2);
      const o = tmp + (<usize>(r * outW) << 2);
      for (let i = 0; i < outW; i++) {
        const k = <usize>(2 * i);
        const i0 = <usize>load<i32>(xIndex + (k << 2));
        const i1 = <usize>load<i32>(xIndex + ((k + 1) << 2));
        st(
          o + (<usize>i << 2),
          f(xWeight + (k << 2)) * f(row + (i0 << 2)) + f(xWeight + ((k + 1) << 2)) * f(row + (i1 << 2)),
        );
      }
    }
  } else {
    for (let r = 0; r < srcHeight; r++) {
      const row = src + (<usize>(r * srcWidth) << 2);
      for (let i = 0; i < outW; i++) {
        let a: f64 = 0;
        for (let k = i * xSpan, end = k + xSpan; k < end; k++) {
          a += f(xWeight + (<usize>k << 2)) * f(row + (<usize>load<i32>(xIndex + (<usize>k << 2)) << 2));
        }
        st(tmp + (<usize>(r * outW + i) << 2), a);
      }
    }
  }
  if (ySpan == 2) {
    for (let j = 0; j < outH; j++) {
      const o = dst + (<usize>(j * outW) << 2);
      const w0 = f(yWeight + (<usize>(2 * j) << 2));
      const w1 = f(yWeight + (<usize>(2 * j + 1) << 2));
      const t0 = tmp + (<usize>(load<i32>(yIndex + (<usize>(2 * j) << 2)) * outW) << 2);
      const t1 = tmp + (<usize>(load<i32>(yIndex + (<usize>(2 * j + 1) << 2)) * outW) << 2);
      // Two outputs per step in f64x2 lanes (each the same f64 sum as the scalar tail), then the odd one.
      const v0 = f64x2.splat(w0);
      const v1 = f64x2.splat(w1);
      const even = <usize>outW & ~1;
      for (let i: usize = 0; i < even; i += 2) {
        const a = f64x2.add(f64x2.mul(v0, pair(t0 + (i << 2))), f64x2.mul(v1, pair(t1 + (i << 2))));
        v128.store64_lane(o + (i << 2), f32x4.demote_f64x2_zero(a), 0);
      }
      for (let i = even; i < <usize>outW; i++) st(o + (i << 2), w0 * f(t0 + (i << 2)) + w1 * f(t1 + (i << 2)));
    }
    return;
  }
  // Longer filters accumulate in f32, one rounding per tap (as a Float32Array running sum does).
  for (let j = 0; j < outH; j++) {
    const o = dst + (<usize>(j * outW) << 2);
    for (let i: usize = 0; i < <usize>outW; i++) {
      let a: f64 = 0;
      for (let k = j * ySpan, end = k + ySpan; k < end; k++) {
        const w = f(yWeight + (<usize>k << 2));
        if (w == 0) continue;
        const t = tmp + (<usize>(load<i32>(yIndex + (<usize>k << 2)) * outW) << 2);
        a = <f64>(<f32>(a + w * f(t + (i << 2))));
      }
      st(o + (i << 2), a);
    }
  }
}

/**
 * Encoder planes of a thumbnail from an RGB patch (pw x ph bytes at `patch`): colour converted at source
 * resolution into `planes` (3 x pw x ph f32), then resampled with the four tap sets described at `taps` (per set
 * i32: index address, weight address, span; x then y for luma, then for chroma) into luma `size` x `size` at
 * `outY` and chroma `half` x `half` at `outCb` and `outCr`. `tmp` holds ph x size f32.
 */
export function thumbnailPlanes(
  patch: usize,
  pw: i32,
  ph: i32,
  planes: usize,
  taps: usize,
  size: i32,
  half: i32,
  outY: usize,
  outCb: usize,
  outCr: usize,
  tmp: usize,
): void {
  const count = <usize>(pw * ph);
  const y = planes;
  const cb = planes + (count << 2);
  const cr = planes + (count << 3);
  for (let i: usize = 0; i < count; i++) {
    const p = patch + i * 3;
    const R = <f64>load<u8>(p);
    const G = <f64>load<u8>(p + 1);
    const B = <f64>load<u8>(p + 2);
    st(y + (i << 2), 0.299 * R + 0.587 * G + 0.114 * B - 128);
    st(cb + (i << 2), -0.168736 * R - 0.331264 * G + 0.5 * B);
    st(cr + (i << 2), 0.5 * R - 0.418688 * G - 0.081312 * B);
  }
  const lx = <usize>load<i32>(taps);
  const lxw = <usize>load<i32>(taps + 4);
  const lxs = load<i32>(taps + 8);
  const ly = <usize>load<i32>(taps + 12);
  const lyw = <usize>load<i32>(taps + 16);
  const lys = load<i32>(taps + 20);
  const cx = <usize>load<i32>(taps + 24);
  const cxw = <usize>load<i32>(taps + 28);
  const cxs = load<i32>(taps + 32);
  const cy = <usize>load<i32>(taps + 36);
  const cyw = <usize>load<i32>(taps + 40);
  const cys = load<i32>(taps + 44);
  resamplePlane(y, pw, ph, lx, lxw, lxs, ly, lyw, lys, size, size, outY, tmp);
  resamplePlane(cb, pw, ph, cx, cxw, cxs, cy, cyw, cys, half, half, outCb, tmp);
  resamplePlane(cr, pw, ph, cx, cxw, cxs, cy, cyw, cys, half, half, outCr, tmp);
}
