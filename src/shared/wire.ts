/**
 * JSON with typed arrays, for the HTTP host. Typed arrays travel as base64 of their bytes so a million-cell map is a
 * few MB of text instead of an array of a million numbers. (Electron IPC uses structured clone and needs none of this.)
 */
const TYPED = {
  Float32Array,
  Int32Array,
  Uint8Array,
  Uint32Array,
  Float64Array,
} as const;
type TypedName = keyof typeof TYPED;

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Uint8Array(128);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function bytesToBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  const CHUNK = 3 * 4096;
  for (let off = 0; off < bytes.length; off += CHUNK) {
    const end = Math.min(off + CHUNK, bytes.length);
    let s = '';
    for (let i = off; i < end; i += 3) {
      const a = bytes[i];
      const b = i + 1 < end ? bytes[i + 1] : 0;
      const c = i + 2 < end ? bytes[i + 2] : 0;
      const n = (a << 16) | (b << 8) | c;
      s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      s += i + 1 < end ? B64[(n >> 6) & 63] : '=';
      s += i + 2 < end ? B64[n & 63] : '=';
    }
    parts.push(s);
  }
  return parts.join('');
}

export function base64ToBytes(s: string): Uint8Array {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const n =
      (B64_INDEX[s.charCodeAt(i)] << 18) |
      (B64_INDEX[s.charCodeAt(i + 1)] << 12) |
      (B64_INDEX[s.charCodeAt(i + 2)] << 6) |
      B64_INDEX[s.charCodeAt(i + 3)];
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

export function encodeWire(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const name = v.constructor.name as TypedName;
      if (name in TYPED) {
        return { $typed: name, b64: bytesToBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
      }
    }
    return v;
  });
}

export function decodeWire(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && '$typed' in v && 'b64' in v) {
      const { $typed, b64 } = v as { $typed: TypedName; b64: string };
      const Ctor = TYPED[$typed];
      if (!Ctor) return v;
      const bytes = base64ToBytes(b64);
      return new Ctor(
        bytes.buffer as ArrayBuffer,
        bytes.byteOffset,
        bytes.byteLength / Ctor.BYTES_PER_ELEMENT,
      );
    }
    return v;
  });
}
