/** Profiling helper: features of Chula crops in a loop (node --cpu-prof bin/run-ts.mjs bench/morphology-profile.ts). */
import { morphologyFeaturesBatch } from '../src/main/engine/embed/morphology';
import { loadChula } from './morphology-data';

const cells = await loadChula('/work/shared/data/fixture/chula_fields');
const crops = cells.crops.slice(0, 1000);
morphologyFeaturesBatch(crops.slice(0, 100));
const t0 = performance.now();
morphologyFeaturesBatch(crops);
const ms = performance.now() - t0;
process.stdout.write(
  `${JSON.stringify({ cells: crops.length, cellsPerSecond: Math.round((crops.length / ms) * 1000) })}\n`,
);
