// Large-field ingest: a synthetic 10000 x 10000 smear tiled from real Chula fields, processed tile by tile from
// the file. Prints cells, time and the process's peak RSS (engine thread + ingest workers).
// node bin/run-ts.mjs bench/ingest-large.ts [side=10000]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../src/main/engine/ingest/decode';
import { CellStore } from '../src/main/engine/store/store';
import { runIngest } from '../src/main/engine/services/ingest';
import { machine, writeResult } from './common';

const FW = 640;
const FH = 480;

/** Writes the mosaic (run in a child process, so building it does not count in this process's peak RSS). */
async function makeMosaic(out: string, side: number): Promise<void> {
  const src = path.resolve('../shared/data/chula-dev');
  const files = fs
    .readdirSync(src)
    .filter((f) => f.endsWith('.jpg'))
    .sort();
  const data = new Uint8Array(side * side * 3);
  let k = 0;
  for (let oy = 0; oy < side; oy += FH) {
    for (let ox = 0; ox < side; ox += FW) {
      const f = await decodeImage(path.join(src, files[k++ % files.length]));
      if (f.width !== FW || f.height !== FH) continue;
      const w = Math.min(FW, side - ox);
      for (let y = 0; y < Math.min(FH, side - oy); y++)
        data.set(f.data.subarray(y * FW * 3, (y * FW + w) * 3), ((oy + y) * side + ox) * 3);
    }
  }
  await sharp(data, { raw: { width: side, height: side, channels: 3 }, limitInputPixels: false })
    .jpeg({ quality: 92 })
    .toFile(out);
}

if (process.argv[2] === '--make') {
  await makeMosaic(process.argv[3], Number(process.argv[4]));
  process.exit(0);
}

const side = Number(process.argv[2] ?? 10000);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-large-'));
const fields = path.join(tmp, 'fields');
fs.mkdirSync(fields);
const image = path.join(fields, `mosaic-${side}.jpg`);
const made = spawnSync(
  process.execPath,
  ['bin/run-ts.mjs', 'bench/ingest-large.ts', '--make', image, String(side)],
  {
    stdio: 'inherit',
  },
);
if (made.status !== 0) throw new Error('could not build the mosaic');

const rssBefore = process.memoryUsage().rss;
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const store = CellStore.create(path.join(tmp, 'bench.rdproj'));
const cpu0 = process.cpuUsage();
const summary = await runIngest(
  store,
  { paths: [fields], as: 'fields', cellsFrom: 'segmentation', annotator: 'bench' },
  { signal: new AbortController().signal, progress: () => undefined },
);
clearInterval(sampler);
const cpu = process.cpuUsage(cpu0);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const slide = store.listSlides()[0];
const result = {
  bench: 'ingest-large',
  width: slide?.width,
  height: slide?.height,
  fileMB: Number((fs.statSync(image).size / 2 ** 20).toFixed(1)),
  wholeImageRgbMB: Math.round((side * side * 3) / 2 ** 20),
  cells: summary.cells,
  failed: summary.failed.map((f) => f.message),
  seconds: Number(summary.seconds.toFixed(1)),
  cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
  rssBeforeMB: Math.round(rssBefore / 2 ** 20),
  peakRssMB: Math.round(peakRss / 2 ** 20),
  ...machine(),
};
store.close();
fs.rmSync(tmp, { recursive: true, force: true });
writeResult('ingest-large', result);
