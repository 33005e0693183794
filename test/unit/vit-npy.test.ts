import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeNpyFloat32,
  encodeNpyFloat32,
  readNpyFloat32,
  writeNpyFloat32,
} from '../../src/main/engine/io/npy';
import { PROJECT_ROOT, tempDir } from '../helpers/data';

const tmp = tempDir('vit-npy-');
afterAll(() => tmp.cleanup());

describe('npy float32 matrices', () => {
  it('round-trips an N x D matrix with a 64-byte aligned v1.0 header', () => {
    const rows = 7;
    const cols = 13;
    const data = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i) * 1e3);
    const file = path.join(tmp.dir, 'm.npy');
    writeNpyFloat32(file, data, rows, cols);
    const bytes = fs.readFileSync(file);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]));
    const headerEnd = 10 + bytes.readUInt16LE(8);
    expect(headerEnd % 64).toBe(0);
    expect(bytes.toString('latin1', 10, headerEnd)).toContain(`'shape': (${rows}, ${cols})`);
    expect(bytes.length).toBe(headerEnd + rows * cols * 4);
    const back = readNpyFloat32(file);
    expect(back.rows).toBe(rows);
    expect(back.cols).toBe(cols);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  it('reads the arrays numpy.save wrote for the ViT fixture', () => {
    const m = readNpyFloat32(path.join(PROJECT_ROOT, 'test/fixtures/vit-tiny/plain/cls.npy'));
    expect([m.rows, m.cols]).toEqual([5, 48]);
    expect(m.data.every(Number.isFinite)).toBe(true);
  });

  it('refuses what it cannot represent', () => {
    expect(() => encodeNpyFloat32(new Float32Array(5), 2, 3)).toThrow(/do not fill/);
    const good = encodeNpyFloat32(new Float32Array(6), 2, 3);
    const f8 = Buffer.from(good);
    f8.write("'<f8'", f8.indexOf("'<f4'"), 'latin1');
    expect(() => decodeNpyFloat32(f8)).toThrow(/float32/);
    expect(() => decodeNpyFloat32(good.subarray(0, good.length - 4))).toThrow(/shorter than its shape/);
    expect(() => decodeNpyFloat32(Buffer.from('not numpy at all'))).toThrow(/not a .npy/);
    const empty = decodeNpyFloat32(encodeNpyFloat32(new Float32Array(0), 0, 384));
    expect([empty.rows, empty.cols]).toEqual([0, 384]);
  });
});
