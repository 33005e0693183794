import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/module-worker';
import type { ProcessOptions, ProcessResult } from './process-image';
import type { PackedCells } from '../embed/morphology-cells';

/** The worker holding a task died, or the pool was closed: the task's input is not at fault. */
export class PoolStoppedError extends Error {}

/** Tasks queued on one worker at once: the next image is already there when one finishes. */
const DEPTH = 2;
/**
 * Morphology embed tasks queued on one worker at once: the worker decodes them all while it computes features
 * (decoding a small crop image takes longer than its features).
 */
export const EMBED_DEPTH = 8;

interface WorkerReply {
  id?: number;
  result?: ProcessResult;
  vectors?: Float32Array;
  error?: string;
  warmed?: boolean;
}

interface Pending {
  worker: Worker;
  settle: (msg: WorkerReply) => void;
  /** The worker died holding the task. */
  fail: (why: string) => void;
}

export interface IngestPoolOptions {
  /**
   * A field each worker segments `warmUpRuns` times after loading its modules and the detector, with its results
   * discarded, so the hot paths are compiled before the first real image (a pool kept warm for a project). The
   * cold pool an import starts for itself goes straight to the real images.
   */
  warmUp?: string | null;
  warmUpRuns?: number;
}

/**
 * Decode + segmentation + thumbnails run on worker threads (one per core), while the engine thread only writes
 * to SQLite: ingest uses every core and the engine stays responsive to the UI. Each worker holds up to DEPTH
 * tasks (run one at a time, in order), so it never waits for the engine thread between images.
 */
export class IngestPool {
  private workers: Worker[] = [];
  private load = new Map<Worker, number>();
  /**
   * Callers waiting for a slot, first come first served: an import's task (at most DEPTH per worker) waiting
   * behind a re-embedding that keeps EMBED_DEPTH queued per worker is served before any later embed task.
   */
  private waiting: Array<{ depth: number; wake: (w: Worker | null) => void }> = [];
  private pending = new Map<number, Pending>();
  private nextId = 1;
  /** Thread ids of the workers as started (for diagnostics and tests: a reused pool keeps them). */
  readonly threadIds: number[] = [];
  /** Resolves once every worker has loaded the detector and run its warm-up (or died trying). */
  readonly ready: Promise<void>;

  constructor(size = Math.max(1, Math.min(os.availableParallelism(), 8)), opts: IngestPoolOptions = {}) {
    const settled: Array<Promise<void>> = [];
    for (let i = 0; i < size; i++) {
      const w = startModuleWorker(import.meta.url, 'ingest-worker');
      this.threadIds.push(w.threadId);
      this.load.set(w, 0);
      let warmed!: () => void;
      settled.push(new Promise<void>((r) => (warmed = r)));
      w.on('message', (msg: WorkerReply) => {
        if (msg.warmed) return warmed();
        const p = this.pending.get(msg.id!);
        this.pending.delete(msg.id!);
        this.load.set(w, this.load.get(w)! - 1);
        this.serveWaiting();
        p?.settle(msg);
      });
      w.on('error', (err) => {
        // A crashed worker fails the tasks it held and takes no more; the others carry on.
        warmed();
        this.drop(w, err.message);
      });
      w.on('exit', () => warmed());
      w.postMessage({ warmUp: opts.warmUp ?? null, runs: opts.warmUpRuns ?? 6 });
      this.workers.push(w);
    }
    this.ready = Promise.all(settled).then(() => undefined);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Tasks the pool takes before process() waits: DEPTH per worker. */
  get capacity(): number {
    return Math.max(1, this.workers.length) * DEPTH;
  }

  /** Embed tasks the pool takes before embedMorphology() waits: EMBED_DEPTH per worker. */
  get embedCapacity(): number {
    return Math.max(1, this.workers.length) * EMBED_DEPTH;
  }

  /** Whether the pool's workers keep the process alive (an idle kept-warm pool must not). */
  ref(on: boolean): void {
    for (const w of this.workers) {
      if (on) w.ref();
      else w.unref();
    }
  }

  private drop(w: Worker, why: string): void {
    this.workers = this.workers.filter((x) => x !== w);
    this.load.delete(w);
    for (const [id, p] of this.pending) {
      if (p.worker !== w) continue;
      this.pending.delete(id);
      p.fail(why);
    }
    this.serveWaiting();
  }

  private leastLoaded(depth: number): Worker | null {
    let best: Worker | null = null;
    for (const w of this.workers) {
      const n = this.load.get(w)!;
      if (n < depth && (!best || n < this.load.get(best)!)) best = w;
    }
    return best;
  }

  /** A free worker slot (at most `depth` tasks per worker), or null when every worker has stopped. */
  private slot(depth: number): Promise<Worker | null> {
    return new Promise((wake) => {
      this.waiting.push({ depth, wake });
      this.serveWaiting();
    });
  }

  /** Gives free slots to the waiting callers in arrival order; the first one that cannot be served blocks the rest. */
  private serveWaiting(): void {
    while (this.waiting.length > 0) {
      const head = this.waiting[0];
      if (this.workers.length === 0) {
        this.waiting.shift();
        head.wake(null);
        continue;
      }
      const w = this.leastLoaded(head.depth);
      if (!w) return;
      this.waiting.shift();
      this.load.set(w, this.load.get(w)! + 1);
      head.wake(w);
    }
  }

  private post(worker: Worker, task: object, settle: Pending['settle'], fail: Pending['fail']): void {
    const id = this.nextId++;
    this.pending.set(id, { worker, settle, fail });
    worker.postMessage({ id, ...task });
  }

  async process(path: string, opts: ProcessOptions): Promise<ProcessResult> {
    const worker = await this.slot(DEPTH);
    if (!worker)
      return { ok: false, path, reason: 'unreadable', message: `${path}: the ingest workers stopped` };
    return new Promise((resolve) => {
      this.post(
        worker,
        { path, opts },
        (msg) => resolve(msg.result!),
        (why) => resolve({ ok: false, path, reason: 'unreadable', message: `${path}: ${why}` }),
      );
    });
  }

  /**
   * Morphology vectors of stored cells of one image, computed on a worker (it decodes the image itself);
   * rejects with the reason when the image cannot be read, with a PoolStoppedError when the workers stopped.
   */
  async embedMorphology(path: string, cells: PackedCells): Promise<Float32Array> {
    const worker = await this.slot(EMBED_DEPTH);
    if (!worker) throw new PoolStoppedError('the ingest workers stopped');
    return new Promise((resolve, reject) => {
      this.post(
        worker,
        { embed: { path, cells } },
        (msg) => (msg.vectors ? resolve(msg.vectors) : reject(new Error(msg.error ?? 'no vectors'))),
        (why) => reject(new PoolStoppedError(why)),
      );
    });
  }

  /** Stops the workers; tasks still held fail (an import running while its project closes). */
  async close(): Promise<void> {
    const workers = this.workers;
    for (const w of workers) this.drop(w, 'the ingest workers stopped');
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
