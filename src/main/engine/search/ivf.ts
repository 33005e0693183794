import { instantiateDotKernel, KERNEL_MAX_PAGES, type DotKernel } from './dot-kernel';
import { TopK } from './top-k';

/**
 * Inverted-file (IVF) approximate index over the int8 rows of a VectorIndex.
 *
 * Why not a graph (HNSW): on the 2-core reference machine usearch needed 78 minutes to build 1M x 384 and still
 * gave recall@10 0.72 at ef 64. An IVF reuses the exact path's int8 SIMD kernel: vectors are grouped into lists
 * by their nearest centroid, a query ranks the centroids and scans only the `probes` nearest lists (about
 * probes / lists of the rows), and the best candidates are rescored exactly in float32 by the caller.
 *
 * Centroids form a two-level tree (spherical k-means: `coarse` centroids, then `coarse` fine centroids inside
 * each), so assigning 1M rows costs 2 x coarse dot products per row instead of coarse^2, and the whole build takes
 * seconds, not minutes. A query ranks all fine centroids (coarse^2 of them, a few hundred microseconds).
 *
 * The list rows are a copy of the int8 codes (same layout as the VectorIndex's int8 rows: codes, then a float32
 * scale), ordered by list, in a wasm memory of their own; with 384 dims that is 400 bytes per vector. Ids, not
 * slots, are stored, so removals and slot moves in the VectorIndex never invalidate it: the caller maps ids back
 * to slots and drops the ones that are gone; vectors added or replaced after the build are the caller's pending
 * set, scanned exactly.
 */

export interface IvfSource {
  dims: number;
  /** Rows to index: slots 0..count-1. */
  count: number;
  /** int8 row bytes (codes, padding, float32 scale): the kernel's int8 stride. */
  i8Stride: number;
  /** Normalised float32 vector of a slot (a view, valid until the next yield). */
  f32Row: (slot: number) => Float32Array;
  /** int8 row bytes of a slot (a view, valid until the next yield). */
  i8Row: (slot: number) => Uint8Array;
  /** Cell id of a slot, read at copy time (after the last yield). */
  idOf: (slot: number) => number;
  /** Current row count (rows beyond the build's snapshot are left to the caller). */
  currentCount: () => number;
}

export interface IvfBuildOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
  /** Coarse centroids; the index has coarse^2 lists (default: about the fourth root of the row count). */
  coarse?: number;
  iterations?: number;
}

const PAGE = 65536;
const BLOCK_ROWS = 1024;
const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class IvfIndex {
  readonly lists: number;
  readonly rows: number;
  private readonly memory: WebAssembly.Memory;
  private readonly kernel: DotKernel;
  private readonly dims: number;
  private readonly f32Stride: number;
  private readonly i8Stride: number;
  private readonly qI16: number;
  private readonly qF32: number;
  private readonly scratch: number;
  private readonly centroidsPtr: number;
  private readonly fineFirst: number;
  private readonly rowsPtr: number;
  private readonly offsets: Int32Array;
  private readonly rowIds: Int32Array;
  private readonly coarse: number;

  private constructor(dims: number, i8Stride: number, coarse: number, rows: number) {
    this.dims = dims;
    this.coarse = coarse;
    this.lists = coarse * coarse;
    this.rows = rows;
    this.i8Stride = i8Stride;
    this.f32Stride = alignUp(dims, 16);
    const centroids = coarse + this.lists;
    this.qI16 = 0;
    this.qF32 = alignUp(this.qI16 + i8Stride * 2, 64);
    this.scratch = alignUp(this.qF32 + this.f32Stride * 4, 64);
    this.centroidsPtr = alignUp(this.scratch + Math.max(BLOCK_ROWS, centroids) * 4, 64);
    this.fineFirst = coarse;
    this.rowsPtr = alignUp(this.centroidsPtr + centroids * this.f32Stride * 4, 64);
    const pages = Math.ceil((this.rowsPtr + rows * i8Stride) / PAGE) + 1;
    if (pages > KERNEL_MAX_PAGES) throw new Error('IvfIndex: rows exceed the 4 GiB wasm memory limit');
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.kernel = instantiateDotKernel(this.memory);
    this.offsets = new Int32Array(this.lists + 1);
    this.rowIds = new Int32Array(rows);
  }

  get bytes(): number {
    return this.memory.buffer.byteLength + this.rowIds.byteLength + this.offsets.byteLength;
  }

  /** Builds the index over a snapshot of the source's rows, yielding to the event loop between chunks. */
  static async build(src: IvfSource, opts: IvfBuildOptions = {}): Promise<IvfIndex> {
    const n = src.count;
    const coarse = opts.coarse ?? Math.max(2, Math.min(64, Math.round(Math.sqrt(Math.sqrt(n)))));
    const ivf = new IvfIndex(src.dims, src.i8Stride, coarse, n);
    await ivf.train(src, opts);
    const listOf = await ivf.assign(src, opts);
    // Copy phase, synchronous: slots may have moved or gone while we yielded, so ids and codes are read now.
    const count = Math.min(n, src.currentCount());
    const sizes = new Int32Array(ivf.lists);
    for (let s = 0; s < count; s++) sizes[listOf[s]]++;
    for (let l = 0; l < ivf.lists; l++) ivf.offsets[l + 1] = ivf.offsets[l] + sizes[l];
    const cursor = ivf.offsets.slice(0, ivf.lists);
    const bytes = new Uint8Array(ivf.memory.buffer);
    for (let s = 0; s < count; s++) {
      const at = cursor[listOf[s]]++;
      bytes.set(src.i8Row(s), ivf.rowsPtr + at * ivf.i8Stride);
      ivf.rowIds[at] = src.idOf(s);
    }
    opts.onProgress?.(n, n, 'ann');
    return ivf;
  }

  private f32(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }

  private centroid(c: number): number {
    return this.centroidsPtr + c * this.f32Stride * 4;
  }

  /** Scores of a normalised vector against `count` consecutive centroids from `first` (in the scratch area). */
  private scoreCentroids(v: Float32Array, first: number, count: number): Float32Array {
    const f = this.f32();
    f.set(v.subarray(0, this.dims), this.qF32 >> 2);
    this.kernel.dotF32(this.qF32, this.centroid(first), count, this.f32Stride, this.scratch);
    return f.subarray(this.scratch >> 2, (this.scratch >> 2) + count);
  }

  private static argmax(scores: Float32Array): number {
    let best = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
    return best;
  }

  /**
   * Spherical k-means of the sample rows into `k` centroids starting at centroid index `first`, yielding every
   * few thousand rows so a build in the engine process never blocks it for long.
   */
  private async kmeans(
    src: IvfSource,
    sample: number[],
    first: number,
    k: number,
    iterations: number,
    signal?: AbortSignal,
  ): Promise<Int32Array> {
    const d = this.dims;
    const f = this.f32();
    const write = (c: number, v: ArrayLike<number>): void => {
      const base = this.centroid(first + c) >> 2;
      for (let j = 0; j < d; j++) f[base + j] = v[j];
    };
    // Initialise from rows spread through the sample (deterministic).
    for (let c = 0; c < k; c++) {
      if (sample.length === 0) write(c, new Float32Array(d));
      else write(c, src.f32Row(sample[Math.floor(((c + 0.5) * sample.length) / k)]));
    }
    const assignment = new Int32Array(sample.length);
    const sums = new Float64Array(k * d);
    const counts = new Int32Array(k);
    for (let it = 0; it < iterations; it++) {
      sums.fill(0);
      counts.fill(0);
      for (let i = 0; i < sample.length; i++) {
        if (i % 8192 === 8191) {
          signal?.throwIfAborted();
          await yieldNow();
        }
        const v = src.f32Row(sample[i]);
        const c = IvfIndex.argmax(this.scoreCentroids(v, first, k));
        assignment[i] = c;
        counts[c]++;
        const base = c * d;
        for (let j = 0; j < d; j++) sums[base + j] += v[j];
      }
      for (let c = 0; c < k; c++) {
        if (counts[c] === 0) continue; // an empty centroid keeps its place
        let norm = 0;
        for (let j = 0; j < d; j++) norm += sums[c * d + j] ** 2;
        const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
        write(
          c,
          Array.from({ length: d }, (_, j) => sums[c * d + j] * inv),
        );
      }
    }
    return assignment;
  }

  private async train(src: IvfSource, opts: IvfBuildOptions): Promise<void> {
    const n = src.count;
    const k = this.coarse;
    const iterations = opts.iterations ?? 8;
    // Sample about 64 rows per fine list, evenly strided (deterministic).
    const sampleSize = Math.min(n, Math.max(64 * this.lists, 4 * k));
    const sample = Array.from({ length: sampleSize }, (_, i) => Math.floor((i * n) / sampleSize));
    opts.onProgress?.(0, n, 'ann');
    const top = await this.kmeans(src, sample, 0, k, iterations, opts.signal);
    await yieldNow();
    for (let c = 0; c < k; c++) {
      opts.signal?.throwIfAborted();
      const members = sample.filter((_, i) => top[i] === c);
      await this.kmeans(src, members, this.fineFirst + c * k, k, iterations, opts.signal);
      await yieldNow();
    }
  }

  /** The list (fine centroid) of each row: best of the fine centroids under its two nearest coarse ones. */
  private async assign(src: IvfSource, opts: IvfBuildOptions): Promise<Int32Array> {
    const n = src.count;
    const k = this.coarse;
    const listOf = new Int32Array(n);
    const chunk = 4096;
    for (let start = 0; start < n; start += chunk) {
      opts.signal?.throwIfAborted();
      const end = Math.min(n, start + chunk);
      for (let s = start; s < end; s++) {
        const v = src.f32Row(s);
        const coarseScores = this.scoreCentroids(v, 0, k);
        let a = 0;
        let b = -1;
        for (let c = 1; c < k; c++) {
          if (coarseScores[c] > coarseScores[a]) {
            b = a;
            a = c;
          } else if (b < 0 || coarseScores[c] > coarseScores[b]) b = c;
        }
        let bestList = 0;
        let bestScore = -Infinity;
        for (const c of b < 0 ? [a] : [a, b]) {
          const fine = this.scoreCentroids(v, this.fineFirst + c * k, k);
          for (let f = 0; f < k; f++) {
            if (fine[f] > bestScore) {
              bestScore = fine[f];
              bestList = c * k + f;
            }
          }
        }
        listOf[s] = bestList;
      }
      opts.onProgress?.(end, n, 'ann');
      await yieldNow();
    }
    return listOf;
  }

  /**
   * Approximate top `keep` of a normalised query among the indexed rows: cell ids and int8 scores (unsorted).
   * Scans the `probes` lists whose centroids are nearest the query.
   */
  search(query: Float32Array, keep: number, probes: number): { ids: Int32Array; scores: Float32Array } {
    const lists = this.scoreCentroids(query, this.fineFirst, this.lists);
    const order = new TopK(
      new Float32Array(Math.min(probes, this.lists)),
      new Int32Array(Math.min(probes, this.lists)),
    );
    for (let l = 0; l < this.lists; l++) if (this.offsets[l + 1] > this.offsets[l]) order.push(lists[l], l);
    const probed = order.slots.slice(0, order.size);
    // int16 query codes, zero-padded to the int8 stride (as VectorIndex.writeQueries).
    const d = this.dims;
    const q16 = new Int16Array(this.memory.buffer, this.qI16, this.i8Stride);
    q16.fill(0);
    let maxAbs = 0;
    for (let j = 0; j < d; j++) maxAbs = Math.max(maxAbs, Math.abs(query[j]));
    const quant = maxAbs > 0 ? 16383 / maxAbs : 0;
    for (let j = 0; j < d; j++) q16[j] = Math.round(query[j] * quant);
    const scores = new Float32Array(keep);
    const positions = new Int32Array(keep);
    const heap = new TopK(scores, positions);
    const out = new Int32Array(this.memory.buffer, this.scratch, BLOCK_ROWS);
    const scales = new Float32Array(this.memory.buffer);
    const scaleOffset = alignUp(d, 4);
    for (const l of probed) {
      for (let start = this.offsets[l]; start < this.offsets[l + 1]; start += BLOCK_ROWS) {
        const count = Math.min(BLOCK_ROWS, this.offsets[l + 1] - start);
        const rowsPtr = this.rowsPtr + start * this.i8Stride;
        this.kernel.dotI8(this.qI16, rowsPtr, count, this.i8Stride, this.scratch);
        let scaleIndex = (rowsPtr + scaleOffset) >> 2;
        const step = this.i8Stride >> 2;
        for (let i = 0; i < count; i++, scaleIndex += step) heap.push(out[i] * scales[scaleIndex], start + i);
      }
    }
    const ids = new Int32Array(heap.size);
    for (let i = 0; i < heap.size; i++) ids[i] = this.rowIds[positions[i]];
    return { ids, scores: scores.slice(0, heap.size) };
  }
}
