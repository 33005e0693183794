import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/module-worker';
import type { ProcessOptions, ProcessResult } from './process-image';

/** Tasks queued on one worker at once: the next image is already there when one finishes. */
const DEPTH = 2;

interface Pending {
  worker: Worker;
  path: string;
  resolve: (r: ProcessResult) => void;
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
  private waiting: Array<() => void> = [];
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
      w.on('message', (msg: { id?: number; result?: ProcessResult; warmed?: boolean }) => {
        if (msg.warmed) return warmed();
        const p = this.pending.get(msg.id!);
        this.pending.delete(msg.id!);
        this.load.set(w, this.load.get(w)! - 1);
        this.waiting.shift()?.();
        p?.resolve(msg.result!);
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
      p.resolve({ ok: false, path: p.path, reason: 'unreadable', message: `${p.path}: ${why}` });
    }
    for (const wake of this.waiting.splice(0)) wake();
  }

  private leastLoaded(): Worker | null {
    let best: Worker | null = null;
    for (const w of this.workers) {
      const n = this.load.get(w)!;
      if (n < DEPTH && (!best || n < this.load.get(best)!)) best = w;
    }
    return best;
  }

  async process(path: string, opts: ProcessOptions): Promise<ProcessResult> {
    let w = this.leastLoaded();
    while (!w) {
      if (this.workers.length === 0)
        return { ok: false, path, reason: 'unreadable', message: `${path}: the ingest workers stopped` };
      await new Promise<void>((r) => this.waiting.push(r));
      w = this.leastLoaded();
    }
    this.load.set(w, this.load.get(w)! + 1);
    const id = this.nextId++;
    const worker = w;
    return new Promise((resolve) => {
      this.pending.set(id, { worker, path, resolve });
      worker.postMessage({ id, path, opts });
    });
  }

  /** Stops the workers; tasks still held fail (an import running while its project closes). */
  async close(): Promise<void> {
    const workers = this.workers;
    for (const w of workers) this.drop(w, 'the ingest workers stopped');
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
