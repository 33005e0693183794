import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script with no type declarations.
import { compile, moduleText } from '../../scripts/build-wasm.mjs';
import { jpegKernel } from '../../src/main/engine/ingest/jpeg';
import { cellThumbnail, THUMB_SIZE } from '../../src/main/engine/ingest/thumbnail';
import fs from 'node:fs';
import path from 'node:path';

const WASM_DIR = path.resolve(__dirname, '../../src/main/engine/ingest/wasm');

describe('WebAssembly kernels', () => {
  it('the committed module is what its AssemblyScript source compiles to', async () => {
    const source = path.join(WASM_DIR, 'jpeg.as.ts');
    const text: string = moduleText(source, await compile(source));
    expect(fs.readFileSync(path.join(WASM_DIR, 'jpeg-wasm.ts'), 'utf8')).toBe(text);
  }, 60_000);

  it('a huge crop gets a thumbnail, and the kernel that grew for it is let go', async () => {
    // A 2400 x 2000 "crop": its patch needs ~70 MB of kernel memory.
    const width = 2400;
    const height = 2000;
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        const inside = (x - 1200) ** 2 + (y - 1000) ** 2 < 800 ** 2;
        data[i] = inside ? 200 : 240;
        data[i + 1] = inside ? 90 : 235;
        data[i + 2] = inside ? 100 : 230;
      }
    }
    const before = jpegKernel();
    const jpeg = cellThumbnail({ data, width, height }, [0, 0, width, height], true);
    const { data: px, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([THUMB_SIZE, THUMB_SIZE]);
    // Centre red, corner pale.
    const at = (x: number, y: number) =>
      Array.from(px.subarray((y * THUMB_SIZE + x) * 3, (y * THUMB_SIZE + x) * 3 + 3));
    expect(at(48, 48)[0] - at(48, 48)[1]).toBeGreaterThan(80);
    expect(at(2, 2)[0] - at(2, 2)[1]).toBeLessThan(20);
    const after = jpegKernel();
    expect(after).not.toBe(before);
    expect(after.oversized).toBe(false);
    // The next small thumbnail is served by the fresh kernel.
    expect(cellThumbnail({ data, width, height }, [1100, 900, 200, 200]).length).toBeGreaterThan(500);
  });
});
