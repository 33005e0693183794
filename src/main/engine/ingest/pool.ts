import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/module-worker';
import type { ProcessOptions, ProcessResult } from './process-image';

/**
 * Decode + segmentation + thumbnails run on worker threads (one per core), while the engine thread only writes
 * to SQLite: ingest uses every core and the engine stays responsive to the UI.
 */
export class IngestPool {
  private workers: Worker[] = [];
  private idle: Worker[] = [];
  private waiting: Array<() => void> = [];
  private callbacks = new Map<number, (r: ProcessResult) => void>();
  private nextId = 1;

  constructor(size = Math.max(1, Math.min(os.availableParallelism(), 8))) {
    for (let i = 0; i < size; i++) {
      const w = startModuleWorker(import.meta.url, 'ingest-worker');
      w.on('message', (msg: { id?: number; result?: ProcessResult; ready?: boolean }) => {
        if (msg.ready) {
          this.release(w);
          return;
        }
        const cb = this.callbacks.get(msg.id!);
        this.callbacks.delete(msg.id!);
        this.release(w);
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

  private release(w: Worker): void {
    this.idle.push(w);
    this.waiting.shift()?.();
  }

  async process(path: string, opts: ProcessOptions): Promise<ProcessResult> {
    while (this.idle.length === 0) await new Promise<void>((r) => this.waiting.push(r));
    const w = this.idle.pop()!;
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.callbacks.set(id, resolve);
      w.postMessage({ id, path, opts });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
    this.idle = [];
  }
}
