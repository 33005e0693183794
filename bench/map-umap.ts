/**
 * 2-D map engine: UMAP on 100k x 384 clustered synthetic embeddings (time per phase, wall and CPU, peak RSS)
 * and map quality against umap-js 1.4 on 10k x 384 (kNN recall of the map, 2-D kNN class accuracy), plus
 * real NIH malaria cell crops (pixels, 16x16 RGB) for the same comparison on real images.
 *
 *   node bin/run-ts.mjs bench/map-umap.ts [--n=100000] [--quality-n=10000] [--no-umapjs] [--no-real]
 *     [--no-quality] [--out=bench/results/map-umap.json]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { UMAP } from 'umap-js';
import { load, round, timedLayout } from './map-timing';
import { mapKnnAccuracy, neighborhoodPreservation } from '../src/main/engine/map/quality';
import { seededRandom } from '../src/main/engine/map/random';
import { clusteredEmbeddings } from '../src/main/engine/map/synthetic';

const arg = (name: string, fallback: number): number =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const n = arg('n', 100_000);
const qualityN = arg('quality-n', 10_000);
const dims = 384;

function umapJs(vectors: Float32Array, rows: number, width: number, seed: number): Float32Array {
  const data: number[][] = [];
  for (let i = 0; i < rows; i++) data.push(Array.from(vectors.subarray(i * width, (i + 1) * width)));
  return Float32Array.from(
    new UMAP({ nNeighbors: 15, minDist: 0.1, random: seededRandom(seed) }).fit(data).flat(),
  );
}

async function compareWithUmapJs(
  name: string,
  vectors: Float32Array,
  labels: Int32Array,
  rows: number,
  width: number,
): Promise<Record<string, unknown>> {
  const quality = (layout: Float32Array): Record<string, number> => ({
    knnRecall10: round(
      neighborhoodPreservation(vectors, rows, width, layout, { k: 10, sampleSize: 500, metric: 'euclidean' }),
      3,
    ),
    classAccuracy2dKnn10: round(mapKnnAccuracy(layout, labels, { k: 10, sampleSize: 2000 }), 3),
  });
  const ours = await timedLayout(vectors, rows, width, { metric: 'euclidean', seed: 1 });
  const entry: Record<string, unknown> = {
    name,
    rows,
    dims: width,
    loadBefore: load(),
    ours: { seconds: ours.wallSeconds, cpuSeconds: ours.cpuSeconds, ...quality(ours.layout) },
  };
  if (!process.argv.includes('--no-umapjs')) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const reference = umapJs(vectors, rows, width, 1);
    const used = process.cpuUsage(cpu);
    entry.umapJs = {
      seconds: round((performance.now() - start) / 1000),
      cpuSeconds: round((used.user + used.system) / 1e6),
      ...quality(reference),
    };
  }
  const random = seededRandom(3);
  entry.randomLayout = quality(new Float32Array(rows * 2).map(() => random() * 10));
  entry.loadAfter = load();
  return entry;
}

/** NIH malaria crops (parasitized / uninfected) as 16x16 RGB pixel vectors: real cells, real label structure. */
async function nihPixels(): Promise<{
  vectors: Float32Array;
  labels: Int32Array;
  rows: number;
  width: number;
}> {
  const root = path.resolve('..', 'shared', 'data', 'nih-dev');
  const files: Array<[string, number]> = [];
  ['parasitized', 'uninfected'].forEach((folder, label) => {
    for (const file of fs.readdirSync(path.join(root, folder)).sort()) {
      if (file.endsWith('.png')) files.push([path.join(root, folder, file), label]);
    }
  });
  const width = 16 * 16 * 3;
  const vectors = new Float32Array(files.length * width);
  const labels = new Int32Array(files.length);
  for (let i = 0; i < files.length; i++) {
    const pixels = await sharp(files[i][0]).resize(16, 16, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    for (let j = 0; j < width; j++) vectors[i * width + j] = pixels[j] / 255;
    labels[i] = files[i][1];
  }
  return { vectors, labels, rows: files.length, width };
}

const result: Record<string, unknown> = {
  bench: 'map-umap',
  machine: {
    cpus: os.availableParallelism(),
    model: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
  },
  loadBefore: load(),
};

const data = clusteredEmbeddings(n, dims, 20, { seed: 2 });
const big = await timedLayout(data.vectors, n, dims, { seed: 1 });
result.umap = {
  rows: n,
  dims,
  metric: 'cosine',
  phases: big.phases,
  seconds: big.wallSeconds,
  cpuSeconds: big.cpuSeconds,
  goalSeconds: 60,
  classAccuracy2dKnn10: round(mapKnnAccuracy(big.layout, data.labels, { k: 10, sampleSize: 1000 }), 3),
  knnRecall10: round(
    neighborhoodPreservation(data.vectors, n, dims, big.layout, { k: 10, sampleSize: 100 }),
    3,
  ),
  loadAfter: load(),
};
result.peakRssMiB = round(process.resourceUsage().maxRSS / 1024, 0);

const small = clusteredEmbeddings(qualityN, dims, 20, { seed: 3 });
const comparisons = [
  await compareWithUmapJs('clustered synthetic', small.vectors, small.labels, qualityN, dims),
];
if (!process.argv.includes('--no-real')) {
  const real = await nihPixels();
  comparisons.push(
    await compareWithUmapJs(
      'NIH malaria crops, 16x16 RGB pixels',
      real.vectors,
      real.labels,
      real.rows,
      real.width,
    ),
  );
}
result.qualityVsUmapJs = comparisons;
result.peakRssMiB = round(process.resourceUsage().maxRSS / 1024, 0);
result.loadAfter = load();

const json = JSON.stringify(result, null, 2);
console.log(json);
const out = process.argv.find((a) => a.startsWith('--out='))?.slice(6) ?? 'bench/results/map-umap.json';
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${json}\n`);
