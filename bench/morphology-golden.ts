/**
 * Writes the pinned morphology-v2 vectors of test/fixtures/morphology-v2 (mask supplied and segmenting, on
 * the crops of test/helpers/morphology-golden.ts). Run only with the code that defines the model version:
 * the test then holds every later speed-up to the same vectors.
 *   node bin/run-ts.mjs bench/morphology-golden.ts
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MORPHOLOGY_DIMS,
  MORPHOLOGY_MODEL_NAME,
  maskFromCrop,
  morphologyFeatures,
} from '../src/main/engine/embed/morphology';
import { GOLDEN_DIR, type GoldenMeta, goldenCrops, maskDigest } from '../test/helpers/morphology-golden';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const crops = await goldenCrops(path.resolve(ROOT, '../shared/data'));
const vectors = Buffer.alloc(crops.length * 2 * MORPHOLOGY_DIMS * 4);
const meta: GoldenMeta = {
  model: MORPHOLOGY_MODEL_NAME,
  dims: MORPHOLOGY_DIMS,
  writtenBy: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim(),
  cells: [],
};
let o = 0;
for (const { source, crop } of crops) {
  const mask = maskFromCrop(crop);
  meta.cells.push({ source, width: crop.width, height: crop.height, mask: maskDigest(mask) });
  for (const v of [morphologyFeatures({ ...crop, mask }), morphologyFeatures(crop)]) {
    for (let d = 0; d < MORPHOLOGY_DIMS; d++, o += 4) vectors.writeFloatLE(v[d], o);
  }
}
fs.mkdirSync(path.join(ROOT, GOLDEN_DIR), { recursive: true });
fs.writeFileSync(path.join(ROOT, GOLDEN_DIR, 'vectors.bin'), vectors);
fs.writeFileSync(path.join(ROOT, GOLDEN_DIR, 'golden.json'), `${JSON.stringify(meta, null, 1)}\n`);
process.stdout.write(`${JSON.stringify({ cells: crops.length, bytes: vectors.length })}\n`);
