import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cellCropAtModelSize,
  cellCropBox,
  cropSquare,
  decodeRgb,
  imageMeanColor,
  preprocessCellCrops,
  preprocessImageFile,
  resizeBilinearLikePil,
  type Rgb,
} from '../../src/main/engine/embed/vit/preprocess';
import { dataPath, PROJECT_ROOT } from '../helpers/data';

const FIXTURE = path.join(PROJECT_ROOT, 'test/fixtures/vit-tiny');
interface CropRecord {
  source: string;
  bbox: [number, number, number, number];
  contextFactor: number;
  cropSide: number;
  resized: string;
}
const meta = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'crops.json'), 'utf8')) as {
  mean: Rgb;
  std: Rgb;
  crops: CropRecord[];
};

describe('cell crop preprocessing', () => {
  it('matches PIL Image.resize(BILINEAR) bit for bit on real crops (up, down, edge-padded, same size)', async () => {
    expect(meta.crops.some((c) => c.cropSide > 224)).toBe(true);
    expect(meta.crops.some((c) => c.cropSide < 224)).toBe(true);
    for (const c of meta.crops) {
      const image = await decodeRgb(dataPath(c.source));
      const [x, y, width, height] = c.bbox;
      expect(cellCropBox({ x, y, width, height }, c.contextFactor).side).toBe(c.cropSide);
      const mine = cellCropAtModelSize(image, { x, y, width, height }, 224, {
        contextFactor: c.contextFactor,
      });
      const pil = await decodeRgb(path.join(FIXTURE, c.resized));
      let differing = 0;
      for (let i = 0; i < pil.data.length; i++) if (pil.data[i] !== mine.data[i]) differing++;
      expect({ source: c.source, differing }).toEqual({ source: c.source, differing: 0 });
    }
  });

  it('normalizes like torchvision ToTensor + Normalize into NCHW', async () => {
    const c = meta.crops[1];
    const image = await decodeRgb(dataPath(c.source));
    const [x, y, width, height] = c.bbox;
    const boxes = [
      { x, y, width, height },
      { x: 0, y: 0, width: 30, height: 20 },
    ];
    const batch = preprocessCellCrops(image, boxes, 224, meta.mean, meta.std, {
      contextFactor: c.contextFactor,
    });
    expect(batch.length).toBe(2 * 3 * 224 * 224);
    const pil = await decodeRgb(path.join(FIXTURE, c.resized));
    const plane = 224 * 224;
    for (const p of [0, 1234, plane - 1]) {
      for (let ch = 0; ch < 3; ch++) {
        const expected = Math.fround(
          (Math.fround(pil.data[p * 3 + ch] / 255) - Math.fround(meta.mean[ch])) / Math.fround(meta.std[ch]),
        );
        expect(batch[ch * plane + p]).toBe(expected);
      }
    }
  });

  it('centres the square on the box and pads outside the image with the mean colour', () => {
    expect(cellCropBox({ x: 10, y: 20, width: 40, height: 20 }, 1.5)).toEqual({ x0: 0, y0: 0, side: 60 });
    const image = { data: new Uint8Array(4 * 3 * 3), width: 4, height: 3 };
    for (let i = 0; i < image.data.length; i++) image.data[i] = i * 7;
    const fill = imageMeanColor(image);
    const crop = cropSquare(image, { x0: -1, y0: -2, side: 5 }, fill);
    const px = (img: { data: Uint8Array; width: number }, x: number, y: number) =>
      Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
    expect(px(crop, 0, 0)).toEqual(fill);
    expect(px(crop, 1, 2)).toEqual(px(image, 0, 0));
    expect(px(crop, 4, 4)).toEqual(px(image, 3, 2));
    expect(() => cellCropBox({ x: 0, y: 0, width: 0, height: 5 })).toThrow(/empty/);
  });

  it('leaves a constant image constant and preserves size when no resize is needed', () => {
    const flat = { data: new Uint8Array(37 * 37 * 3).fill(201), width: 37, height: 37 };
    expect(resizeBilinearLikePil(flat, 224, 224).data.every((v) => v === 201)).toBe(true);
    expect(resizeBilinearLikePil(flat, 5, 5).data.every((v) => v === 201)).toBe(true);
    expect(resizeBilinearLikePil(flat, 37, 37).data).toEqual(flat.data);
  });

  it('preprocesses a whole crop file like the fixture pipeline', async () => {
    const c = meta.crops[0]; // whole 89x87 MP-IDB crop, padded to square, factor 1
    const fromFile = await preprocessImageFile(dataPath(c.source), 224, meta.mean, meta.std);
    const image = await decodeRgb(dataPath(c.source));
    const [x, y, width, height] = c.bbox;
    expect([image.width, image.height]).toEqual([width, height]);
    const viaBoxes = preprocessCellCrops(image, [{ x, y, width, height }], 224, meta.mean, meta.std, {
      contextFactor: 1,
    });
    expect(fromFile.length).toBe(viaBoxes.length);
    let differing = 0;
    for (let i = 0; i < fromFile.length; i++) if (fromFile[i] !== viaBoxes[i]) differing++;
    expect(differing).toBe(0);
  });
});
