import { parentPort } from 'node:worker_threads';
import {
  preloadDetector,
  processImage,
  fieldScaleOf,
  type FieldScale,
  type ProcessOptions,
  type ProcessResult,
} from './process-image';

interface Task {
  id: number;
  path: string;
  opts: ProcessOptions;
}

interface WarmUp {
  warmUp: string | null;
  runs: number;
}

// Results go back by transfer, which detaches their buffers. The first detach in a thread invalidates V8's
// assumption that no ArrayBuffer was ever detached, and with it nearly every optimized typed-array function
// (all recompiled, ~1 CPU-s per worker, right as an import starts). One throwaway buffer detached here, before
// anything is compiled, makes the warm-up's (or the first images') optimized code the code that stays.
const probe = new ArrayBuffer(8);
structuredClone(probe, { transfer: [probe] });

/**
 * The pool keeps up to two tasks queued here, so the next image starts the moment one is done (no round trip
 * through a busy engine thread); tasks still run one at a time, in order.
 */
let queue: Promise<void> = Promise.resolve();

async function run(task: Task): Promise<void> {
  let result: ProcessResult;
  try {
    result = await processImage(task.path, task.opts);
  } catch (err) {
    result = { ok: false, path: task.path, reason: 'unreadable', message: (err as Error).message };
  }
  const transfer: ArrayBuffer[] = [];
  if (result.ok) transfer.push(result.morphology.buffer as ArrayBuffer, ...result.buffers);
  parentPort!.postMessage({ id: task.id, result }, transfer);
}

/** Detector session, then (for a kept-warm pool) the warm-up field, so the JIT has compiled the hot paths. */
async function warm(w: WarmUp): Promise<void> {
  try {
    await preloadDetector();
    // The first run searches the scale, the others reuse it (as an import's later fields do).
    let scale: FieldScale | undefined;
    for (let i = 0; w.warmUp && i < w.runs; i++) {
      scale ??= fieldScaleOf(await processImage(w.warmUp, { mode: 'field', scale }));
    }
  } finally {
    parentPort!.postMessage({ warmed: true });
  }
}

parentPort!.on('message', (msg: Task | WarmUp) => {
  // The first message (the pool posts it at start) says whether to warm up; the detector loads either way,
  // while the engine lists and hashes the files.
  if ('warmUp' in msg) queue = queue.then(() => warm(msg)).catch(() => undefined);
  else queue = queue.then(() => run(msg));
});
