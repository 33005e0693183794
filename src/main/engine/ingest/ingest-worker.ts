import { parentPort } from 'node:worker_threads';
import {
  preloadDetector,
  processImage,
  fieldScaleOf,
  type FieldScale,
  type ProcessOptions,
  type ProcessResult,
} from './process-image';
import { decodeImage } from './decode';
import { morphologyOfCells, type PackedCells } from '../embed/morphology-cells';

interface Task {
  id: number;
  path: string;
  opts: ProcessOptions;
}

/** Re-embedding stored cells of one image with the morphology model (the embed job's CPU work). */
interface EmbedTask {
  id: number;
  embed: { path: string; cells: PackedCells };
}

interface WarmUp {
  warmUp: string | null;
  runs: number;
}

// Results go back by copy, not by transfer, unless they are large. Transferring detaches the worker's buffers,
// and the first detach in a thread invalidates V8's assumption that no ArrayBuffer was ever detached: from then on
// every typed-array access in optimized code checks for a detached buffer (measured: segmentation 25-35% slower,
// morphology features 3-36%), and every optimized typed-array function is recompiled once (~1 CPU-s). Copying an
// image's results (its thumbnails and contours are packed in a few ResultArena chunks) costs well under a
// millisecond. The JPEG kernel's memory starts large enough for ordinary thumbnails for the same reason: growing
// a WebAssembly memory detaches its old buffer too.
/** Results larger than this (a huge tiled field's tens of thousands of cells) are transferred, not copied. */
const COPY_LIMIT_BYTES = 16 * 2 ** 20;

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
  const buffers = result.ok ? [result.morphology.buffer as ArrayBuffer, ...result.buffers] : [];
  const bytes = buffers.reduce((a, b) => a + b.byteLength, 0);
  parentPort!.postMessage({ id: task.id, result }, bytes > COPY_LIMIT_BYTES ? buffers : []);
}

/**
 * An embed task's image starts decoding as soon as it arrives (sharp decodes on its own threads), so the next
 * images are ready when the features of this one are done: single-cell crops are decoded far slower than
 * their features are computed. Only the features run in queue order.
 */
function embed(task: EmbedTask): void {
  const decoded = decodeImage(task.embed.path);
  decoded.catch(() => undefined);
  queue = queue.then(async () => {
    try {
      const img = await decoded;
      const vectors = morphologyOfCells(
        { data: img.data, width: img.width, height: img.height },
        task.embed.cells,
      );
      parentPort!.postMessage({ id: task.id, vectors });
    } catch (err) {
      parentPort!.postMessage({ id: task.id, error: (err as Error).message });
    }
  });
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

parentPort!.on('message', (msg: Task | EmbedTask | WarmUp) => {
  // The first message (the pool posts it at start) says whether to warm up; the detector loads either way,
  // while the engine lists and hashes the files.
  if ('warmUp' in msg) queue = queue.then(() => warm(msg)).catch(() => undefined);
  else if ('embed' in msg) embed(msg);
  else queue = queue.then(() => run(msg));
});
