/**
 * Quick speed check (no evaluation) on fixture Chula windows and NIH crops, segmenting and with masks
 * supplied: cells per wall second and per CPU second of this process.
 *   node bin/run-ts.mjs bench/morphology-profile.ts
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CellCrop, maskFromCrop, morphologyFeaturesBatch } from '../src/main/engine/embed/morphology';
import { loadChula, loadFolders, nihSlide } from './morphology-data';

const DATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/data/fixture');
const chula = (await loadChula(path.join(DATA, 'chula_fields'))).crops.slice(0, 1000);
const nih = (await loadFolders(path.join(DATA, 'nih_cells'), nihSlide)).crops;
const out: Record<string, unknown> = { load: os.loadavg().map((v) => Math.round(v * 100) / 100) };

function speed(crops: CellCrop[]): { cellsPerWallSecond: number; cellsPerCpuSecond: number } {
  morphologyFeaturesBatch(crops.slice(0, 100));
  const reps = Math.max(1, Math.round(2000 / crops.length));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) morphologyFeaturesBatch(crops);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return {
    cellsPerWallSecond: Math.round((crops.length * reps) / wall),
    cellsPerCpuSecond: Math.round((crops.length * reps) / ((cpu.user + cpu.system) / 1e6)),
  };
}

for (const [name, crops] of [
  ['chula80', chula],
  ['nih128', nih],
] as const) {
  out[name] = {
    segmenting: speed(crops),
    maskSupplied: speed(crops.map((c) => ({ ...c, mask: maskFromCrop(c) }))),
  };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
