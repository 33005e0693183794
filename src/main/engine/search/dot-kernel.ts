/**
 * WebAssembly SIMD dot-product kernels, assembled here from opcodes so the build needs no wasm toolchain and the
 * bytes travel inside the bundle (and inside the inline worker source, see knn-pool.ts).
 *
 * Plain JavaScript loops over typed arrays run at ~0.5 GMAC/s on the reference 2-core machine (800 ms for one
 * 1M x 384 scan); 128-bit wasm SIMD is ~10x faster, which is what makes a 100 ms exact top-10 possible.
 *
 * Both functions read rows of `stride` elements (stride a multiple of 16) from the imported shared memory:
 *   dot_i8(queryI16Ptr, rowsI8Ptr, rowCount, stride, outI32Ptr): int32 dot of an int16 query with int8 rows
 *   dot_f32(queryF32Ptr, rowsF32Ptr, rowCount, stride, outF32Ptr): float32 dot of a float32 query with rows
 *   dot_f32_r4(...): as dot_f32 for a rowCount that is a multiple of 4, four rows at a time (each query vector
 *     loaded once for four rows: fewer loads per multiply-add; used by the linear probe's matvec, where the
 *     "rows" are the class weight rows and the query is a cell's vector)
 */

const enum Op {
  Block = 0x02,
  Loop = 0x03,
  End = 0x0b,
  BrIf = 0x0d,
  LocalGet = 0x20,
  LocalSet = 0x21,
  LocalTee = 0x22,
  I32Store = 0x36,
  F32Store = 0x38,
  I32Const = 0x41,
  I32Eqz = 0x45,
  I32LtU = 0x49,
  I32Add = 0x6a,
  I32Sub = 0x6b,
  I32Shl = 0x74,
  F32Add = 0x92,
  Simd = 0xfd,
  Void = 0x40,
  TypeI32 = 0x7f,
  TypeV128 = 0x7b,
}

/** SIMD sub-opcodes (LEB128-encoded after the 0xfd prefix). */
const SIMD = {
  v128Load: [0x00],
  v128Load8x8S: [0x01],
  v128Const: [0x0c],
  i32x4ExtractLane: [0x1b],
  f32x4ExtractLane: [0x1f],
  i32x4Add: [0xae, 0x01],
  i32x4DotI16x8S: [0xba, 0x01],
  f32x4Add: [0xe4, 0x01],
  f32x4Mul: [0xe6, 0x01],
} as const;

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function name(text: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(text));
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

const get = (i: number): number[] => [Op.LocalGet, i];
const set = (i: number): number[] => [Op.LocalSet, i];
const tee = (i: number): number[] => [Op.LocalTee, i];
const i32 = (v: number): number[] => [Op.I32Const, ...sleb(v)];
const simd = (op: readonly number[], ...imm: number[]): number[] => [Op.Simd, ...op, ...imm];
/** memarg: alignment hint 0 (always valid), byte offset. */
const load = (op: readonly number[], offset: number): number[] => simd(op, 0, ...uleb(offset));

// Parameters shared by both functions.
const Q = 0;
const X = 1;
const ROWS = 2;
const STRIDE = 3;
const OUT = 4;
// Locals: 5 = query cursor, 6 = end of current row, 7 = accumulator, 8 = second accumulator.
const QP = 5;
const ROW_END = 6;
const ACC = 7;
const ACC2 = 8;

const LOCALS = vec([
  [2, Op.TypeI32],
  [2, Op.TypeV128],
]);

const zeroV128 = simd(SIMD.v128Const, ...new Array<number>(16).fill(0));

function rowLoop(rowEndBytes: number[], inner: number[], storeSum: number[], outBytes: number): number[] {
  return [
    Op.Block, Op.Void,
    ...get(ROWS), Op.I32Eqz, Op.BrIf, 0,
    Op.Loop, Op.Void,
    ...zeroV128, ...set(ACC),
    ...zeroV128, ...set(ACC2),
    ...get(Q), ...set(QP),
    ...get(X), ...rowEndBytes, Op.I32Add, ...set(ROW_END),
    Op.Loop, Op.Void,
    ...inner,
    Op.BrIf, 0,
    Op.End,
    ...get(OUT), ...storeSum,
    ...get(OUT), ...i32(outBytes), Op.I32Add, ...set(OUT),
    ...get(ROWS), ...i32(1), Op.I32Sub, ...tee(ROWS),
    Op.BrIf, 0,
    Op.End,
    Op.End,
  ]; // prettier-ignore
}

// 16 int8 lanes per iteration: widen 8+8 of the row to int16 at load, multiply-add against the int16 query.
const dotI8Inner = [
  ...get(X), ...load(SIMD.v128Load8x8S, 0),
  ...get(QP), ...load(SIMD.v128Load, 0),
  ...simd(SIMD.i32x4DotI16x8S), ...get(ACC), ...simd(SIMD.i32x4Add), ...set(ACC),
  ...get(X), ...load(SIMD.v128Load8x8S, 8),
  ...get(QP), ...load(SIMD.v128Load, 16),
  ...simd(SIMD.i32x4DotI16x8S), ...get(ACC2), ...simd(SIMD.i32x4Add), ...set(ACC2),
  ...get(QP), ...i32(32), Op.I32Add, ...set(QP),
  ...get(X), ...i32(16), Op.I32Add, ...tee(X),
  ...get(ROW_END), Op.I32LtU,
]; // prettier-ignore

const dotI8Store = [
  ...get(ACC), ...get(ACC2), ...simd(SIMD.i32x4Add), ...tee(ACC), ...simd(SIMD.i32x4ExtractLane, 0),
  ...get(ACC), ...simd(SIMD.i32x4ExtractLane, 1), Op.I32Add,
  ...get(ACC), ...simd(SIMD.i32x4ExtractLane, 2), Op.I32Add,
  ...get(ACC), ...simd(SIMD.i32x4ExtractLane, 3), Op.I32Add,
  Op.I32Store, 2, 0,
]; // prettier-ignore

// 8 float lanes per iteration in two accumulators to hide the add latency.
const dotF32Inner = [
  ...get(X), ...load(SIMD.v128Load, 0), ...get(QP), ...load(SIMD.v128Load, 0),
  ...simd(SIMD.f32x4Mul), ...get(ACC), ...simd(SIMD.f32x4Add), ...set(ACC),
  ...get(X), ...load(SIMD.v128Load, 16), ...get(QP), ...load(SIMD.v128Load, 16),
  ...simd(SIMD.f32x4Mul), ...get(ACC2), ...simd(SIMD.f32x4Add), ...set(ACC2),
  ...get(QP), ...i32(32), Op.I32Add, ...set(QP),
  ...get(X), ...i32(32), Op.I32Add, ...tee(X),
  ...get(ROW_END), Op.I32LtU,
]; // prettier-ignore

const dotF32Store = [
  ...get(ACC), ...get(ACC2), ...simd(SIMD.f32x4Add), ...tee(ACC), ...simd(SIMD.f32x4ExtractLane, 0),
  ...get(ACC), ...simd(SIMD.f32x4ExtractLane, 1), Op.F32Add,
  ...get(ACC), ...simd(SIMD.f32x4ExtractLane, 2), Op.F32Add,
  ...get(ACC), ...simd(SIMD.f32x4ExtractLane, 3), Op.F32Add,
  Op.F32Store, 2, 0,
]; // prettier-ignore

function body(code: number[], locals: number[] = LOCALS): number[] {
  const content = [...locals, ...code, Op.End];
  return [...uleb(content.length), ...content];
}

// dot_f32_r4 locals: 5 = query cursor, 6 = end of row 0, 7-9 = cursors of rows 1-3, 10 = stride in bytes,
// 11-14 = the four accumulators.
const R4_QP = 5;
const R4_END = 6;
const R4_X1 = 7;
const R4_X2 = 8;
const R4_X3 = 9;
const R4_SB = 10;
const R4_ACC = [11, 12, 13, 14];
const R4_LOCALS = vec([
  [6, Op.TypeI32],
  [4, Op.TypeV128],
]);
const r4Cursors = [X, R4_X1, R4_X2, R4_X3];
const hsumF32 = (acc: number): number[] => [
  ...get(acc), ...simd(SIMD.f32x4ExtractLane, 0),
  ...get(acc), ...simd(SIMD.f32x4ExtractLane, 1), Op.F32Add,
  ...get(acc), ...simd(SIMD.f32x4ExtractLane, 2), Op.F32Add,
  ...get(acc), ...simd(SIMD.f32x4ExtractLane, 3), Op.F32Add,
]; // prettier-ignore
const dotF32R4 = [
  ...get(STRIDE), ...i32(2), Op.I32Shl, ...set(R4_SB),
  Op.Block, Op.Void,
  ...get(ROWS), Op.I32Eqz, Op.BrIf, 0,
  Op.Loop, Op.Void,
  // Row cursors and the end of row 0.
  ...get(X), ...get(R4_SB), Op.I32Add, ...tee(R4_X1), ...set(R4_END),
  ...get(R4_X1), ...get(R4_SB), Op.I32Add, ...set(R4_X2),
  ...get(R4_X2), ...get(R4_SB), Op.I32Add, ...set(R4_X3),
  ...R4_ACC.flatMap((a) => [...zeroV128, ...set(a)]),
  ...get(Q), ...set(R4_QP),
  Op.Loop, Op.Void,
  ...r4Cursors.flatMap((x, i) => [
    ...get(R4_QP), ...load(SIMD.v128Load, 0), ...get(x), ...load(SIMD.v128Load, 0),
    ...simd(SIMD.f32x4Mul), ...get(R4_ACC[i]), ...simd(SIMD.f32x4Add), ...set(R4_ACC[i]),
  ]),
  ...get(R4_QP), ...i32(16), Op.I32Add, ...set(R4_QP),
  ...r4Cursors.slice(1).flatMap((x) => [...get(x), ...i32(16), Op.I32Add, ...set(x)]),
  ...get(X), ...i32(16), Op.I32Add, ...tee(X),
  ...get(R4_END), Op.I32LtU,
  Op.BrIf, 0,
  Op.End,
  ...R4_ACC.flatMap((a, i) => [...get(OUT), ...hsumF32(a), Op.F32Store, 2, ...uleb(i * 4)]),
  ...get(OUT), ...i32(16), Op.I32Add, ...set(OUT),
  // Row 3's cursor ends where row 4 starts.
  ...get(R4_X3), ...set(X),
  ...get(ROWS), ...i32(4), Op.I32Sub, ...tee(ROWS),
  Op.BrIf, 0,
  Op.End,
  Op.End,
]; // prettier-ignore

/** Largest shared memory the kernels accept: 65536 pages = 4 GiB, the wasm32 address space. */
export const KERNEL_MAX_PAGES = 65536;
/** Row stride granularity (elements): one int8 iteration reads 16 lanes, one float iteration 8. */
export const KERNEL_STRIDE_ALIGN = 16;

export function assembleDotKernel(): Uint8Array<ArrayBuffer> {
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 5, Op.TypeI32, Op.TypeI32, Op.TypeI32, Op.TypeI32, Op.TypeI32, 0]])),
    // Imported shared memory (limits flag 3 = shared with maximum), minimum 0 pages.
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(0), ...uleb(KERNEL_MAX_PAGES)]])),
    ...section(3, vec([[0], [0], [0]])),
    ...section(7, vec([
      [...name('dot_i8'), 0x00, 0], [...name('dot_f32'), 0x00, 1], [...name('dot_f32_r4'), 0x00, 2],
    ])),
    ...section(10, vec([
      body(rowLoop([...get(STRIDE)], dotI8Inner, dotI8Store, 4)),
      body(rowLoop([...get(STRIDE), ...i32(2), Op.I32Shl], dotF32Inner, dotF32Store, 4)),
      body(dotF32R4, R4_LOCALS),
    ])),
  ]; // prettier-ignore
  return new Uint8Array(bytes);
}

export interface DotKernel {
  dotI8(queryI16Ptr: number, rowsPtr: number, rowCount: number, stride: number, outPtr: number): void;
  dotF32(queryPtr: number, rowsPtr: number, rowCount: number, stride: number, outPtr: number): void;
  /** As dotF32; rowCount must be a multiple of 4. */
  dotF32R4(queryPtr: number, rowsPtr: number, rowCount: number, stride: number, outPtr: number): void;
}

let compiled: WebAssembly.Module | undefined;

export function dotKernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(assembleDotKernel());
  return compiled;
}

export function instantiateDotKernel(memory: WebAssembly.Memory): DotKernel {
  const instance = new WebAssembly.Instance(dotKernelModule(), { env: { memory } });
  const exports = instance.exports as unknown as {
    dot_i8: DotKernel['dotI8'];
    dot_f32: DotKernel['dotF32'];
    dot_f32_r4: DotKernel['dotF32R4'];
  };
  const plain = exports.dot_f32;
  const r4 = exports.dot_f32_r4;
  return {
    dotI8: exports.dot_i8,
    // Four rows at a time where it can, the last (rowCount mod 4) rows with the plain kernel.
    dotF32: (queryPtr, rowsPtr, rowCount, stride, outPtr) => {
      const bulk = rowCount & ~3;
      if (bulk > 0) r4(queryPtr, rowsPtr, bulk, stride, outPtr);
      if (bulk < rowCount)
        plain(queryPtr, rowsPtr + bulk * stride * 4, rowCount - bulk, stride, outPtr + bulk * 4);
    },
    dotF32R4: r4,
  };
}
