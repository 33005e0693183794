import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/module-worker';
import type { ProcessOptions, ProcessResult } from './process-image';

/** Tasks queued on one worker at once: the next image is already there when one finishes. */
const DEPTH = 2;

/**
 * Decode + segmentation + thumbnails run on worker threads (one per core), while the engine thread only writes
 * to SQLite: ingest uses every core and the engine stays responsive to the UI. Each worker holds up to DEPTH
 * tasks (run one at a time), so it never waits for the engine thread between images.
 */
export class IngestPool {
  private workers: Worker[] = [];
  private load = new Map<Worker, number>();
  private waiting: Array<() => void> = [];
  private callbacks = new Map<number, (r: ProcessResult) => void>();
  private nextId = 1;

  constructor(size = Math.max(1, Math.min(os.availableParallelism(), 8))) {
    for (let i = 0; i < size; i++) {
      const w = startModuleWorker(import.meta.url, 'ingest-worker');
      this.load.set(w, 0);
      w.on('message', (msg: { id?: number; result?: ProcessResult; ready?: boolean }) => {
        if (msg.ready) return;
        const cb = this.callbacks.get(msg.id!);
        this.callbacks.delete(msg.id!);
        this.load.set(w, this.load.get(w)! - 1);
        this.waiting.shift()?.();
        cb?.(msg.result!);
      });
      w.on('error', (err) => {
        for (const [, cb] of this.callbacks)
          cb({ ok: false, path: '', reason: 'unreadable', message: err.message });
        this.callbacks.clear();
      });
      this.workers.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Tasks the pool takes before process() waits: DEPTH per worker. */
  get capacity(): number {
    return this.workers.length * DEPTH;
  }

  private leastLoaded(): Worker | null {
    let best: Worker | null = null;
    for (const w of this.workers)
      if (this.load.get(w)! < DEPTH && (!best || this.load.get(w)! < this.load.get(best)!)) best = w;
    return best;
  }

  async process(path: string, opts: ProcessOptions): Promise<ProcessResult> {
    let w = this.leastLoaded();
    while (!w) {
      await new Promise<void>((r) => this.waiting.push(r));
      w = this.leastLoaded();
    }
    this.load.set(w, this.load.get(w)! + 1);
    const id = this.nextId++;
    const worker = w;
    return new Promise((resolve) => {
      this.callbacks.set(id, resolve);
      worker.postMessage({ id, path, opts });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
    this.load.clear();
  }
}
