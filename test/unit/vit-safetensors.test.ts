import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeTensorBytes,
  openSafetensors,
  SafetensorsError,
} from '../../src/main/engine/embed/vit/safetensors';
import { PROJECT_ROOT, tempDir } from '../helpers/data';

const FIXTURE = path.join(PROJECT_ROOT, 'test/fixtures/vit-tiny/plain/model.safetensors');
const tmp = tempDir('vit-safetensors-');
afterAll(() => tmp.cleanup());

function writeRaw(name: string, header: unknown, data: Uint8Array, lengthOverride?: bigint): string {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const file = path.join(tmp.dir, name);
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

describe('safetensors reader', () => {
  it('reads the timm checkpoint written by the fixture script', () => {
    const f = openSafetensors(FIXTURE);
    try {
      expect(f.entries.get('cls_token')?.shape).toEqual([1, 1, 48]);
      expect(f.entries.get('pos_embed')?.shape).toEqual([1, 257, 48]);
      expect(f.entries.get('blocks.1.attn.qkv.weight')?.shape).toEqual([144, 48]);
      expect(f.metadata.format).toBe('pt');
      const gamma = f.read('blocks.0.ls1.gamma');
      expect(gamma.length).toBe(48);
      // The fixture draws LayerScale gammas from [0.1, 1.0].
      expect(Math.min(...gamma)).toBeGreaterThanOrEqual(0.1);
      expect(Math.max(...gamma)).toBeLessThanOrEqual(1.0);
      expect(() => f.read('head.weight')).toThrow(/no tensor 'head.weight'/);
    } finally {
      f.close();
    }
  });

  it('converts F16 and BF16 to float32', () => {
    const values = [1, -2.5, 0.333251953125, 65504, 0];
    const f16 = new Uint16Array([0x3c00, 0xc100, 0x3555, 0x7bff, 0x0000]);
    const bf16 = new Uint16Array(new Float32Array(values).length);
    const f32 = new Uint32Array(new Float32Array(values).buffer);
    for (let i = 0; i < values.length; i++) bf16[i] = f32[i] >>> 16;
    const file = writeRaw(
      'mixed.safetensors',
      {
        a: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
        b: { dtype: 'BF16', shape: [5], data_offsets: [10, 20] },
      },
      Buffer.concat([Buffer.from(f16.buffer), Buffer.from(bf16.buffer)]),
    );
    const f = openSafetensors(file);
    try {
      expect(Array.from(f.read('a'))).toEqual(values);
      // bfloat16 keeps 8 bits of mantissa: 0.33325... truncates to 0.33203125
      expect(Array.from(f.read('b'))).toEqual([1, -2.5, 0.33203125, 65280, 0]);
    } finally {
      f.close();
    }
    const sub = decodeTensorBytes(new Uint8Array([0x00, 0x7c, 0x01, 0x00]), 'F16');
    expect(sub[0]).toBe(Infinity);
    expect(sub[1]).toBe(2 ** -24);
  });

  it('rejects malformed files with a clear error', () => {
    const tiny = path.join(tmp.dir, 'tiny.safetensors');
    fs.writeFileSync(tiny, Buffer.from([1, 2, 3]));
    expect(() => openSafetensors(tiny)).toThrow(/only 3 bytes/);

    const hugeLen = writeRaw('hugelen.safetensors', {}, new Uint8Array(0), 1n << 40n);
    expect(() => openSafetensors(hugeLen)).toThrow(SafetensorsError);
    expect(() => openSafetensors(hugeLen)).toThrow(/header length/);

    const notJson = path.join(tmp.dir, 'notjson.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(5n);
    fs.writeFileSync(notJson, Buffer.concat([len, Buffer.from('{oops')]));
    expect(() => openSafetensors(notJson)).toThrow(/header is not JSON/);

    const badDtype = writeRaw(
      'dtype.safetensors',
      { a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    expect(() => openSafetensors(badDtype)).toThrow(/dtype I64/);

    const wrongSize = writeRaw(
      'size.safetensors',
      { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    expect(() => openSafetensors(wrongSize)).toThrow(/holds 8 bytes but shape \[3\]/);

    const truncated = writeRaw(
      'trunc.safetensors',
      { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } },
      new Uint8Array(12),
    );
    expect(() => openSafetensors(truncated)).toThrow(/past the end of the file/);

    // A real checkpoint cut short: the header survives, the last tensors do not.
    const bytes = fs.readFileSync(FIXTURE);
    const cut = path.join(tmp.dir, 'cut.safetensors');
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 1000));
    expect(() => openSafetensors(cut)).toThrow(/truncated/);
  });
});
