import { beforeAll, describe, expect, it } from 'vitest';
import {
  MORPHOLOGY_DIMS,
  MORPHOLOGY_MODEL_NAME,
  maskFromCrop,
  morphologyFeatures,
  morphologyFeaturesBatch,
} from '../../src/main/engine/embed/morphology';
import { PROJECT_ROOT, SHARED_DATA } from '../helpers/data';
import {
  type GoldenCrop,
  type GoldenMeta,
  goldenCrops,
  maskDigest,
  readGolden,
} from '../helpers/morphology-golden';

/**
 * morphology-v2 vectors are pinned on real crops (written by bench/morphology-golden.ts with the code that
 * defined the version): a faster embedder must give the same masks and the same vectors, bit for bit.
 */
describe('morphology-v2 vectors are unchanged', () => {
  let crops: GoldenCrop[];
  let meta: GoldenMeta;
  let golden: Float32Array;

  beforeAll(async () => {
    crops = await goldenCrops(SHARED_DATA);
    ({ meta, vectors: golden } = readGolden(PROJECT_ROOT));
  });

  it('covers the same crops', () => {
    expect(meta.model).toBe(MORPHOLOGY_MODEL_NAME);
    expect(meta.dims).toBe(MORPHOLOGY_DIMS);
    expect(crops.map((c) => c.source)).toEqual(meta.cells.map((c) => c.source));
    expect(golden.length).toBe(crops.length * 2 * MORPHOLOGY_DIMS);
    // Every working scale the embedder takes on real data is represented: 80, 128 and ~89 px crops.
    expect(new Set(crops.map((c) => c.crop.width)).size).toBeGreaterThan(10);
  });

  it('segments the same masks', () => {
    const changed = crops.filter((c, i) => maskDigest(maskFromCrop(c.crop)) !== meta.cells[i].mask);
    expect(changed.map((c) => c.source)).toEqual([]);
  });

  it('gives the same vectors with the mask supplied and when segmenting', () => {
    const masked = crops.map((c) => ({ ...c.crop, mask: maskFromCrop(c.crop) }));
    const withMask = morphologyFeaturesBatch(masked);
    const segmenting = morphologyFeaturesBatch(crops.map((c) => c.crop));
    const differing: string[] = [];
    for (let i = 0; i < crops.length; i++) {
      for (let d = 0; d < MORPHOLOGY_DIMS; d++) {
        const g = 2 * i * MORPHOLOGY_DIMS;
        if (!Object.is(withMask[i * MORPHOLOGY_DIMS + d], golden[g + d]))
          differing.push(
            `${crops[i].source} mask ${d}: ${withMask[i * MORPHOLOGY_DIMS + d]} vs ${golden[g + d]}`,
          );
        if (!Object.is(segmenting[i * MORPHOLOGY_DIMS + d], golden[g + MORPHOLOGY_DIMS + d]))
          differing.push(
            `${crops[i].source} segmenting ${d}: ${segmenting[i * MORPHOLOGY_DIMS + d]} vs ${golden[g + MORPHOLOGY_DIMS + d]}`,
          );
      }
    }
    expect(differing.slice(0, 20)).toEqual([]);
  });

  it('reads a supplied mask as non-zero bytes, at any alignment of its buffer', () => {
    // One crop of each size class: Chula 80 px, NIH 128 px, MP-IDB (widths not a multiple of 4).
    const picks = [0, crops.findIndex((c) => c.crop.width === 128), crops.length - 1];
    for (const i of picks) {
      const mask = maskFromCrop(crops[i].crop);
      const byte255 = mask.map((v) => (v ? 255 : 0));
      const shifted = new Uint8Array(mask.length + 3).subarray(3);
      shifted.set(mask);
      const expected = Array.from(golden.subarray(2 * i * MORPHOLOGY_DIMS, (2 * i + 1) * MORPHOLOGY_DIMS));
      for (const m of [byte255, shifted])
        expect(Array.from(morphologyFeatures({ ...crops[i].crop, mask: m }))).toEqual(expected);
    }
  });

  it('gives one crop the same vector alone as in a batch (no state carried between cells)', () => {
    const last = crops.length - 1;
    for (const i of [last, 0, Math.floor(last / 2)]) {
      const v = morphologyFeatures(crops[i].crop);
      expect(Array.from(v)).toEqual(
        Array.from(golden.subarray((2 * i + 1) * MORPHOLOGY_DIMS, (2 * i + 2) * MORPHOLOGY_DIMS)),
      );
    }
  });
});
