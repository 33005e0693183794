import { VectorIndex } from '../search/vector-index';
import { seededRandom } from './evaluate';
import type { CellPredictions } from './predict';

/**
 * Which cells to label next.
 *
 * - `margin` / `entropy`: the unlabeled cells the current predictions are least sure of.
 * - `diversity`: k-center greedy over unlabeled cells (a sample of at most `poolSize`), seeded with the labeled
 *   cells as existing centres, so each pick is the cell farthest (cosine) from everything labeled or picked.
 * - `mix` (default): margin sampling made batch-aware and balanced (cluster-margin). Candidates are the
 *   `poolSize` lowest-margin unlabeled cells; they are grouped by spherical k-means into one cluster per
 *   requested cell, and each cluster gives its best cell by  (1 - margin) x distance-to-labeled x class weight,
 *   where the class weight 1/sqrt(1 + labels of the predicted or runner-up class) pulls toward rare classes.
 *   Pure margin batches pile up in one confused region; the clusters spread the batch over the distinct confused
 *   regions, the distance term avoids re-asking what is already labeled, the class weight finds minorities.
 *   Clusters that come out empty are filled greedily (max-min distance). With no labels or no predictions it
 *   falls back to `coldstart`.
 * - `class`: unlabeled cells nearest the labeled examples of one class (rare-class hunting).
 * - `similar`: unlabeled cells nearest the given seed cells ("more like these").
 * - `coldstart`: k-means (k-means++ init, a few Lloyd rounds) over a sample of all cells, one representative
 *   (the cell nearest each centre) per cluster: covers the data's modes without picking outliers first.
 */
export type SuggestionStrategy =
  'mix' | 'margin' | 'entropy' | 'diversity' | 'class' | 'similar' | 'coldstart';

export interface Suggestion {
  cellId: number;
  /** Human readable, e.g. "uncertain: 0.52 echinocyte vs 0.41 normal". */
  reason: string;
  strategy: SuggestionStrategy;
  predicted?: number;
  confidence?: number;
}

export interface SuggestionContext {
  index: VectorIndex;
  /** Current label of each labeled cell (cell id -> class id). */
  labels: ReadonlyMap<number, number>;
  predictions?: CellPredictions;
  /** Display name of a class id (defaults to "class <id>"). */
  className?: (classId: number) => string;
}

export interface SuggestOptions {
  strategy?: SuggestionStrategy;
  count?: number;
  /** `class`: the class to hunt. */
  classId?: number;
  /** `similar`: the seed cells. */
  seedIds?: ArrayLike<number>;
  /** Candidate pool size for mix / diversity / coldstart (default max(20 x count, 500), capped at 20 000). */
  poolSize?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

const fmt = (p: number): string => p.toFixed(2);

export async function suggest(
  context: SuggestionContext,
  options: SuggestOptions = {},
): Promise<Suggestion[]> {
  const count = options.count ?? 20;
  const strategy = options.strategy ?? 'mix';
  const name = context.className ?? ((c: number) => `class ${c}`);
  switch (strategy) {
    case 'margin':
    case 'entropy':
      return uncertainty(context, strategy, count, name);
    case 'diversity':
      return diversity(context, count, options);
    case 'mix':
      if (context.labels.size === 0 || !context.predictions) return coldStart(context, count, options, 'mix');
      return mix(context, count, options, name);
    case 'coldstart':
      return coldStart(context, count, options, 'coldstart');
    case 'class': {
      if (options.classId === undefined) throw new Error("suggest: strategy 'class' needs classId");
      const seeds = [...context.labels].filter(([, c]) => c === options.classId).map(([id]) => id);
      return nearSeeds(context, seeds, count, 'class', (sim, from) => {
        return `near labeled ${name(options.classId!)} cell ${from} (similarity ${fmt(sim)})`;
      });
    }
    case 'similar': {
      const seeds = Array.from(options.seedIds ?? []);
      if (seeds.length === 0) throw new Error("suggest: strategy 'similar' needs seedIds");
      return nearSeeds(context, seeds, count, 'similar', (sim, from) => {
        return `similar to cell ${from} (similarity ${fmt(sim)})`;
      });
    }
  }
}

function poolSizeFor(count: number, options: SuggestOptions): number {
  return Math.min(options.poolSize ?? Math.max(20 * count, 500), 20_000);
}

function uncertaintyReason(p: CellPredictions, i: number, name: (c: number) => string): string {
  const second = p.probability[i] - p.margin[i];
  const runner = p.runnerUp[i] >= 0 ? ` vs ${fmt(second)} ${name(p.runnerUp[i])}` : '';
  return `uncertain: ${fmt(p.probability[i])} ${name(p.predicted[i])}${runner}`;
}

/** Rows of the predictions for unlabeled cells with the smallest key, ascending. */
function lowest(context: SuggestionContext, key: (row: number) => number, n: number): number[] {
  const p = context.predictions!;
  const rows: number[] = [];
  for (let i = 0; i < p.ids.length; i++) {
    if (p.predicted[i] >= 0 && !context.labels.has(p.ids[i]) && context.index.has(p.ids[i])) rows.push(i);
  }
  // A full sort of up to ~1M keys is ~100 ms; selection via partial sort is not worth the code here.
  const keys = Float64Array.from(rows, key);
  const order = Array.from(rows.keys()).sort((a, b) => keys[a] - keys[b] || p.ids[rows[a]] - p.ids[rows[b]]);
  return order.slice(0, n).map((o) => rows[o]);
}

function uncertainty(
  context: SuggestionContext,
  strategy: 'margin' | 'entropy',
  count: number,
  name: (c: number) => string,
): Suggestion[] {
  const p = context.predictions;
  if (!p) throw new Error(`suggest: strategy '${strategy}' needs predictions`);
  const rows = lowest(context, strategy === 'margin' ? (i) => p.margin[i] : (i) => -p.entropy[i], count);
  return rows.map((i) => ({
    cellId: p.ids[i],
    reason:
      strategy === 'margin'
        ? uncertaintyReason(p, i, name)
        : `uncertain (entropy ${fmt(p.entropy[i])}): ${fmt(p.probability[i])} ${name(p.predicted[i])}`,
    strategy,
    predicted: p.predicted[i],
    confidence: p.probability[i],
  }));
}

/** Deterministic sample of up to n unlabeled cell ids. */
function samplePool(context: SuggestionContext, n: number, seed: number): Int32Array {
  const all = context.index.ids().filter((id) => !context.labels.has(id));
  if (all.length <= n) return all;
  const rand = seededRandom(seed);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rand() * (all.length - i));
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, n);
}

/** Largest cosine similarity of each pool vector to the labeled cells (-1 when nothing is labeled). */
function similarityToLabeled(
  context: SuggestionContext,
  poolVectors: Float32Array,
  poolSize: number,
): Float32Array {
  const best = new Float32Array(poolSize).fill(-1);
  const labeledIds = [...context.labels.keys()].filter((id) => context.index.has(id));
  if (labeledIds.length === 0) return best;
  const labeled = new VectorIndex(context.index.dims, { workers: 1, maxVectors: labeledIds.length });
  labeled.add(labeledIds, context.index.vectors(labeledIds));
  const nearest = labeled.searchManySync(poolVectors, 1);
  for (let i = 0; i < poolSize; i++) if (nearest.ids[i] >= 0) best[i] = nearest.scores[i];
  void labeled.close();
  return best;
}

/**
 * Greedy max-min selection: repeatedly takes the row maximising (1 - maxSim) * weight, then updates maxSim with
 * the new pick. Vectors are the index's normalised rows, so dot = cosine.
 */
function greedyFarthest(
  vectors: Float32Array,
  dims: number,
  maxSim: Float32Array,
  weight: Float32Array | undefined,
  count: number,
  signal?: AbortSignal,
): { row: number; distance: number }[] {
  const n = maxSim.length;
  const taken = new Uint8Array(n);
  const picks: { row: number; distance: number }[] = [];
  for (let t = 0; t < Math.min(count, n); t++) {
    signal?.throwIfAborted();
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      const score = (1 - maxSim[i]) * (weight ? weight[i] : 1);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    if (best < 0) break;
    taken[best] = 1;
    picks.push({ row: best, distance: 1 - maxSim[best] });
    const b = best * dims;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      let s = 0;
      const o = i * dims;
      for (let j = 0; j < dims; j++) s += vectors[o + j] * vectors[b + j];
      if (s > maxSim[i]) maxSim[i] = s;
    }
  }
  return picks;
}

function diversity(context: SuggestionContext, count: number, options: SuggestOptions): Suggestion[] {
  const pool = samplePool(context, poolSizeFor(count, options), options.seed ?? 0);
  const vectors = context.index.vectors(pool);
  const maxSim = similarityToLabeled(context, vectors, pool.length);
  const picks = greedyFarthest(vectors, context.index.dims, maxSim, undefined, count, options.signal);
  return picks.map(({ row, distance }) => ({
    cellId: pool[row],
    reason:
      context.labels.size > 0
        ? `unexplored: similarity ${fmt(1 - distance)} to the nearest labeled or suggested cell`
        : `diverse: similarity ${fmt(1 - distance)} to the nearest suggested cell`,
    strategy: 'diversity' as const,
  }));
}

function mix(
  context: SuggestionContext,
  count: number,
  options: SuggestOptions,
  name: (c: number) => string,
): Suggestion[] {
  const p = context.predictions!;
  const dims = context.index.dims;
  const rows = lowest(context, (i) => p.margin[i], poolSizeFor(count, options));
  const ids = Int32Array.from(rows, (i) => p.ids[i]);
  const n = ids.length;
  const vectors = context.index.vectors(ids);
  const maxSim = similarityToLabeled(context, vectors, n);
  const labeledPerClass = new Map<number, number>();
  for (const c of context.labels.values()) labeledPerClass.set(c, (labeledPerClass.get(c) ?? 0) + 1);
  const weight = Float32Array.from(rows, (i) => {
    const rarest = Math.min(
      labeledPerClass.get(p.predicted[i]) ?? 0,
      labeledPerClass.get(p.runnerUp[i]) ?? 0,
    );
    return (1 - p.margin[i]) / Math.sqrt(1 + rarest);
  });
  // One cluster per requested cell; each cluster's best candidate by weight x distance to the labeled cells.
  const k = Math.min(count, n);
  const rand = seededRandom((options.seed ?? 0) + context.labels.size);
  const { assignment } = sphericalKMeans(vectors, n, dims, k, 8, rand, options.signal);
  const best = new Int32Array(k).fill(-1);
  const bestScore = new Float64Array(k).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const score = weight[i] * (1 - maxSim[i]);
    if (score > bestScore[assignment[i]]) {
      bestScore[assignment[i]] = score;
      best[assignment[i]] = i;
    }
  }
  const picked = Array.from(best.keys())
    .filter((c) => best[c] >= 0)
    .sort((a, b) => bestScore[b] - bestScore[a])
    .map((c) => best[c]);
  if (picked.length < k) {
    // Empty clusters: fill greedily, the picks so far counting as labeled.
    for (const row of picked) {
      weight[row] = 0;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < dims; j++) s += vectors[i * dims + j] * vectors[row * dims + j];
        if (s > maxSim[i]) maxSim[i] = s;
      }
    }
    const chosen = new Set(picked);
    for (const { row } of greedyFarthest(vectors, dims, maxSim, weight, n, options.signal)) {
      if (picked.length >= k) break;
      if (!chosen.has(row)) picked.push(row);
    }
  }
  return picked.map((row) => {
    const i = rows[row];
    return {
      cellId: p.ids[i],
      reason: uncertaintyReason(p, i, name),
      strategy: 'mix' as const,
      predicted: p.predicted[i],
      confidence: p.probability[i],
    };
  });
}

/**
 * Spherical k-means on normalised rows: k-means++ initialisation on cosine distance, then `rounds` Lloyd rounds
 * (assign by cosine, centre = normalised mean). Returns each row's cluster and the centres.
 */
function sphericalKMeans(
  x: Float32Array,
  n: number,
  dims: number,
  k: number,
  rounds: number,
  rand: () => number,
  signal?: AbortSignal,
  onRound?: (round: number) => void,
): { assignment: Int32Array; centres: Float32Array } {
  const centres = new Float32Array(k * dims);
  const nearest = new Float32Array(n).fill(Infinity);
  let pick = Math.floor(rand() * n);
  for (let c = 0; c < k; c++) {
    centres.set(x.subarray(pick * dims, (pick + 1) * dims), c * dims);
    let total = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < dims; j++) s += x[i * dims + j] * centres[c * dims + j];
      const d = Math.max(0, 1 - s) ** 2;
      if (d < nearest[i]) nearest[i] = d;
      total += nearest[i];
    }
    if (total <= 0) break;
    let r = rand() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= nearest[i];
      if (r <= 0) {
        pick = i;
        break;
      }
    }
  }
  const assignment = new Int32Array(n);
  for (let round = 0; round < rounds; round++) {
    signal?.throwIfAborted();
    onRound?.(round);
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestSim = -Infinity;
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let j = 0; j < dims; j++) s += x[i * dims + j] * centres[c * dims + j];
        if (s > bestSim) {
          bestSim = s;
          best = c;
        }
      }
      assignment[i] = best;
    }
    centres.fill(0);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < dims; j++) centres[assignment[i] * dims + j] += x[i * dims + j];
    for (let c = 0; c < k; c++) {
      let norm = 0;
      for (let j = 0; j < dims; j++) norm += centres[c * dims + j] ** 2;
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let j = 0; j < dims; j++) centres[c * dims + j] *= inv;
    }
  }
  return { assignment, centres };
}

function coldStart(
  context: SuggestionContext,
  count: number,
  options: SuggestOptions,
  strategy: SuggestionStrategy,
): Suggestion[] {
  const dims = context.index.dims;
  const pool = samplePool(
    context,
    poolSizeFor(count, { ...options, poolSize: options.poolSize ?? 10_000 }),
    options.seed ?? 0,
  );
  const n = pool.length;
  if (n === 0) return [];
  const k = Math.min(count, n);
  const x = context.index.vectors(pool);
  const { assignment, centres } = sphericalKMeans(
    x,
    n,
    dims,
    k,
    6,
    seededRandom(options.seed ?? 0),
    options.signal,
    (round) => options.onProgress?.(round, 6, 'coldstart'),
  );
  const size = new Int32Array(k);
  for (let i = 0; i < n; i++) size[assignment[i]]++;
  const representative = new Int32Array(k).fill(-1);
  const representativeSim = new Float32Array(k).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const c = assignment[i];
    let s = 0;
    for (let j = 0; j < dims; j++) s += x[i * dims + j] * centres[c * dims + j];
    if (s > representativeSim[c]) {
      representativeSim[c] = s;
      representative[c] = i;
    }
  }
  const order = Array.from({ length: k }, (_, c) => c)
    .filter((c) => representative[c] >= 0)
    .sort((a, b) => size[b] - size[a]);
  return order.map((c, rank) => ({
    cellId: pool[representative[c]],
    reason: `cold start: represents group ${rank + 1} of ${order.length} (${size[c]} of ${n} sampled cells)`,
    strategy,
  }));
}

async function nearSeeds(
  context: SuggestionContext,
  seeds: number[],
  count: number,
  strategy: 'class' | 'similar',
  reason: (similarity: number, fromCellId: number) => string,
): Promise<Suggestion[]> {
  const known = seeds.filter((id) => context.index.has(id)).slice(0, 256);
  if (known.length === 0) return [];
  const exclude = new Set<number>([...context.labels.keys(), ...known]);
  const best = await nearestToSeeds(context.index, known, count, exclude);
  const p = context.predictions;
  const rowOf = p ? new Map(Array.from(p.ids, (id, i) => [id, i])) : undefined;
  return best.slice(0, count).map((hit) => {
    const row = rowOf?.get(hit.cellId);
    return {
      cellId: hit.cellId,
      reason: reason(hit.similarity, hit.fromCellId),
      strategy,
      ...(p && row !== undefined ? { predicted: p.predicted[row], confidence: p.probability[row] } : {}),
    };
  });
}

/** For each cell near any seed: its best similarity and which seed, best first. */
export async function nearestToSeeds(
  index: VectorIndex,
  seeds: number[],
  k: number,
  exclude: ReadonlySet<number>,
  minSimilarity = -Infinity,
): Promise<{ cellId: number; similarity: number; fromCellId: number }[]> {
  const batch = await index.searchMany(index.vectors(seeds), k, { exclude });
  const best = new Map<number, { similarity: number; fromCellId: number }>();
  for (let s = 0; s < seeds.length; s++) {
    for (let j = 0; j < k; j++) {
      const id = batch.ids[s * k + j];
      const similarity = batch.scores[s * k + j];
      if (id < 0 || !(similarity >= minSimilarity)) continue;
      const prior = best.get(id);
      if (!prior || similarity > prior.similarity) best.set(id, { similarity, fromCellId: seeds[s] });
    }
  }
  return [...best]
    .map(([cellId, v]) => ({ cellId, ...v }))
    .sort((a, b) => b.similarity - a.similarity || a.cellId - b.cellId);
}
