// Worker-side cost of one 640x480 field, in this thread (no pool): decode, segmentation, thumbnails and
// morphology, after a warm-up, plus digests of the outputs (to check that an optimisation changed nothing).
// node bin/run-ts.mjs bench/ingest-profile.ts [fieldCount=30] [--thumbs-only]
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fieldScaleOf, type FieldScale, processImage } from '../src/main/engine/ingest/process-image';

const count = Number(process.argv[2] ?? 30);
const src = path.resolve('../shared/data/chula-dev');
const files = fs
  .readdirSync(src)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, count)
  .map((f) => path.join(src, f));
const cellsHash = createHash('sha256');
const thumbHash = createHash('sha256');
const morphHash = createHash('sha256');
// Warm-up: detector session, scale search, JIT. Later fields reuse the first field's scale, as an import's
// fields of one size do (ImportScales in services/ingest.ts).
let scale: FieldScale | undefined;
for (const f of files.slice(0, 3)) {
  scale ??= fieldScaleOf(await processImage(f, { mode: 'field', scale }));
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let cells = 0;
let thumbBytes = 0;
for (const f of files) {
  const r = await processImage(f, { mode: 'field', scale });
  if (!r.ok) throw new Error(r.message);
  cells += r.cells.length;
  for (const c of r.cells) {
    const { thumbnail, contour, ...rest } = c;
    cellsHash.update(JSON.stringify(rest));
    if (contour) cellsHash.update(new Uint8Array(contour.buffer, contour.byteOffset, contour.byteLength));
    thumbHash.update(thumbnail);
    thumbBytes += thumbnail.length;
  }
  morphHash.update(new Uint8Array(r.morphology.buffer, r.morphology.byteOffset, r.morphology.byteLength));
}
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(
  JSON.stringify({
    bench: 'ingest-profile',
    fields: files.length,
    cells,
    seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    cpuSeconds: Number(cpuSeconds.toFixed(2)),
    cellsPerCpuSecond: Math.round(cells / cpuSeconds),
    thumbBytes,
    digests: {
      cells: cellsHash.digest('hex').slice(0, 16),
      thumbnails: thumbHash.digest('hex').slice(0, 16),
      morphology: morphHash.digest('hex').slice(0, 16),
    },
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  }),
);
