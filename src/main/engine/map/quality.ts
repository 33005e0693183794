import type { MapMetric } from './knn';
import { sampleIndices } from './random';

/**
 * How faithfully a 2-D map keeps the neighbourhoods of the embedding space. Used by tests and benchmarks, and
 * cheap enough (sampled queries, exact search) to report with a map in the app.
 */
export interface PreservationOptions {
  k?: number;
  /** Query points; exact high-D search costs sampleSize x n x dims. */
  sampleSize?: number;
  metric?: MapMetric;
  seed?: number;
}

/** Indices of the k smallest values of `scores` (ties by index), excluding `skip`. */
function smallestK(scores: Float64Array, k: number, skip: number): Int32Array {
  const best = new Int32Array(k).fill(-1);
  const bestScore = new Float64Array(k).fill(Infinity);
  for (let i = 0; i < scores.length; i++) {
    if (i === skip) continue;
    const s = scores[i];
    if (s >= bestScore[k - 1]) continue;
    let p = k - 1;
    while (p > 0 && bestScore[p - 1] > s) {
      bestScore[p] = bestScore[p - 1];
      best[p] = best[p - 1];
      p--;
    }
    bestScore[p] = s;
    best[p] = i;
  }
  return best;
}

/**
 * Mean fraction of a point's k nearest neighbours in the embedding space that are also among its k nearest
 * neighbours on the map (kNN recall of the map); 1 is perfect, a random map scores about k / n.
 */
export function neighborhoodPreservation(
  vectors: Float32Array,
  n: number,
  dims: number,
  layout: Float32Array,
  options: PreservationOptions = {},
): number {
  const k = Math.min(options.k ?? 10, n - 1);
  if (k < 1) return 1;
  const metric = options.metric ?? 'cosine';
  const queries = sampleIndices(n, Math.min(n, options.sampleSize ?? 500), options.seed ?? 7);
  const inverseNorms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < dims; j++) sum += vectors[i * dims + j] ** 2;
    inverseNorms[i] = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  }
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  let total = 0;
  for (const q of queries) {
    const qo = q * dims;
    for (let i = 0; i < n; i++) {
      const io = i * dims;
      let acc = 0;
      if (metric === 'cosine') {
        for (let j = 0; j < dims; j++) acc += vectors[qo + j] * vectors[io + j];
        high[i] = -acc * inverseNorms[q] * inverseNorms[i];
      } else {
        for (let j = 0; j < dims; j++) acc += (vectors[qo + j] - vectors[io + j]) ** 2;
        high[i] = acc;
      }
      low[i] = (layout[2 * q] - layout[2 * i]) ** 2 + (layout[2 * q + 1] - layout[2 * i + 1]) ** 2;
    }
    const highNeighbours = new Set(smallestK(high, k, q));
    let shared = 0;
    for (const i of smallestK(low, k, q)) if (highNeighbours.has(i)) shared++;
    total += shared / k;
  }
  return total / queries.length;
}

/**
 * Leave-one-out accuracy of a k-nearest-neighbour majority vote on the map for the sampled points (a tie goes
 * to the label that reached the count first, nearest first): how well known classes stay apart on the map.
 */
export function mapKnnAccuracy(
  layout: Float32Array,
  labels: ArrayLike<number>,
  options: { k?: number; sampleSize?: number; seed?: number; queryRows?: ArrayLike<number> } = {},
): number {
  const n = labels.length;
  const k = Math.min(options.k ?? 10, n - 1);
  const queries =
    options.queryRows ?? sampleIndices(n, Math.min(n, options.sampleSize ?? 1000), options.seed ?? 7);
  const distances = new Float64Array(n);
  let correct = 0;
  for (let qi = 0; qi < queries.length; qi++) {
    const q = queries[qi];
    for (let i = 0; i < n; i++) {
      distances[i] = (layout[2 * q] - layout[2 * i]) ** 2 + (layout[2 * q + 1] - layout[2 * i + 1]) ** 2;
    }
    const votes = new Map<number, number>();
    let winner = -1;
    let winnerVotes = 0;
    for (const i of smallestK(distances, k, q)) {
      const count = (votes.get(labels[i]) ?? 0) + 1;
      votes.set(labels[i], count);
      if (count > winnerVotes) {
        winnerVotes = count;
        winner = labels[i];
      }
    }
    if (winner === labels[q]) correct++;
  }
  return correct / queries.length;
}
