import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { foregroundThreshold, stainMaps, thresholdInRange } from '../../src/main/engine/ingest/segment/field';
import { boxBlur } from '../../src/main/engine/ingest/segment/raster';
import { dataPath } from '../helpers/data';

/** foregroundThreshold as it was with a sorted sample (the quantiles now come from quickselect). */
function sortedReference(smooth: Float32Array): number {
  const n = smooth.length;
  const step = Math.max(1, Math.floor(n / 20000));
  const sample = new Float32Array(Math.ceil(n / step));
  for (let i = 0, k = 0; i < n; i += step) sample[k++] = smooth[i];
  sample.sort();
  const at = (q: number) =>
    sample.length === 0
      ? 0
      : sample[Math.min(sample.length - 1, Math.max(0, Math.floor(q * (sample.length - 1))))];
  return thresholdInRange(smooth, at(0.005), at(0.995));
}

describe('foreground threshold quantiles by selection', () => {
  it('give exactly the sorted-sample threshold on real fields and on tied, constant and tiny maps', async () => {
    const dir = dataPath('fixture', 'chula_fields');
    const maps: Float32Array[] = [];
    for (const f of fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .slice(0, 8)) {
      const img = await decodeImage(`${dir}/${f}`);
      const rgb = { data: img.data, width: img.width, height: img.height };
      const smooth = boxBlur(stainMaps(rgb).odGreen, rgb.width, rgb.height, 1);
      maps.push(smooth, smooth.slice(0, 12345), smooth.slice(1000, 1007));
    }
    // Many ties (quantised values), zeros of both signs, a constant map and an empty one.
    maps.push(Float32Array.from({ length: 40000 }, (_, i) => ((i * 7919) % 11) / 10 - 0.2));
    maps.push(Float32Array.from({ length: 3001 }, (_, i) => (i % 3 === 0 ? -0 : i % 3 === 1 ? 0 : 0.4)));
    maps.push(new Float32Array(5000).fill(0.3), new Float32Array(0));
    for (const m of maps) expect(Object.is(foregroundThreshold(m), sortedReference(m))).toBe(true);
  });
});
