/**
 * 2-D maps of 1M x 384 clustered synthetic embeddings: pca2d (the immediate map) and UMAP by fitting a 100k
 * sample and placing the other 900k onto it; time per phase (wall and CPU), peak RSS, 2-D class accuracy of
 * fitted versus placed cells.
 *
 *   node bin/run-ts.mjs bench/map-1m.ts [--n=1000000] [--fit=100000] [--place-epochs=30]
 */
import fs from 'node:fs';
import os from 'node:os';
import { pca2d } from '../src/main/engine/map/pca';
import { mapKnnAccuracy } from '../src/main/engine/map/quality';
import { sampleIndices } from '../src/main/engine/map/random';
import { clusteredEmbeddings } from '../src/main/engine/map/synthetic';
import { load, round, timedLayout } from './map-timing';

const arg = (name: string, fallback: number): number =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const n = arg('n', 1_000_000);
const fit = arg('fit', 100_000);
const placeEpochs = arg('place-epochs', 30);
const dims = 384;
const seed = 1;

const result: Record<string, unknown> = {
  bench: 'map-1m',
  machine: {
    cpus: os.availableParallelism(),
    model: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
  },
  rows: n,
  dims,
  loadBefore: load(),
};
/** Written after every stage, so a run cut short still leaves what it measured. */
function save(): void {
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync('bench/results/map-1m.json', `${JSON.stringify(result, null, 2)}\n`);
}

let start = performance.now();
const data = clusteredEmbeddings(n, dims, 20, { seed: 2 });
result.generateSeconds = round((performance.now() - start) / 1000);

start = performance.now();
let cpu = process.cpuUsage();
const pca = pca2d(data.vectors, n, dims, { seed, normalizeRows: true });
let used = process.cpuUsage(cpu);
result.pca2d = {
  seconds: round((performance.now() - start) / 1000),
  cpuSeconds: round((used.user + used.system) / 1e6),
  classAccuracy2dKnn10: round(mapKnnAccuracy(pca, data.labels, { k: 10, sampleSize: 300 }), 3),
};
result.peakRssMiB = round(process.resourceUsage().maxRSS / 1024, 0);
save();

start = performance.now();
cpu = process.cpuUsage();
const umap = await timedLayout(data.vectors, n, dims, { seed, maxFitPoints: fit, placeEpochs });
used = process.cpuUsage(cpu);
// Fitted rows are the seeded sample umapLayout draws; score fitted and placed cells separately.
const fitted = sampleIndices(n, fit, seed);
const isFitted = new Uint8Array(n);
for (const row of fitted) isFitted[row] = 1;
const placedProbe: number[] = [];
for (let i = 0; i < n && placedProbe.length < 300; i += 997) if (!isFitted[i]) placedProbe.push(i);
result.umapSamplePlace = {
  fitRows: fit,
  placedRows: n - fit,
  placeEpochs,
  phases: umap.phases,
  seconds: umap.wallSeconds,
  cpuSeconds: umap.cpuSeconds,
  classAccuracy2dKnn10Fitted: round(
    mapKnnAccuracy(umap.layout, data.labels, { k: 10, queryRows: Array.from(fitted.subarray(0, 300)) }),
    3,
  ),
  classAccuracy2dKnn10Placed: round(
    mapKnnAccuracy(umap.layout, data.labels, { k: 10, queryRows: placedProbe }),
    3,
  ),
};
result.peakRssMiB = round(process.resourceUsage().maxRSS / 1024, 0);
result.loadAfter = load();

save();
console.log(JSON.stringify(result, null, 2));
