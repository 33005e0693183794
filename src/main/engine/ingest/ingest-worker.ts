import { parentPort } from 'node:worker_threads';
import { preloadDetector, processImage, type ProcessOptions, type ProcessResult } from './process-image';

interface Task {
  id: number;
  path: string;
  opts: ProcessOptions;
}

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

parentPort!.on('message', (task: Task) => {
  queue = queue.then(() => run(task));
});
parentPort!.postMessage({ ready: true });
// Load the detector session while the engine lists and hashes the files.
queue = queue.then(() => preloadDetector());
