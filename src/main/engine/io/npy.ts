import fs from 'node:fs';

/**
 * NumPy `.npy` (format 1.0) for float32 matrices, the interchange format of `embed-images` and the
 * embeddings export: `numpy.load` reads it without any extra package.
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export interface Float32Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

function headerBytes(rows: number, cols: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // Version 1.0 keeps the header length in a uint16 and pads magic + header to a multiple of 64 bytes.
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const headerLength = total - MAGIC.length - 4;
  if (headerLength > 0xffff) throw new Error('npy header too long');
  const out = Buffer.alloc(total, 0x20);
  Buffer.from(MAGIC).copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(headerLength, 8);
  out.write(dict, 10, 'latin1');
  out[total - 1] = 0x0a;
  return out;
}

export function encodeNpyFloat32(data: Float32Array, rows: number, cols: number): Buffer {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new Error(`npy: invalid shape (${rows}, ${cols})`);
  }
  if (data.length !== rows * cols) {
    throw new Error(`npy: ${data.length} values do not fill shape (${rows}, ${cols})`);
  }
  const header = headerBytes(rows, cols);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([header, body]);
}

export function writeNpyFloat32(filePath: string, data: Float32Array, rows: number, cols: number): void {
  const bytes = encodeNpyFloat32(data, rows, cols);
  // Write beside the target and rename, so a crash never leaves a truncated matrix under the final name.
  const tmp = `${filePath}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, filePath);
}

function parseShape(text: string): number[] {
  const inner = text.trim().replace(/^\(/, '').replace(/\)$/, '');
  return inner
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(n) || n < 0) throw new Error(`npy: bad shape entry '${s}'`);
      return n;
    });
}

/** Reads a little-endian float32 `.npy` of one or two dimensions (a vector reads as 1 x D). */
export function decodeNpyFloat32(bytes: Uint8Array): Float32Matrix {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) throw new Error('npy: not a .npy file');
  const major = buf[6];
  let headerLength: number;
  let offset: number;
  if (major === 1) {
    headerLength = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLength = buf.readUInt32LE(8);
    offset = 12;
  } else {
    throw new Error(`npy: unsupported format version ${major}`);
  }
  if (offset + headerLength > buf.length) throw new Error('npy: truncated header');
  const header = buf.toString('latin1', offset, offset + headerLength);
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*(\([^)]*\))/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error('npy: malformed header');
  }
  if (descr !== '<f4') throw new Error(`npy: expected little-endian float32 ('<f4'), found '${descr}'`);
  if (fortran === 'True') throw new Error('npy: Fortran-ordered arrays are not supported');
  const shape = parseShape(shapeText);
  if (shape.length === 0 || shape.length > 2)
    throw new Error(`npy: expected 1 or 2 dimensions, found ${shape.length}`);
  const rows = shape.length === 2 ? shape[0] : 1;
  const cols = shape.length === 2 ? shape[1] : shape[0];
  const dataStart = offset + headerLength;
  const byteLength = rows * cols * 4;
  if (buf.length - dataStart < byteLength) throw new Error('npy: file shorter than its shape');
  // Copy: the data offset is not always 4-byte aligned within the source buffer.
  const data = new Float32Array(rows * cols);
  Buffer.from(data.buffer).set(buf.subarray(dataStart, dataStart + byteLength));
  return { data, rows, cols };
}

export function readNpyFloat32(filePath: string): Float32Matrix {
  return decodeNpyFloat32(fs.readFileSync(filePath));
}
