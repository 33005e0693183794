import fs from 'node:fs';
import { resourcePath } from '../util/resources';
import { IngestPool } from './pool';

/** A kept-warm pool with no import for this long is stopped, so an idle app does not hold its memory. */
export const INGEST_POOL_IDLE_MS = 10 * 60 * 1000;

/**
 * The field a kept-warm pool's workers segment before the first import: a bundled 640x480 Chula demo field;
 * null when missing.
 */
export function defaultWarmUpField(): string | null {
  const file = resourcePath('demo/12.jpg');
  return fs.existsSync(file) ? file : null;
}

export interface IngestPoolKeeperOptions {
  /**
   * Long-lived hosts (desktop, web) keep one pool across imports while a project is open, started and warmed
   * by warm(); one-shot hosts (CLI) get a pool per import, stopped when it ends.
   */
  keepWarm: boolean;
  idleMs?: number;
  /** Warm-up field; default defaultWarmUpField(). */
  warmUp?: string | null;
  warmUpRuns?: number;
  size?: number;
}

export interface IngestPoolLease {
  pool: IngestPool;
  /** Hands the pool back: kept (idle timer armed) or stopped, per keepWarm. */
  release(): Promise<void>;
}

export interface IngestPoolStatus {
  state: 'stopped' | 'warming' | 'ready';
  threadIds: number[];
  /** Pools started since this keeper was made; a reused pool does not add one. */
  poolsStarted: number;
  /** Imports served by the current pool. */
  imports: number;
  /** Imports now holding the pool. */
  users: number;
}

/**
 * Owns the ingest worker pool of the open project. With keepWarm, warm() (called when a project opens) starts
 * the workers in the background (modules and detector loaded, a warm-up field segmented so the JIT has
 * compiled the hot paths) and every import reuses them; an import that starts before they are warm waits for
 * them. The pool stops on close() (project closed) or after idleMs without an import.
 */
export class IngestPoolKeeper {
  private pool: IngestPool | null = null;
  private warmed = false;
  private users = 0;
  private waiters = 0;
  private imports = 0;
  private poolsStarted = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: IngestPoolKeeperOptions) {}

  get keepWarm(): boolean {
    return this.opts.keepWarm;
  }

  /** Starts (and warms) the pool in the background if it is not running; a no-op without keepWarm. */
  warm(): void {
    if (!this.opts.keepWarm) return;
    try {
      if (!this.live()) this.start(true);
    } catch {
      // Opening a project never fails for this: an import starts its own pool and reports what went wrong.
      return;
    }
    if (this.users === 0) this.armIdle();
  }

  /** Resolves once the pool is warm (immediately when none is running). */
  async whenReady(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    // Someone waits on the workers: they keep the process alive meanwhile.
    this.waiters++;
    pool.ref(true);
    try {
      await pool.ready;
    } finally {
      this.waiters--;
      if (this.pool === pool && this.users === 0 && this.waiters === 0) pool.ref(false);
    }
  }

  /**
   * The pool for one import: the kept one, else one started now. Tasks posted before the warm-up ends queue
   * behind it in each worker, so an early import simply waits for it (hashing and listing meanwhile).
   */
  acquire(): IngestPoolLease {
    this.clearIdle();
    const pool = this.live() ?? this.start(false);
    this.users++;
    this.imports++;
    pool.ref(true);
    let released = false;
    return {
      pool,
      release: async () => {
        if (released) return;
        released = true;
        await this.release(pool);
      },
    };
  }

  status(): IngestPoolStatus {
    return {
      state: !this.pool ? 'stopped' : this.warmed ? 'ready' : 'warming',
      threadIds: this.pool ? [...this.pool.threadIds] : [],
      poolsStarted: this.poolsStarted,
      imports: this.pool ? this.imports : 0,
      users: this.users,
    };
  }

  /** Stops the pool (project closed); an import still holding it sees its remaining images fail. */
  async close(): Promise<void> {
    this.clearIdle();
    const pool = this.pool;
    this.pool = null;
    this.warmed = false;
    this.imports = 0;
    this.users = 0;
    await pool?.close();
  }

  /** The running pool, unless all its workers died (then it is replaced). */
  private live(): IngestPool | null {
    if (this.pool && this.pool.size === 0) {
      void this.pool.close();
      this.pool = null;
    }
    return this.pool;
  }

  private start(warmUp: boolean): IngestPool {
    const pool = new IngestPool(this.opts.size, {
      warmUp: warmUp ? (this.opts.warmUp === undefined ? defaultWarmUpField() : this.opts.warmUp) : null,
      warmUpRuns: this.opts.warmUpRuns,
    });
    this.pool = pool;
    this.warmed = false;
    this.imports = 0;
    this.poolsStarted++;
    // Warming in the background must not keep a process alive that has nothing else to do.
    pool.ref(false);
    void pool.ready.then(() => {
      if (this.pool === pool) this.warmed = true;
    });
    return pool;
  }

  private async release(pool: IngestPool): Promise<void> {
    if (this.pool !== pool) return; // closed (or replaced) meanwhile
    this.users--;
    if (this.users > 0) return;
    if (!this.opts.keepWarm) {
      await this.close();
      return;
    }
    if (this.waiters === 0) pool.ref(false);
    this.armIdle();
  }

  private armIdle(): void {
    this.clearIdle();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.users === 0) void this.close();
    }, this.opts.idleMs ?? INGEST_POOL_IDLE_MS);
    this.timer.unref();
  }

  private clearIdle(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
