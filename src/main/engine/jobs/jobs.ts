import type { JobKind, JobProgress, JobState } from '../../../shared/domain';
import type { CellStore } from '../store/store';

export interface JobContext {
  jobId: number;
  signal: AbortSignal;
  /** Reports progress; throttled internally, so call it as often as convenient. */
  progress(done: number, total: number, phase: string): void;
}

export class JobCancelledError extends Error {
  constructor() {
    super('The job was cancelled.');
    this.name = 'JobCancelledError';
  }
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new JobCancelledError();
}

interface Running {
  controller: AbortController;
  promise: Promise<void>;
}

/** Smoothed ETA from the rate since the current phase began; null until there is a rate to go on. */
class EtaEstimator {
  private phase = '';
  private t0 = 0;
  private d0 = 0;
  estimate(done: number, total: number, phase: string, nowMs: number): number | null {
    if (phase !== this.phase || done < this.d0) {
      this.phase = phase;
      this.t0 = nowMs;
      this.d0 = done;
      return null;
    }
    const dt = (nowMs - this.t0) / 1000;
    const dd = done - this.d0;
    if (dt < 0.5 || dd <= 0 || total <= 0) return null;
    return Math.max(0, (total - done) / (dd / dt));
  }
}

/**
 * Runs long work (ingest, embed, map, export) as jobs: each is a row in the store, so a crash leaves a record that
 * the next start marks 'interrupted' and the user can resume; each reports progress with an ETA and can be cancelled.
 * Job bodies must be resumable: they skip what an earlier attempt already committed.
 */
export class JobManager {
  private running = new Map<number, Running>();

  constructor(
    private readonly store: CellStore,
    private readonly emit: (p: JobProgress) => void,
  ) {}

  start(
    kind: JobKind,
    params: unknown,
    body: (ctx: JobContext) => Promise<unknown>,
    existingId?: number,
  ): number {
    const jobId = existingId ?? this.store.createJob(kind, params);
    const controller = new AbortController();
    const eta = new EtaEstimator();
    let lastEmit = 0;
    let lastDb = 0;
    let last = { done: 0, total: 0, phase: 'starting' };
    const send = (state: JobState, error?: string) => {
      const t = Date.now();
      this.emit({
        jobId,
        kind,
        state,
        ...last,
        etaSeconds: state === 'running' ? eta.estimate(last.done, last.total, last.phase, t) : null,
        ...(error ? { error } : {}),
      });
    };
    const ctx: JobContext = {
      jobId,
      signal: controller.signal,
      progress: (done, total, phase) => {
        last = { done, total, phase };
        const t = Date.now();
        if (t - lastEmit >= 100 || done === total) {
          lastEmit = t;
          send('running');
        }
        if (t - lastDb >= 1000) {
          lastDb = t;
          // Deferred: a job may report progress from inside a read it is still consuming on the one connection.
          setImmediate(() => {
            try {
              this.store.updateJob(jobId, { done, total, phase });
            } catch {
              // The final state is written when the job settles; a skipped progress row loses nothing.
            }
          });
        }
      },
    };
    this.store.updateJob(jobId, { state: 'running', error: null });
    send('running');
    const promise = (async () => {
      try {
        const result = await body(ctx);
        this.store.updateJob(jobId, { state: 'done', ...last, result: result ?? null });
        send('done');
      } catch (err) {
        const cancelled = controller.signal.aborted || err instanceof JobCancelledError;
        const message = (err as Error).message ?? String(err);
        this.store.updateJob(jobId, {
          state: cancelled ? 'cancelled' : 'failed',
          ...last,
          error: cancelled ? null : message,
        });
        send(cancelled ? 'cancelled' : 'failed', cancelled ? undefined : message);
      } finally {
        this.running.delete(jobId);
      }
    })();
    this.running.set(jobId, { controller, promise });
    return jobId;
  }

  cancel(jobId: number): boolean {
    const r = this.running.get(jobId);
    if (!r) return false;
    r.controller.abort();
    return true;
  }

  /** Resolves when the job settles (CLI and tests wait on this). */
  async wait(jobId: number): Promise<void> {
    await this.running.get(jobId)?.promise;
  }

  async cancelAll(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) r.controller.abort();
    await Promise.allSettled(all.map((r) => r.promise));
  }

  isRunning(jobId: number): boolean {
    return this.running.has(jobId);
  }
}
