import usearch, { type Index as AnnIndex } from 'usearch';
import { instantiateDotKernel, KERNEL_MAX_PAGES, KERNEL_STRIDE_ALIGN, type DotKernel } from './dot-kernel';
import { defaultWorkerCount, KnnPool, type ScanResult, type ScanTask } from './knn-pool';
import { IvfIndex } from './ivf';
import { TopK } from './top-k';

/**
 * Cosine nearest-neighbour index over cell embeddings.
 *
 * Storage: every vector is L2-normalised once on add and kept twice in shared wasm memories:
 * - float32 rows (the truth, used for exact scores and the linear-probe matvec);
 * - int8 rows with a per-row float32 scale (a quarter of the bytes, scanned first).
 * Slots are dense: removal moves the last row into the freed slot, so scans never skip holes.
 *
 * Search paths:
 * - small index (< `workerThreshold` rows): float32 scan on the calling thread, exact;
 * - large index: int8 scan split across the worker pool, then the best `rescore` candidates per query are rescored
 *   in float32 (exact scores; recall of the true top-k is ~1 for rescore >= 10k, measured in bench/search-1m.ts);
 * - `precision: 'fp32'`: float32 scan across the pool (exact ranking, ~2x the int8 time);
 * - very large index with the ANN built (`buildAnn`): by default an IVF over the int8 codes (ivf.ts: the
 *   `annProbes` lists nearest the query are scanned, the best `rescore` candidates rescored in float32); vectors
 *   added after the build are scanned exactly until more than `annPendingLimit` of them make the ANN not ready
 *   (the caller rebuilds it). `annKind: 'hnsw'` uses a usearch HNSW graph instead (over-fetching `annOverfetch` x
 *   k, rescored in float32), kept in step by add/remove.
 *
 * Limits: each memory is one wasm32 address space (4 GiB), so at most ~2.6 M rows of 384 dims (float32 copy).
 * Concurrency: add/remove are synchronous and must not overlap a pending async search (the engine serialises
 * index mutations with searches); scans read slots that a concurrent removal may move.
 */

export interface SearchOptions {
  /** Candidate count rescored in float32 after an int8 or ANN pass (default 100, at least k). */
  rescore?: number;
  precision?: 'int8' | 'fp32';
  /** Force a brute-force scan even when the ANN is built. */
  exact?: boolean;
  /** IVF lists scanned for this search (default: the index's `annProbes`). */
  probes?: number;
  /**
   * Cell ids never returned (e.g. the query cells themselves, labeled cells). The scan over-fetches by the set's
   * size up to 2000, so with a larger set a query may return fewer than k cells.
   */
  exclude?: ReadonlySet<number>;
}

export interface SearchResult {
  ids: Int32Array;
  scores: Float32Array;
}

/** Row-major results of `searchMany`: `ids[q * k + j]`, -1 (score NaN) where fewer than k cells exist. */
export interface BatchSearchResult {
  k: number;
  ids: Int32Array;
  scores: Float32Array;
}

/** Per stored cell (slot order, see `ids`): class row indexes, not class ids. */
export interface LinearPrediction {
  ids: Int32Array;
  predicted: Int32Array;
  probability: Float32Array;
  /** Top-1 minus top-2 probability. */
  margin: Float32Array;
  /** Second most probable class row (-1 with one class). */
  runnerUp: Int32Array;
  /** Entropy of the softmax distribution in nats. */
  entropy: Float32Array;
}

export interface VectorIndexOptions {
  workers?: number;
  /**
   * Upper bound on stored vectors. Shared wasm memories reserve address space for their maximum up front
   * (4 GiB each by default); short-lived indexes over a known set (labeled cells) should pass their size.
   */
  maxVectors?: number;
  /** Row count from which scans run in the worker pool (default 20 000). */
  workerThreshold?: number;
  /** Row count from which a built ANN answers non-exact searches (default 200 000). */
  annThreshold?: number;
  /** ANN candidates per requested neighbour before float32 rescoring (default 4). */
  annOverfetch?: number;
  annExpansionSearch?: number;
  annConnectivity?: number;
  annExpansionAdd?: number;
  /** Scalar type of the HNSW copy; candidates are rescored in float32 either way (default 'i8'). */
  annQuantization?: 'i8' | 'f16' | 'f32';
  /** ANN structure (default 'ivf'; see ivf.ts for why). */
  annKind?: 'ivf' | 'hnsw';
  /** IVF lists scanned per query (default 16). */
  annProbes?: number;
  /** IVF: vectors added after the build that are still scanned exactly; beyond this the ANN reports not ready. */
  annPendingLimit?: number;
}

export interface ProgressOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

const PAGE = 65536;
const MAX_BATCH_QUERIES = 32;
const BLOCK_ROWS = 1024;
const MAX_EXCLUDE_OVERFETCH = 2000;
/** Class weight rows reserved in the float32 memory for `linearScores`. */
export const MAX_PROBE_CLASSES = 256;

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

interface Layout {
  stride: number;
  rowBytes: number;
  queryArea: [number, number];
  scratch: number[];
  weights: number;
  rows: number;
}

export class VectorIndex {
  readonly dims: number;
  private readonly options: Required<VectorIndexOptions>;
  private readonly i8Memory: WebAssembly.Memory;
  private readonly f32Memory: WebAssembly.Memory;
  private readonly i8Kernel: DotKernel;
  private readonly f32Kernel: DotKernel;
  private readonly i8: Layout;
  private readonly f32: Layout;
  /** Byte offset of the float32 scale inside an int8 row (after the codes, 4-byte aligned). */
  private readonly scaleOffset: number;
  private capacity = 0;
  private count = 0;
  private slotIds = new Int32Array(0);
  private readonly slotOf = new Map<number, number>();
  private pool: KnnPool | undefined;
  private ann: AnnIndex | undefined;
  private ivf: IvfIndex | undefined;
  /** Ids added or replaced since the IVF build started (not in it, or with stale codes there). */
  private readonly ivfPending = new Set<number>();
  private annBuilding = false;
  private poolQueue: Promise<unknown> = Promise.resolve();

  constructor(dims: number, options: VectorIndexOptions = {}) {
    if (!Number.isInteger(dims) || dims <= 0) throw new Error(`VectorIndex: invalid dims ${dims}`);
    this.dims = dims;
    this.options = {
      workers: options.workers ?? defaultWorkerCount(),
      maxVectors: options.maxVectors ?? Number.POSITIVE_INFINITY,
      workerThreshold: options.workerThreshold ?? 20_000,
      annThreshold: options.annThreshold ?? 200_000,
      annOverfetch: options.annOverfetch ?? 4,
      annExpansionSearch: options.annExpansionSearch ?? 128,
      annConnectivity: options.annConnectivity ?? 16,
      annExpansionAdd: options.annExpansionAdd ?? 64,
      annQuantization: options.annQuantization ?? 'i8',
      annKind: options.annKind ?? 'ivf',
      annProbes: options.annProbes ?? 16,
      annPendingLimit: options.annPendingLimit ?? 2048,
    };
    const scratchSlots = this.options.workers + 1;
    this.scaleOffset = alignUp(dims, 4);
    const i8Stride = alignUp(this.scaleOffset + 4, KERNEL_STRIDE_ALIGN);
    this.i8 = this.layout(i8Stride, i8Stride, 2, scratchSlots, 0);
    const f32Stride = alignUp(dims, KERNEL_STRIDE_ALIGN);
    this.f32 = this.layout(f32Stride, f32Stride * 4, 4, scratchSlots, MAX_PROBE_CLASSES);
    const maxPages = (layout: Layout): number =>
      Math.min(KERNEL_MAX_PAGES, Math.ceil((layout.rows + this.options.maxVectors * layout.rowBytes) / PAGE));
    this.i8Memory = new WebAssembly.Memory({
      initial: this.i8.rows / PAGE,
      maximum: maxPages(this.i8),
      shared: true,
    });
    this.f32Memory = new WebAssembly.Memory({
      initial: this.f32.rows / PAGE,
      maximum: maxPages(this.f32),
      shared: true,
    });
    this.i8Kernel = instantiateDotKernel(this.i8Memory);
    this.f32Kernel = instantiateDotKernel(this.f32Memory);
  }

  private layout(
    stride: number,
    rowBytes: number,
    queryElementBytes: number,
    slots: number,
    classes: number,
  ): Layout {
    const queryBytes = MAX_BATCH_QUERIES * stride * queryElementBytes;
    const queryArea: [number, number] = [0, queryBytes];
    let offset = 2 * queryBytes;
    const scratch: number[] = [];
    const scratchBytes = Math.max(BLOCK_ROWS, MAX_PROBE_CLASSES) * 4;
    for (let s = 0; s < slots; s++) {
      scratch.push(offset);
      offset += scratchBytes;
    }
    const weights = offset;
    offset += classes * rowBytes;
    return { stride, rowBytes, queryArea, scratch, weights, rows: alignUp(offset, PAGE) };
  }

  get size(): number {
    return this.count;
  }

  get annReady(): boolean {
    if (this.annBuilding) return false;
    if (this.ivf) return this.ivfPending.size <= this.options.annPendingLimit;
    return this.ann !== undefined;
  }

  has(id: number): boolean {
    return this.slotOf.has(id);
  }

  /** Cell ids in slot order (a copy). */
  ids(): Int32Array {
    return this.slotIds.slice(0, this.count);
  }

  private ensureCapacity(rows: number): void {
    if (rows <= this.capacity) return;
    if (rows > this.options.maxVectors) {
      throw new Error(`VectorIndex: ${rows} vectors exceed maxVectors ${this.options.maxVectors}`);
    }
    const capacity = Math.min(Math.max(rows, this.capacity * 2, 1024), this.options.maxVectors);
    for (const [memory, layout] of [
      [this.i8Memory, this.i8],
      [this.f32Memory, this.f32],
    ] as const) {
      const pages = Math.ceil((layout.rows + capacity * layout.rowBytes) / PAGE);
      if (pages > KERNEL_MAX_PAGES) {
        throw new Error(
          `VectorIndex: ${capacity} vectors of ${this.dims} dims exceed the 4 GiB wasm memory limit`,
        );
      }
      const current = memory.buffer.byteLength / PAGE;
      if (pages > current) memory.grow(pages - current);
    }
    const ids = new Int32Array(capacity);
    ids.set(this.slotIds.subarray(0, this.count));
    this.slotIds = ids;
    this.capacity = capacity;
  }

  private f32View(): Float32Array {
    return new Float32Array(this.f32Memory.buffer);
  }

  /** Writes one normalised row (float32 and int8 copies) into a slot. */
  private writeRow(slot: number, source: Float32Array, offset: number): void {
    const d = this.dims;
    let norm = 0;
    for (let j = 0; j < d; j++) norm += source[offset + j] * source[offset + j];
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const f = this.f32View();
    const fBase = (this.f32.rows + slot * this.f32.rowBytes) >> 2;
    let maxAbs = 0;
    for (let j = 0; j < d; j++) {
      const v = source[offset + j] * inv;
      f[fBase + j] = v;
      if (Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
    }
    const i8 = new Int8Array(this.i8Memory.buffer);
    const iBase = this.i8.rows + slot * this.i8.rowBytes;
    const quant = maxAbs > 0 ? 127 / maxAbs : 0;
    for (let j = 0; j < d; j++) i8[iBase + j] = Math.round(f[fBase + j] * quant);
    new DataView(this.i8Memory.buffer).setFloat32(iBase + this.scaleOffset, maxAbs / 127, true);
  }

  private copyRow(from: number, to: number): void {
    const f = new Uint8Array(this.f32Memory.buffer);
    const fr = this.f32.rows;
    f.copyWithin(
      fr + to * this.f32.rowBytes,
      fr + from * this.f32.rowBytes,
      fr + (from + 1) * this.f32.rowBytes,
    );
    const i = new Uint8Array(this.i8Memory.buffer);
    const ir = this.i8.rows;
    i.copyWithin(
      ir + to * this.i8.rowBytes,
      ir + from * this.i8.rowBytes,
      ir + (from + 1) * this.i8.rowBytes,
    );
  }

  /** Adds or replaces vectors (N x dims, row-major) for the given cell ids. */
  add(ids: ArrayLike<number>, vectors: Float32Array): void {
    const n = ids.length;
    if (vectors.length !== n * this.dims) {
      throw new Error(`VectorIndex.add: ${vectors.length} values for ${n} ids of ${this.dims} dims`);
    }
    this.ensureCapacity(this.count + n);
    const annKeys: number[] = [];
    const annRows: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff)
        throw new Error(`VectorIndex.add: invalid id ${id}`);
      let slot = this.slotOf.get(id);
      if (slot === undefined) {
        slot = this.count++;
        this.slotOf.set(id, slot);
        this.slotIds[slot] = id;
      } else if (this.ann) {
        this.ann.remove(BigInt(id));
      }
      this.writeRow(slot, vectors, i * this.dims);
      if (this.ivf || (this.annBuilding && this.options.annKind === 'ivf')) this.ivfPending.add(id);
      annKeys.push(id);
      annRows.push(slot);
    }
    if (this.ann && !this.annBuilding) this.annAdd(annKeys, annRows);
  }

  remove(ids: ArrayLike<number>): number {
    let removed = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const slot = this.slotOf.get(id);
      if (slot === undefined) continue;
      const last = this.count - 1;
      if (slot !== last) {
        this.copyRow(last, slot);
        const movedId = this.slotIds[last];
        this.slotIds[slot] = movedId;
        this.slotOf.set(movedId, slot);
      }
      this.slotOf.delete(id);
      this.count--;
      removed++;
      if (this.ann) this.ann.remove(BigInt(id));
    }
    return removed;
  }

  /** The stored (normalised) vector of a cell, or undefined. */
  vector(id: number): Float32Array | undefined {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return undefined;
    const base = (this.f32.rows + slot * this.f32.rowBytes) >> 2;
    return this.f32View().slice(base, base + this.dims);
  }

  /** Stored normalised vectors of the given cells, row-major (zeros for unknown ids). */
  vectors(ids: ArrayLike<number>): Float32Array {
    const out = new Float32Array(ids.length * this.dims);
    const f = this.f32View();
    for (let i = 0; i < ids.length; i++) {
      const slot = this.slotOf.get(ids[i]);
      if (slot === undefined) continue;
      const base = (this.f32.rows + slot * this.f32.rowBytes) >> 2;
      out.set(f.subarray(base, base + this.dims), i * this.dims);
    }
    return out;
  }

  private normalizedQueries(queries: Float32Array): Float32Array {
    const d = this.dims;
    if (queries.length % d !== 0)
      throw new Error(`VectorIndex: query length ${queries.length} not a multiple of ${d}`);
    const out = new Float32Array(queries.length);
    for (let q = 0; q < queries.length / d; q++) {
      let norm = 0;
      for (let j = 0; j < d; j++) norm += queries[q * d + j] ** 2;
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let j = 0; j < d; j++) out[q * d + j] = queries[q * d + j] * inv;
    }
    return out;
  }

  /** Writes up to MAX_BATCH_QUERIES queries into a query area; int8 queries are int16 codes, zero-padded. */
  private writeQueries(
    kind: 'i8' | 'f32',
    area: number,
    queries: Float32Array,
    first: number,
    n: number,
  ): number {
    const d = this.dims;
    if (kind === 'f32') {
      const layout = this.f32;
      const ptr = layout.queryArea[area];
      const view = new Float32Array(this.f32Memory.buffer, ptr, n * layout.stride);
      view.fill(0);
      for (let q = 0; q < n; q++)
        view.set(queries.subarray((first + q) * d, (first + q + 1) * d), q * layout.stride);
      return ptr;
    }
    const layout = this.i8;
    const ptr = layout.queryArea[area];
    const view = new Int16Array(this.i8Memory.buffer, ptr, n * layout.stride);
    view.fill(0);
    for (let q = 0; q < n; q++) {
      const row = queries.subarray((first + q) * d, (first + q + 1) * d);
      let maxAbs = 0;
      for (let j = 0; j < d; j++) maxAbs = Math.max(maxAbs, Math.abs(row[j]));
      // int15 keeps the int32 lane sums of dot_i16x8 below overflow up to ~4096 dims.
      const quant = maxAbs > 0 ? 16383 / maxAbs : 0;
      for (let j = 0; j < d; j++) view[q * layout.stride + j] = Math.round(row[j] * quant);
    }
    return ptr;
  }

  private scanTasks(
    kind: 'i8' | 'f32',
    queryPtr: number,
    queryCount: number,
    keep: number,
    parts: number,
    scratch: number[],
  ): ScanTask[] {
    const layout = kind === 'i8' ? this.i8 : this.f32;
    const tasks: ScanTask[] = [];
    const per = Math.ceil(this.count / parts / BLOCK_ROWS) * BLOCK_ROWS;
    for (let p = 0; p < parts; p++) {
      const rowStart = p * per;
      const rowEnd = Math.min(this.count, rowStart + per);
      if (rowStart >= rowEnd) break;
      tasks.push({
        type: 'scan',
        kind,
        queryPtr,
        queryCount,
        stride: layout.stride,
        rowsPtr: layout.rows,
        rowStart,
        rowEnd,
        block: BLOCK_ROWS,
        scratchPtr: scratch[p],
        keep,
        scaleOffset: this.scaleOffset,
      });
    }
    return tasks;
  }

  /** The same scan as a worker runs, on the calling thread (used below the worker threshold and by *Sync). */
  private scanHere(task: ScanTask): ScanResult {
    const kernel = task.kind === 'i8' ? this.i8Kernel : this.f32Kernel;
    const buffer = (task.kind === 'i8' ? this.i8Memory : this.f32Memory).buffer;
    const keep = task.keep;
    const scores = new Float32Array(task.queryCount * keep);
    const slots = new Int32Array(task.queryCount * keep);
    const sizes = new Int32Array(task.queryCount);
    const out =
      task.kind === 'i8'
        ? new Int32Array(buffer, task.scratchPtr, task.block)
        : new Float32Array(buffer, task.scratchPtr, task.block);
    const scales = new Float32Array(buffer);
    const rowBytes = task.kind === 'i8' ? task.stride : task.stride * 4;
    const queryBytes = task.kind === 'i8' ? task.stride * 2 : task.stride * 4;
    for (let start = task.rowStart; start < task.rowEnd; start += task.block) {
      const n = Math.min(task.block, task.rowEnd - start);
      const rowsPtr = task.rowsPtr + start * rowBytes;
      for (let q = 0; q < task.queryCount; q++) {
        if (task.kind === 'i8')
          kernel.dotI8(task.queryPtr + q * queryBytes, rowsPtr, n, task.stride, task.scratchPtr);
        else kernel.dotF32(task.queryPtr + q * queryBytes, rowsPtr, n, task.stride, task.scratchPtr);
        const heap = new TopK(
          scores.subarray(q * keep, (q + 1) * keep),
          slots.subarray(q * keep, (q + 1) * keep),
        );
        heap.size = sizes[q];
        if (task.kind === 'i8') {
          let scaleIndex = (rowsPtr + task.scaleOffset) >> 2;
          const step = rowBytes >> 2;
          for (let i = 0; i < n; i++, scaleIndex += step) heap.push(out[i] * scales[scaleIndex], start + i);
        } else {
          for (let i = 0; i < n; i++) heap.push(out[i], start + i);
        }
        sizes[q] = heap.size;
      }
    }
    return { scores, slots, sizes };
  }

  private getPool(): KnnPool {
    this.pool ??= new KnnPool(this.i8Memory, this.f32Memory, this.options.workers);
    return this.pool;
  }

  /** Exact float32 cosine of a normalised query against a slot. */
  private exactScore(query: Float32Array, qOffset: number, slot: number, f: Float32Array): number {
    const base = (this.f32.rows + slot * this.f32.rowBytes) >> 2;
    let s = 0;
    for (let j = 0; j < this.dims; j++) s += query[qOffset + j] * f[base + j];
    return s;
  }

  /** Rescores candidate slots of one query, drops excluded ids and writes the best k into the output. */
  private finish(
    candidates: Iterable<number>,
    query: Float32Array,
    q: number,
    k: number,
    exclude: ReadonlySet<number> | undefined,
    out: BatchSearchResult,
    rescore: boolean,
    givenScores?: Map<number, number>,
  ): void {
    const f = this.f32View();
    const scored: { slot: number; score: number }[] = [];
    for (const slot of candidates) {
      if (slot < 0 || slot >= this.count) continue;
      if (exclude?.has(this.slotIds[slot])) continue;
      const score =
        rescore || !givenScores ? this.exactScore(query, q * this.dims, slot, f) : givenScores.get(slot)!;
      scored.push({ slot, score });
    }
    scored.sort((a, b) => b.score - a.score || this.slotIds[a.slot] - this.slotIds[b.slot]);
    for (let j = 0; j < k; j++) {
      const hit = scored[j];
      out.ids[q * k + j] = hit ? this.slotIds[hit.slot] : -1;
      out.scores[q * k + j] = hit ? hit.score : Number.NaN;
    }
  }

  private plan(k: number, opts: SearchOptions): { kind: 'i8' | 'f32'; keep: number; useAnn: boolean } {
    // Over-fetch to cover excluded cells, bounded so a huge exclusion set (every labeled cell) cannot turn each
    // query into a full sort; beyond the bound fewer than k results may come back.
    const excluded = Math.min(opts.exclude?.size ?? 0, MAX_EXCLUDE_OVERFETCH);
    const useAnn = !opts.exact && this.annReady && this.count >= this.options.annThreshold;
    const smallIndex = this.count < this.options.workerThreshold;
    const kind = opts.precision === 'fp32' || smallIndex ? 'f32' : 'i8';
    const wanted = k + excluded;
    const keep = kind === 'i8' ? Math.max(wanted, (opts.rescore ?? 100) + excluded) : wanted;
    return { kind, keep: Math.min(keep, Math.max(this.count, 1)), useAnn };
  }

  /** Top-k cosine neighbours of each query (Q x dims, row-major), on worker threads for large indexes. */
  async searchMany(queries: Float32Array, k: number, opts: SearchOptions = {}): Promise<BatchSearchResult> {
    const normalized = this.normalizedQueries(queries);
    const queryCount = normalized.length / this.dims;
    const out: BatchSearchResult = {
      k,
      ids: new Int32Array(queryCount * k).fill(-1),
      scores: new Float32Array(queryCount * k).fill(Number.NaN),
    };
    if (this.count === 0 || k <= 0) return out;
    const { kind, keep, useAnn } = this.plan(k, opts);
    if (useAnn) {
      this.annSearch(normalized, queryCount, k, opts, out);
      return out;
    }
    if (this.count < this.options.workerThreshold) return this.searchManySync(queries, k, opts);
    return this.serialize(async () => {
      const pool = this.getPool();
      for (let first = 0; first < queryCount; first += MAX_BATCH_QUERIES) {
        const n = Math.min(MAX_BATCH_QUERIES, queryCount - first);
        const ptr = this.writeQueries(kind, 0, normalized, first, n);
        const layout = kind === 'i8' ? this.i8 : this.f32;
        const tasks = this.scanTasks(kind, ptr, n, keep, pool.size, layout.scratch);
        const parts = await pool.run(tasks);
        this.merge(parts, normalized, first, n, keep, k, kind === 'i8', opts, out);
      }
      return out;
    });
  }

  /**
   * Runs async pool work one call at a time: the pool's query area and the probe weight area are single
   * buffers, so a second search must not write its queries while the first one's workers still read them.
   */
  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.poolQueue.then(work);
    this.poolQueue = run.catch(() => undefined);
    return run;
  }

  /** As searchMany, entirely on the calling thread (blocking); for small indexes and labeled-set lookups. */
  searchManySync(queries: Float32Array, k: number, opts: SearchOptions = {}): BatchSearchResult {
    const normalized = this.normalizedQueries(queries);
    const queryCount = normalized.length / this.dims;
    const out: BatchSearchResult = {
      k,
      ids: new Int32Array(queryCount * k).fill(-1),
      scores: new Float32Array(queryCount * k).fill(Number.NaN),
    };
    if (this.count === 0 || k <= 0) return out;
    const { kind, keep, useAnn } = this.plan(k, opts);
    if (useAnn) {
      this.annSearch(normalized, queryCount, k, opts, out);
      return out;
    }
    const layout = kind === 'i8' ? this.i8 : this.f32;
    const mainScratch = layout.scratch[layout.scratch.length - 1];
    for (let first = 0; first < queryCount; first += MAX_BATCH_QUERIES) {
      const n = Math.min(MAX_BATCH_QUERIES, queryCount - first);
      const ptr = this.writeQueries(kind, 1, normalized, first, n);
      const [task] = this.scanTasks(kind, ptr, n, keep, 1, [mainScratch]);
      this.merge([this.scanHere(task)], normalized, first, n, keep, k, kind === 'i8', opts, out);
    }
    return out;
  }

  private merge(
    parts: ScanResult[],
    normalized: Float32Array,
    first: number,
    n: number,
    keep: number,
    k: number,
    rescore: boolean,
    opts: SearchOptions,
    out: BatchSearchResult,
  ): void {
    for (let q = 0; q < n; q++) {
      const given = new Map<number, number>();
      for (const part of parts) {
        for (let j = 0; j < part.sizes[q]; j++)
          given.set(part.slots[q * keep + j], part.scores[q * keep + j]);
      }
      this.finish(given.keys(), normalized, first + q, k, opts.exclude, out, rescore, given);
    }
  }

  async search(query: Float32Array, k: number, opts: SearchOptions = {}): Promise<SearchResult> {
    return trimSingle(await this.searchMany(query, k, opts));
  }

  searchSync(query: Float32Array, k: number, opts: SearchOptions = {}): SearchResult {
    return trimSingle(this.searchManySync(query, k, opts));
  }

  private annSearch(
    normalized: Float32Array,
    queryCount: number,
    k: number,
    opts: SearchOptions,
    out: BatchSearchResult,
  ): void {
    if (this.ivf) {
      this.ivfSearch(this.ivf, normalized, queryCount, k, opts, out);
      return;
    }
    const ann = this.ann!;
    const excluded = Math.min(opts.exclude?.size ?? 0, MAX_EXCLUDE_OVERFETCH);
    const fetch = Math.min(this.count, (k + excluded) * this.options.annOverfetch);
    for (let q = 0; q < queryCount; q++) {
      const matches = ann.search(normalized.subarray(q * this.dims, (q + 1) * this.dims), fetch, 1);
      const slots: number[] = [];
      for (const key of matches.keys) {
        const slot = this.slotOf.get(Number(key));
        if (slot !== undefined) slots.push(slot);
      }
      this.finish(slots, normalized, q, k, opts.exclude, out, true);
    }
  }

  private ivfSearch(
    ivf: IvfIndex,
    normalized: Float32Array,
    queryCount: number,
    k: number,
    opts: SearchOptions,
    out: BatchSearchResult,
  ): void {
    const excluded = Math.min(opts.exclude?.size ?? 0, MAX_EXCLUDE_OVERFETCH);
    const keep = Math.max(k, opts.rescore ?? 100) + excluded;
    for (let q = 0; q < queryCount; q++) {
      const found = ivf.search(
        normalized.subarray(q * this.dims, (q + 1) * this.dims),
        keep,
        opts.probes ?? this.options.annProbes,
      );
      const slots = new Set<number>();
      for (const id of found.ids) {
        const slot = this.slotOf.get(id);
        if (slot !== undefined) slots.add(slot);
      }
      for (const id of this.ivfPending) {
        const slot = this.slotOf.get(id);
        if (slot !== undefined) slots.add(slot);
      }
      this.finish(slots, normalized, q, k, opts.exclude, out, true);
    }
  }

  private annAdd(keys: number[], slots: number[]): void {
    const ann = this.ann!;
    const batch = new Float32Array(keys.length * this.dims);
    const f = this.f32View();
    for (let i = 0; i < slots.length; i++) {
      const base = (this.f32.rows + slots[i] * this.f32.rowBytes) >> 2;
      batch.set(f.subarray(base, base + this.dims), i * this.dims);
    }
    if (keys.length > 0)
      ann.add(
        BigUint64Array.from(keys, (k) => BigInt(k)),
        batch,
        0,
      );
  }

  /**
   * Builds the HNSW graph over all current vectors in batches, yielding between batches so progress and
   * cancellation work; afterwards add/remove keep it in step. Searches stay exact until the build completes.
   */
  async buildAnn(opts: ProgressOptions & { batchSize?: number } = {}): Promise<void> {
    if (this.options.annKind === 'ivf') return this.buildIvf(opts);
    const ann = new usearch.Index({
      dimensions: this.dims,
      metric: usearch.MetricKind.IP,
      quantization: {
        i8: usearch.ScalarKind.I8,
        f16: usearch.ScalarKind.F16,
        f32: usearch.ScalarKind.F32,
      }[this.options.annQuantization],
      connectivity: this.options.annConnectivity,
      expansion_add: this.options.annExpansionAdd,
      expansion_search: this.options.annExpansionSearch,
      multi: false,
    });
    this.ann = ann;
    this.annBuilding = true;
    try {
      const batch = opts.batchSize ?? 20_000;
      let done = 0;
      while (done < this.count) {
        if (opts.signal?.aborted) throw new Error('buildAnn cancelled');
        const end = Math.min(this.count, done + batch);
        const keys: number[] = [];
        const slots: number[] = [];
        for (let s = done; s < end; s++) {
          keys.push(this.slotIds[s]);
          slots.push(s);
        }
        this.annAdd(keys, slots);
        done = end;
        opts.onProgress?.(done, this.count, 'ann');
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      this.ann = undefined;
      throw error;
    } finally {
      this.annBuilding = false;
    }
  }

  /** IVF build (ivf.ts) over the current rows; vectors added meanwhile stay pending (scanned exactly). */
  private async buildIvf(opts: ProgressOptions): Promise<void> {
    if (this.annBuilding) throw new Error('buildAnn: a build is already running');
    this.annBuilding = true;
    this.ivfPending.clear();
    try {
      const f32Row = (slot: number): Float32Array => {
        const base = (this.f32.rows + slot * this.f32.rowBytes) >> 2;
        return this.f32View().subarray(base, base + this.dims);
      };
      this.ivf = await IvfIndex.build(
        {
          dims: this.dims,
          count: this.count,
          i8Stride: this.i8.stride,
          f32Row,
          i8Row: (slot) =>
            new Uint8Array(this.i8Memory.buffer, this.i8.rows + slot * this.i8.rowBytes, this.i8.rowBytes),
          idOf: (slot) => this.slotIds[slot],
          currentCount: () => this.count,
        },
        { signal: opts.signal, onProgress: opts.onProgress },
      );
      this.ann = undefined;
    } catch (error) {
      // Cells added before this build began were cleared from the pending set: an older IVF would miss them.
      this.ivf = undefined;
      this.ivfPending.clear();
      throw error;
    } finally {
      this.annBuilding = false;
    }
  }

  dropAnn(): void {
    this.ann = undefined;
    this.ivf = undefined;
    this.ivfPending.clear();
  }

  /**
   * Linear scores for every stored cell: softmax over W·x + b (W: classes x dims row-major, applied to the stored
   * normalised vectors), on the worker pool. Returns the top class, its probability and top1 - top2 probability.
   */
  async linearPredict(weights: Float32Array, bias: Float32Array): Promise<LinearPrediction> {
    const classCount = bias.length;
    if (classCount > MAX_PROBE_CLASSES)
      throw new Error(`linearPredict: at most ${MAX_PROBE_CLASSES} classes`);
    if (weights.length !== classCount * this.dims)
      throw new Error('linearPredict: weights must be classes x dims');
    return this.serialize(() => this.linearPredictNow(weights, bias));
  }

  private async linearPredictNow(weights: Float32Array, bias: Float32Array): Promise<LinearPrediction> {
    const classCount = bias.length;
    const n = this.count;
    const predicted = new SharedArrayBuffer(n * 4);
    const probability = new SharedArrayBuffer(n * 4);
    const margin = new SharedArrayBuffer(n * 4);
    const runnerUp = new SharedArrayBuffer(n * 4);
    const entropy = new SharedArrayBuffer(n * 4);
    const w = new Float32Array(this.f32Memory.buffer, this.f32.weights, classCount * this.f32.stride);
    w.fill(0);
    for (let c = 0; c < classCount; c++) {
      w.set(weights.subarray(c * this.dims, (c + 1) * this.dims), c * this.f32.stride);
    }
    if (n > 0) {
      const pool = this.getPool();
      const per = Math.ceil(n / pool.size);
      const tasks = [];
      for (let p = 0; p < pool.size && p * per < n; p++) {
        tasks.push({
          type: 'linear' as const,
          weightsPtr: this.f32.weights,
          classCount,
          bias: Float32Array.from(bias),
          stride: this.f32.stride,
          rowsPtr: this.f32.rows,
          rowStart: p * per,
          rowEnd: Math.min(n, (p + 1) * per),
          scratchPtr: this.f32.scratch[p],
          predicted,
          probability,
          margin,
          runnerUp,
          entropy,
        });
      }
      await pool.run(tasks);
    }
    return {
      ids: this.ids(),
      predicted: new Int32Array(predicted),
      probability: new Float32Array(probability),
      margin: new Float32Array(margin),
      runnerUp: new Int32Array(runnerUp),
      entropy: new Float32Array(entropy),
    };
  }

  /** Approximate resident bytes: both vector copies at current capacity, id maps and the ANN. */
  memoryBytes(): number {
    const vectors = this.i8Memory.buffer.byteLength + this.f32Memory.buffer.byteLength;
    const scalarBytes = { i8: 1, f16: 2, f32: 4 }[this.options.annQuantization];
    const ann = this.ann
      ? this.ann.size() * (this.dims * scalarBytes + this.options.annConnectivity * 2 * 4 + 16)
      : 0;
    return vectors + this.capacity * 4 + this.slotOf.size * 40 + ann + (this.ivf?.bytes ?? 0);
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
    this.dropAnn();
  }
}

function trimSingle(batch: BatchSearchResult): SearchResult {
  let n = 0;
  while (n < batch.k && batch.ids[n] >= 0) n++;
  return { ids: batch.ids.slice(0, n), scores: batch.scores.slice(0, n) };
}
