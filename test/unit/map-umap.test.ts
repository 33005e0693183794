import { beforeAll, describe, expect, it } from 'vitest';
import { UMAP } from 'umap-js';
import { fitUmap, placeOnMap, umapLayout } from '../../src/main/engine/map/umap';
import { mapKnnAccuracy, neighborhoodPreservation } from '../../src/main/engine/map/quality';
import { MapCancelledError } from '../../src/main/engine/map/progress';
import { seededRandom } from '../../src/main/engine/map/random';
import { clusteredEmbeddings, type SyntheticEmbeddings } from '../../src/main/engine/map/synthetic';

const N = 2000;
const DIMS = 64;

function randomLayout(n: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return new Float32Array(n * 2).map(() => random() * 10);
}

function umapJsLayout(data: SyntheticEmbeddings, seed: number): Float32Array {
  const rows: number[][] = [];
  for (let i = 0; i < data.n; i++)
    rows.push(Array.from(data.vectors.subarray(i * data.dims, (i + 1) * data.dims)));
  const embedding = new UMAP({ nNeighbors: 15, minDist: 0.1, random: seededRandom(seed) }).fit(rows);
  return Float32Array.from(embedding.flat());
}

describe('umapLayout', () => {
  let data: SyntheticEmbeddings;
  let ours: Float32Array;
  const phases = new Set<string>();
  let progressOk = true;

  beforeAll(async () => {
    data = clusteredEmbeddings(N, DIMS, 8, { seed: 5 });
    ours = await umapLayout(data.vectors, N, DIMS, {
      metric: 'euclidean',
      seed: 1,
      threads: 2,
      onProgress: (done, total, phase) => {
        phases.add(phase);
        if (!(done >= 0 && done <= total)) progressOk = false;
      },
    });
  });

  it('keeps neighbourhoods far better than chance and about as well as umap-js', () => {
    expect(ours.length).toBe(N * 2);
    expect(ours.every(Number.isFinite)).toBe(true);
    const options = { k: 10, sampleSize: 300, metric: 'euclidean' as const };
    const oursRecall = neighborhoodPreservation(data.vectors, N, DIMS, ours, options);
    const chanceRecall = neighborhoodPreservation(data.vectors, N, DIMS, randomLayout(N, 3), options);
    const reference = umapJsLayout(data, 1);
    const referenceRecall = neighborhoodPreservation(data.vectors, N, DIMS, reference, options);
    expect(oursRecall).toBeGreaterThan(10 * Math.max(chanceRecall, 0.01));
    expect(oursRecall).toBeGreaterThan(0.85 * referenceRecall);

    const oursAccuracy = mapKnnAccuracy(ours, data.labels, { k: 10, sampleSize: 500 });
    const referenceAccuracy = mapKnnAccuracy(reference, data.labels, { k: 10, sampleSize: 500 });
    const chanceAccuracy = mapKnnAccuracy(randomLayout(N, 3), data.labels, { k: 10, sampleSize: 500 });
    expect(oursAccuracy).toBeGreaterThan(0.95);
    expect(oursAccuracy).toBeGreaterThan(referenceAccuracy - 0.03);
    expect(chanceAccuracy).toBeLessThan(0.4);
  });

  it('reports every phase with done <= total', () => {
    expect(progressOk).toBe(true);
    for (const phase of ['neighbour index', 'neighbours', 'fuzzy graph', 'layout'])
      expect(phases).toContain(phase);
  });

  it('gives the same layout for a seed on one thread and on two, another for another seed', async () => {
    const single = await umapLayout(data.vectors, N, DIMS, { metric: 'euclidean', seed: 1, threads: 1 });
    expect(single).toEqual(ours);
    const reseeded = await umapLayout(data.vectors, N, DIMS, { metric: 'euclidean', seed: 2, threads: 2 });
    let moved = 0;
    for (let i = 0; i < reseeded.length; i++) if (reseeded[i] !== ours[i]) moved++;
    expect(moved).toBeGreaterThan(N);
  });

  it('stops with MapCancelledError when aborted mid-layout or before it starts', async () => {
    const controller = new AbortController();
    const run = umapLayout(data.vectors, N, DIMS, {
      threads: 2,
      signal: controller.signal,
      onProgress: (done, _total, phase) => {
        if (phase === 'layout' && done === 5) controller.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(MapCancelledError);
    const aborted = new AbortController();
    aborted.abort();
    await expect(umapLayout(data.vectors, N, DIMS, { signal: aborted.signal })).rejects.toBeInstanceOf(
      MapCancelledError,
    );
  });

  it('fits a sample of a larger set and places the rest onto it', async () => {
    const big = clusteredEmbeddings(4000, 64, 8, { seed: 9 });
    const layout = await umapLayout(big.vectors, big.n, big.dims, {
      seed: 4,
      maxFitPoints: 1000,
      placeEpochs: 20,
      epochs: 200,
    });
    expect(layout.every(Number.isFinite)).toBe(true);
    // Cells outside the fitted sample land among their own class, as often as fitted cells do.
    const accuracy = mapKnnAccuracy(layout, big.labels, { k: 10, sampleSize: 800 });
    expect(accuracy).toBeGreaterThan(0.95);
    const recall = neighborhoodPreservation(big.vectors, big.n, big.dims, layout, { k: 10, sampleSize: 200 });
    const chance = neighborhoodPreservation(big.vectors, big.n, big.dims, randomLayout(big.n, 5), {
      k: 10,
      sampleSize: 200,
    });
    expect(recall).toBeGreaterThan(10 * Math.max(chance, 0.005));
  });

  it('places new cells onto a fitted map next to their own class and fitted cells onto themselves', async () => {
    const set = clusteredEmbeddings(1500, 32, 5, { seed: 21 });
    const fitRows = Int32Array.from({ length: 1000 }, (_, i) => i);
    const model = await fitUmap(set.vectors, set.n, set.dims, fitRows, { seed: 8, epochs: 200 });
    expect(model.embedding.length).toBe(2000);
    const newRows = Int32Array.from({ length: 500 }, (_, i) => 1000 + i);
    const placed = await placeOnMap(model, set.vectors, newRows, { placeEpochs: 0 });
    const combined = new Float32Array(3000);
    combined.set(model.embedding);
    combined.set(placed, 2000);
    const queryRows = Array.from({ length: 500 }, (_, i) => 1000 + i);
    expect(mapKnnAccuracy(combined, set.labels, { k: 5, queryRows })).toBeGreaterThan(0.95);

    // A fitted cell placed again lands at (or very near) its own fitted position, relative to the map's extent.
    const again = await placeOnMap(model, set.vectors, Int32Array.from([0, 1, 2, 3, 4]), { placeEpochs: 10 });
    let extent = 0;
    for (let i = 0; i < 1000; i++)
      extent = Math.max(extent, Math.hypot(model.embedding[2 * i], model.embedding[2 * i + 1]));
    for (let i = 0; i < 5; i++) {
      const gap = Math.hypot(
        again[2 * i] - model.embedding[2 * i],
        again[2 * i + 1] - model.embedding[2 * i + 1],
      );
      expect(gap).toBeLessThan(0.1 * extent);
    }
  });

  it('handles tiny inputs', async () => {
    expect(await umapLayout(new Float32Array(0), 0, 4)).toEqual(new Float32Array(0));
    expect((await umapLayout(new Float32Array([1, 2, 3, 4]), 2, 2)).length).toBe(4);
    const five = await umapLayout(new Float32Array([1, 0, 0, 1, 1, 1, 5, 5, 5, 6, 6, 5, 9, 9, 9]), 5, 3);
    expect(five.length).toBe(10);
    expect(five.every(Number.isFinite)).toBe(true);
    await expect(umapLayout(new Float32Array(3), 2, 2)).rejects.toThrow(/expected 4 values/);
  });
});
