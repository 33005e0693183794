import { VectorIndex } from '../search/vector-index';

/**
 * Similarity-weighted kNN classifier (cosine).
 *
 * Default weighting is `exp`: each of the k neighbours votes exp(sim / T) with T = 0.07, the DINO / DINOv2 kNN
 * evaluation rule that RedDino's kNN numbers use. It favours the closest neighbours smoothly and stays positive
 * for negative similarities (unlike sim^p). `uniform` is majority vote (scikit-learn's weights='uniform'),
 * `power` votes max(sim, 0)^p. Probabilities are the normalised class votes.
 */
export type KnnWeighting = 'exp' | 'uniform' | 'power';

export interface KnnOptions {
  k?: number;
  weighting?: KnnWeighting;
  /** Temperature for `exp` (default 0.07). */
  temperature?: number;
  /** Exponent for `power` (default 2). */
  power?: number;
}

export interface ClassPredictions {
  /** Class id per row (-1 when there is nothing to predict from). */
  predicted: Int32Array;
  /** Probability of the predicted class. */
  probability: Float32Array;
  /** Top-1 minus top-2 probability (1 when only one class has votes). */
  margin: Float32Array;
  /** Runner-up class id (-1 when none). */
  runnerUp: Int32Array;
  /** Entropy of the class distribution, in nats. */
  entropy: Float32Array;
}

export function emptyPredictions(n: number): ClassPredictions {
  return {
    predicted: new Int32Array(n).fill(-1),
    probability: new Float32Array(n),
    margin: new Float32Array(n),
    runnerUp: new Int32Array(n).fill(-1),
    entropy: new Float32Array(n),
  };
}

/** Fills row i of predictions from a class -> score map (scores need not be normalised). */
export function writeDistribution(out: ClassPredictions, i: number, votes: Map<number, number>): void {
  let total = 0;
  for (const v of votes.values()) total += v;
  let best = -1;
  let bestP = -1;
  let second = -1;
  let secondP = 0;
  let entropy = 0;
  // Iterate classes in ascending id so ties resolve to the smaller id, as scikit-learn does.
  for (const c of [...votes.keys()].sort((a, b) => a - b)) {
    const p = total > 0 ? votes.get(c)! / total : 0;
    if (p > 0) entropy -= p * Math.log(p);
    if (p > bestP) {
      second = best;
      secondP = bestP < 0 ? 0 : bestP;
      best = c;
      bestP = p;
    } else if (p > secondP || second < 0) {
      second = c;
      secondP = p;
    }
  }
  out.predicted[i] = best;
  out.probability[i] = Math.max(bestP, 0);
  out.runnerUp[i] = second;
  out.margin[i] = Math.max(bestP, 0) - (second < 0 ? 0 : secondP);
  out.entropy[i] = entropy;
}

export function knnVote(similarity: number, options: KnnOptions): number {
  switch (options.weighting ?? 'exp') {
    case 'uniform':
      return 1;
    case 'power':
      return Math.max(similarity, 0) ** (options.power ?? 2);
    case 'exp':
      return Math.exp(similarity / (options.temperature ?? 0.07));
  }
}

/**
 * Classifies query rows against labeled training rows. trainY may contain -1 (ignored). With `excludeSelf`, a
 * neighbour whose training row index equals the query row index is skipped (leave-one-out on the same matrix).
 */
export function knnClassify(
  trainX: Float32Array,
  trainY: Int32Array,
  queryX: Float32Array,
  dims: number,
  options: KnnOptions & { excludeSelf?: boolean } = {},
): ClassPredictions {
  const k = options.k ?? 20;
  const labeled: number[] = [];
  for (let i = 0; i < trainY.length; i++) if (trainY[i] >= 0) labeled.push(i);
  const queryCount = queryX.length / dims;
  const out = emptyPredictions(queryCount);
  if (labeled.length === 0) return out;
  const index = new VectorIndex(dims, { workers: 1, maxVectors: labeled.length });
  const vectors = new Float32Array(labeled.length * dims);
  labeled.forEach((row, i) => vectors.set(trainX.subarray(row * dims, (row + 1) * dims), i * dims));
  // Index ids are training row numbers, so the self-exclusion test is an id comparison.
  index.add(Int32Array.from(labeled), vectors);
  const fetch = options.excludeSelf ? k + 1 : k;
  const batch = index.searchManySync(queryX, fetch);
  for (let q = 0; q < queryCount; q++) {
    const votes = new Map<number, number>();
    let used = 0;
    for (let j = 0; j < fetch && used < k; j++) {
      const row = batch.ids[q * fetch + j];
      if (row < 0 || (options.excludeSelf && row === q)) continue;
      const c = trainY[row];
      votes.set(c, (votes.get(c) ?? 0) + knnVote(batch.scores[q * fetch + j], options));
      used++;
    }
    writeDistribution(out, q, votes);
  }
  void index.close();
  return out;
}
