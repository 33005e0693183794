import fs from 'node:fs';

/**
 * Reader for the safetensors format (8-byte little-endian header length, JSON header, raw little-endian
 * tensor bytes). Tensors are read one at a time from the file so a multi-gigabyte checkpoint never has to
 * fit in one buffer.
 */

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range within the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  path: string;
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Reads one tensor and converts it to float32. */
  read(name: string): Float32Array;
  close(): void;
}

export class SafetensorsError extends Error {
  constructor(filePath: string, reason: string) {
    super(`${filePath} is not a valid safetensors file: ${reason}`);
    this.name = 'SafetensorsError';
  }
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
// A header larger than this is a corrupt length field, not a real checkpoint (real headers are kilobytes).
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseSafetensorsHeader(
  filePath: string,
  headerJson: string,
  dataBytes: number,
): { entries: Map<string, SafetensorsEntry>; metadata: Record<string, string> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(headerJson);
  } catch (err) {
    throw new SafetensorsError(filePath, `header is not JSON (${(err as Error).message})`);
  }
  if (!isRecord(parsed)) throw new SafetensorsError(filePath, 'header is not a JSON object');
  const entries = new Map<string, SafetensorsEntry>();
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (name === '__metadata__') {
      if (isRecord(value)) {
        for (const [k, v] of Object.entries(value)) if (typeof v === 'string') metadata[k] = v;
      }
      continue;
    }
    if (!isRecord(value)) throw new SafetensorsError(filePath, `entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
      throw new SafetensorsError(
        filePath,
        `tensor '${name}' has dtype ${String(dtype)}; only F32, F16 and BF16 are supported`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(filePath, `tensor '${name}' has an invalid shape`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0) ||
      offsets[1] < offsets[0]
    ) {
      throw new SafetensorsError(filePath, `tensor '${name}' has invalid data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES_PER_ELEMENT[dtype]) {
      throw new SafetensorsError(
        filePath,
        `tensor '${name}' holds ${end - begin} bytes but shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${count * BYTES_PER_ELEMENT[dtype]}`,
      );
    }
    if (end > dataBytes) {
      throw new SafetensorsError(
        filePath,
        `tensor '${name}' ends at byte ${end}, past the end of the file (truncated?)`,
      );
    }
    entries.set(name, { name, dtype, shape: shape as number[], begin, end });
  }
  return { entries, metadata };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Converts raw little-endian tensor bytes to float32. */
export function decodeTensorBytes(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    const out = new Float32Array(bytes.byteLength / 4);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const n = bytes.byteLength / 2;
  const out = new Float32Array(n);
  if (dtype === 'BF16') {
    // bfloat16 is the upper half of a float32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
    return out;
  }
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  for (let i = 0; i < n; i++) out[i] = table[view.getUint16(i * 2, true)];
  return out;
}

export function openSafetensors(filePath: string): SafetensorsFile {
  const fd = fs.openSync(filePath, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw new SafetensorsError(filePath, `file is only ${size} bytes`);
    const lengthBytes = Buffer.alloc(8);
    fs.readSync(fd, lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > size) {
      throw new SafetensorsError(
        filePath,
        `header length ${headerLength} does not fit a ${size}-byte file (is this a safetensors file?)`,
      );
    }
    const headerBytes = Buffer.alloc(headerLength);
    fs.readSync(fd, headerBytes, 0, headerLength, 8);
    const dataStart = 8 + headerLength;
    const { entries, metadata } = parseSafetensorsHeader(
      filePath,
      headerBytes.toString('utf8'),
      size - dataStart,
    );
    let open = true;
    return {
      path: filePath,
      entries,
      metadata,
      read(name: string): Float32Array {
        if (!open) throw new Error(`${filePath} is closed`);
        const entry = entries.get(name);
        if (!entry) throw new Error(`${filePath} has no tensor '${name}'`);
        const bytes = Buffer.alloc(entry.end - entry.begin);
        let done = 0;
        while (done < bytes.length) {
          const n = fs.readSync(fd, bytes, done, bytes.length - done, dataStart + entry.begin + done);
          if (n === 0) throw new SafetensorsError(filePath, `unexpected end of file in tensor '${name}'`);
          done += n;
        }
        return decodeTensorBytes(bytes, entry.dtype);
      },
      close(): void {
        if (open) fs.closeSync(fd);
        open = false;
      },
    };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}
