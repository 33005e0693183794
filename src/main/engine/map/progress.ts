/** Options every long map computation takes, so the job system can show progress and cancel. */
export interface LongTaskOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

export class MapCancelledError extends Error {
  constructor() {
    super('map computation cancelled');
    this.name = 'MapCancelledError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MapCancelledError();
}

/** Lets timers, progress events and abort signals through between synchronous chunks of work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
