import { findAbParams, fuzzyUnion, membershipStrengths, smoothKnnDistances, type SparseGraph } from './fuzzy';
import {
  buildNeighborIndex,
  defaultThreads,
  queryNeighbors,
  type MapMetric,
  type NeighborIndex,
} from './knn';
import { fitPca, projectPca } from './pca';
import { throwIfAborted, type LongTaskOptions } from './progress';
import { sampleIndices, seededGaussian, seededRandom } from './random';
import { optimizeLayout, type LayoutGraph, type LayoutParams } from './sgd';

/**
 * UMAP for the cell map: kNN graph (HNSW candidates re-ranked exactly), fuzzy simplicial set, PCA
 * initialisation, SGD with negative sampling on worker threads. Above `maxFitPoints` cells a seeded sample is
 * fitted and the remaining cells are placed onto it (weighted mean of their fitted neighbours, then a few epochs
 * in which only they move), as umap-learn's transform does.
 */
export interface UmapOptions extends LongTaskOptions {
  /** Neighbours per point, the point itself included (umap-learn convention). */
  nNeighbors?: number;
  minDist?: number;
  spread?: number;
  /** Default: 500 up to 10k fitted points, else 200. */
  epochs?: number;
  seed?: number;
  metric?: MapMetric;
  negativeSampleRate?: number;
  repulsionStrength?: number;
  /** Build the neighbour index on this many PCA dims (see knn.ts; off by default). */
  searchDims?: number;
  /** HNSW candidates per point re-ranked exactly; default k + 5. */
  candidates?: number;
  threads?: number;
  /** Larger inputs fit a sample of this size and place the rest. */
  maxFitPoints?: number;
  /** Epochs in which placed points settle against the fixed fitted map; 0 keeps the weighted means. */
  placeEpochs?: number;
}

/** A fitted map that further cells can be placed onto. */
export interface UmapModel {
  index: NeighborIndex;
  /** Positions of the fitted rows (index.count x 2). */
  embedding: Float32Array;
  a: number;
  b: number;
  k: number;
  candidates: number;
  seed: number;
  options: Required<Pick<UmapOptions, 'negativeSampleRate' | 'repulsionStrength' | 'threads'>>;
}

function identityRows(count: number): Int32Array {
  const rows = new Int32Array(count);
  for (let i = 0; i < count; i++) rows[i] = i;
  return rows;
}

/** Sampling periods (max weight / weight); edges weaker than max / epochs are never sampled and are dropped. */
function layoutGraphOf(graph: SparseGraph, epochs: number, rows: number, rowOffset: number): LayoutGraph {
  let maxWeight = 0;
  for (let e = 0; e < graph.weights.length; e++) maxWeight = Math.max(maxWeight, graph.weights[e]);
  const floor = maxWeight / epochs;
  const rowPtr = new Int32Array(rows + 1);
  let kept = 0;
  for (let e = 0; e < graph.weights.length; e++)
    if (graph.weights[e] >= floor && graph.weights[e] > 0) kept++;
  const cols = new Int32Array(kept);
  const epochsPerSample = new Float32Array(kept);
  let written = 0;
  for (let r = 0; r < rows; r++) {
    rowPtr[r] = written;
    const g = r - rowOffset;
    if (g < 0 || g >= graph.n) continue;
    for (let e = graph.rowPtr[g]; e < graph.rowPtr[g + 1]; e++) {
      const w = graph.weights[e];
      if (w < floor || w <= 0) continue;
      cols[written] = graph.cols[e];
      epochsPerSample[written] = maxWeight / w;
      written++;
    }
  }
  rowPtr[rows] = written;
  return { rowPtr, cols, epochsPerSample };
}

/** Rescales each axis to [0, 10] as umap-learn does after initialisation. */
function rescaleToBox(positions: Float32Array, count: number): void {
  for (let axis = 0; axis < 2; axis++) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < count; i++) {
      min = Math.min(min, positions[2 * i + axis]);
      max = Math.max(max, positions[2 * i + axis]);
    }
    const range = max - min;
    for (let i = 0; i < count; i++) {
      positions[2 * i + axis] = range > 0 ? (10 * (positions[2 * i + axis] - min)) / range : 5;
    }
  }
}

/** Fits UMAP on rows `fitRows` of `vectors` (all rows when null). */
export async function fitUmap(
  vectors: Float32Array,
  n: number,
  dims: number,
  fitRows: Int32Array | null,
  options: UmapOptions = {},
): Promise<UmapModel> {
  const seed = options.seed ?? 42;
  const metric = options.metric ?? 'cosine';
  const threads = options.threads ?? defaultThreads();
  const count = fitRows ? fitRows.length : n;
  const k = Math.max(2, Math.min(options.nNeighbors ?? 15, count));
  const candidates = options.candidates ?? k + 5;
  const epochs = options.epochs ?? (count <= 10_000 ? 500 : 200);
  const { a, b } = findAbParams(options.spread ?? 1, options.minDist ?? 0.1);
  const negativeSampleRate = options.negativeSampleRate ?? 5;
  const repulsionStrength = options.repulsionStrength ?? 1;
  const common = { signal: options.signal, onProgress: options.onProgress };

  const index = await buildNeighborIndex(vectors, n, dims, fitRows, {
    ...common,
    metric,
    seed,
    threads,
    searchDims: options.searchDims,
  });
  const queryRows = fitRows ?? identityRows(n);
  const knn = await queryNeighbors(index, vectors, queryRows, k, candidates, {
    ...common,
    phase: 'neighbours',
  });
  throwIfAborted(options.signal);
  options.onProgress?.(0, 1, 'fuzzy graph');
  const { rhos, sigmas } = smoothKnnDistances(knn.distances, count, knn.k, true);
  const strengths = membershipStrengths(
    knn.indices,
    knn.distances,
    count,
    knn.k,
    rhos,
    sigmas,
    identityRows(count),
  );
  const graph = fuzzyUnion(knn.indices, strengths, count, knn.k);
  options.onProgress?.(1, 1, 'fuzzy graph');

  options.onProgress?.(0, 1, 'initial layout');
  // PCA start: the leading axes of the neighbour-search projection when there is one.
  const basis = index.basis
    ? { ...index.basis, components: 2, axes: index.basis.axes.subarray(0, 2 * dims) }
    : fitPca(vectors, n, dims, 2, { seed, normalizeRows: metric === 'cosine' });
  const embedding = new Float32Array(count * 2);
  const width = basis.components;
  const scratch = new Float32Array(width);
  for (let i = 0; i < count; i++) {
    projectPca(basis, vectors, queryRows[i], 1, scratch);
    embedding[2 * i] = scratch[0];
    embedding[2 * i + 1] = width > 1 ? scratch[1] : 0;
  }
  rescaleToBox(embedding, count);
  // Jitter separates exact duplicates, which would otherwise never feel a gradient between them.
  const jitter = seededGaussian(seededRandom(seed ^ 0x5bd1e995));
  for (let i = 0; i < embedding.length; i++) embedding[i] += 1e-3 * jitter();
  options.onProgress?.(1, 1, 'initial layout');

  const layoutParams: LayoutParams = {
    a,
    b,
    epochs,
    seed,
    negativeSampleRate,
    repulsionStrength,
    initialAlpha: 1,
    negativeRange: count,
    threads,
  };
  await optimizeLayout(embedding, layoutGraphOf(graph, epochs, count, 0), layoutParams, { ...common });
  return {
    index,
    embedding,
    a,
    b,
    k: knn.k,
    candidates,
    seed,
    options: { negativeSampleRate, repulsionStrength, threads },
  };
}

/**
 * Positions (rows.length x 2) for rows `rows` of `vectors` on a fitted map: each starts at the membership-weighted
 * mean of its k nearest fitted neighbours, then `placeEpochs` epochs move only the new points.
 */
export async function placeOnMap(
  model: UmapModel,
  vectors: Float32Array,
  rows: Int32Array,
  options: LongTaskOptions & { placeEpochs?: number } = {},
): Promise<Float32Array> {
  const count = rows.length;
  const fitted = model.index.count;
  const out = new Float32Array(count * 2);
  if (count === 0) return out;
  const k = Math.min(model.k, fitted);
  const knn = await queryNeighbors(model.index, vectors, rows, k, model.candidates, {
    signal: options.signal,
    onProgress: options.onProgress,
    phase: 'placing: neighbours',
  });
  const { rhos, sigmas } = smoothKnnDistances(knn.distances, count, knn.k, false);
  const strengths = membershipStrengths(knn.indices, knn.distances, count, knn.k, rhos, sigmas, null);
  for (let i = 0; i < count; i++) {
    let sx = 0;
    let sy = 0;
    let sw = 0;
    for (let j = 0; j < knn.k; j++) {
      const e = i * knn.k + j;
      const neighbour = knn.indices[e];
      if (neighbour < 0) continue;
      const w = strengths[e];
      sx += w * model.embedding[2 * neighbour];
      sy += w * model.embedding[2 * neighbour + 1];
      sw += w;
    }
    out[2 * i] = sw > 0 ? sx / sw : model.embedding[2 * Math.max(0, knn.indices[i * knn.k])];
    out[2 * i + 1] = sw > 0 ? sy / sw : model.embedding[2 * Math.max(0, knn.indices[i * knn.k]) + 1];
  }
  const epochs = options.placeEpochs ?? 30;
  if (epochs <= 0) return out;

  // Fitted points first (fixed: no edges), placed points after them with edges to their fitted neighbours.
  const positions = new Float32Array((fitted + count) * 2);
  positions.set(model.embedding);
  positions.set(out, fitted * 2);
  let maxWeight = 0;
  for (let e = 0; e < strengths.length; e++) maxWeight = Math.max(maxWeight, strengths[e]);
  const floor = maxWeight / epochs;
  const rowPtr = new Int32Array(fitted + count + 1);
  const colsTyped = new Int32Array(count * knn.k);
  const periodsTyped = new Float32Array(count * knn.k);
  let written = 0;
  for (let i = 0; i < count; i++) {
    rowPtr[fitted + i] = written;
    for (let j = 0; j < knn.k; j++) {
      const e = i * knn.k + j;
      if (knn.indices[e] < 0 || strengths[e] < floor || strengths[e] <= 0) continue;
      colsTyped[written] = knn.indices[e];
      periodsTyped[written] = maxWeight / strengths[e];
      written++;
    }
  }
  rowPtr[fitted + count] = written;
  await optimizeLayout(
    positions,
    { rowPtr, cols: colsTyped.slice(0, written), epochsPerSample: periodsTyped.slice(0, written) },
    {
      a: model.a,
      b: model.b,
      epochs,
      seed: model.seed ^ 0x2545f491,
      negativeSampleRate: model.options.negativeSampleRate,
      repulsionStrength: model.options.repulsionStrength,
      // umap-learn's transform starts at a quarter of the fitting rate: the map around them is already settled.
      initialAlpha: 0.25,
      negativeRange: fitted,
      threads: model.options.threads,
    },
    { signal: options.signal, onProgress: options.onProgress, phase: 'placing: layout' },
  );
  return positions.slice(fitted * 2);
}

/**
 * 2-D UMAP layout of n rows of `vectors` (n x dims, row-major); returns n x 2. Deterministic for a seed on any
 * number of threads. Inputs above `maxFitPoints` (default 100k) fit a sample and place the rest.
 */
export async function umapLayout(
  vectors: Float32Array,
  n: number,
  dims: number,
  options: UmapOptions = {},
): Promise<Float32Array> {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(dims) || dims < 1) {
    throw new Error(`umapLayout: bad shape ${n} x ${dims}`);
  }
  if (vectors.length < n * dims)
    throw new Error(`umapLayout: expected ${n * dims} values, got ${vectors.length}`);
  const out = new Float32Array(n * 2);
  if (n <= 2) {
    for (let i = 0; i < n; i++) out[2 * i] = 10 * i;
    return out;
  }
  const seed = options.seed ?? 42;
  const maxFit = Math.max(3, options.maxFitPoints ?? 100_000);
  const fitRows = n > maxFit ? sampleIndices(n, maxFit, seed) : null;
  const model = await fitUmap(vectors, n, dims, fitRows, options);
  if (!fitRows) return model.embedding;

  const isFitted = new Uint8Array(n);
  for (let i = 0; i < fitRows.length; i++) {
    isFitted[fitRows[i]] = 1;
    out[2 * fitRows[i]] = model.embedding[2 * i];
    out[2 * fitRows[i] + 1] = model.embedding[2 * i + 1];
  }
  const rest = new Int32Array(n - fitRows.length);
  for (let i = 0, r = 0; i < n; i++) if (!isFitted[i]) rest[r++] = i;
  const placed = await placeOnMap(model, vectors, rest, {
    signal: options.signal,
    onProgress: options.onProgress,
    placeEpochs: options.placeEpochs,
  });
  for (let r = 0; r < rest.length; r++) {
    out[2 * rest[r]] = placed[2 * r];
    out[2 * rest[r] + 1] = placed[2 * r + 1];
  }
  return out;
}
