import { Worker } from 'node:worker_threads';
import { throwIfAborted, yieldToEventLoop, type LongTaskOptions } from './progress';

/**
 * UMAP layout optimisation: stochastic gradient descent with negative sampling, on Float32Arrays, spread over
 * worker threads.
 *
 * Deterministic on any number of threads: in each epoch a point moves only while its own graph row is processed
 * (its position is read live), and every other point is read from a snapshot taken at the start of the epoch.
 * Rows are therefore independent within an epoch, and the negative samples of an edge come from a hash of
 * (seed, edge, epoch), not from a per-thread stream. The graph is symmetric, so each pair is still pulled from
 * both ends; umap-learn instead moves both ends once per directed edge, which is two pulls per end per sampling
 * period, hence the factor 2 on the attractive step.
 */

export interface LayoutGraph {
  /** Rows (points) whose positions move; other rows have no edges and stay fixed. */
  rowPtr: Int32Array;
  cols: Int32Array;
  /** Sampling period of each edge in epochs (max weight / weight). */
  epochsPerSample: Float32Array;
}

export interface LayoutParams {
  a: number;
  b: number;
  epochs: number;
  seed: number;
  /** Negative samples per positive sample. */
  negativeSampleRate: number;
  repulsionStrength: number;
  initialAlpha: number;
  /** Negative samples are drawn from points [0, negativeRange). */
  negativeRange: number;
  threads: number;
}

/** Number of scalars in the per-epoch parameter block the kernel reads. */
const PARAM_COUNT = 12;

/**
 * Gradient coefficients tabulated against distance d in the layout: Math.pow costs ~30-80 ns in V8 and the
 * kernel needs one per sample (5-6 per edge visit), a linear interpolation in a 64 KB table costs a few ns and
 * errs by < 1e-4 relative. Beyond the table (far pairs, tiny forces) and very close pairs the kernel computes the
 * exact value.
 */
export const FORCE_TABLE_SIZE = 16384;
export const FORCE_TABLE_MAX_DISTANCE = 64;

/** [attract(d) for each step..., repel(d) for each step...], d = i * max / (size - 1), with gamma = 1. */
export function forceTable(a: number, b: number): Float32Array {
  const table = new Float32Array(2 * FORCE_TABLE_SIZE);
  for (let i = 0; i < FORCE_TABLE_SIZE; i++) {
    const d = (i * FORCE_TABLE_MAX_DISTANCE) / (FORCE_TABLE_SIZE - 1);
    const d2 = d * d;
    if (d2 === 0) continue;
    const pb = Math.pow(d2, b);
    table[i] = (-2 * a * b * pb) / d2 / (a * pb + 1);
    table[FORCE_TABLE_SIZE + i] = (2 * b) / ((0.001 + d2) * (a * pb + 1));
  }
  return table;
}

/**
 * One epoch over graph rows [rowStart, rowEnd). Self-contained on purpose: its source text is also the body of
 * the worker threads, so it must not reference anything outside itself (no helpers, no nested functions, which
 * some transpilers wrap in a module-level helper).
 * params: rowStart, rowEnd, epoch, epochs, a, b, gamma, negativeRate, negativeRange, seed, initialAlpha,
 * table size; `forces` is forceTable(a, b) spanning distances [0, 64].
 */
export function layoutEpochKernel(
  current: Float32Array,
  snapshot: Float32Array,
  rowPtr: Int32Array,
  cols: Int32Array,
  epochsPerSample: Float32Array,
  nextSample: Float32Array,
  nextNegative: Float32Array,
  forces: Float32Array,
  params: Float64Array,
): void {
  const rowStart = params[0];
  const rowEnd = params[1];
  const epoch = params[2];
  const epochs = params[3];
  const a = params[4];
  const b = params[5];
  const gamma = params[6];
  const negativeRate = params[7];
  const negativeRange = params[8];
  const seed = params[9] | 0;
  const alpha = params[10] * (1 - epoch / epochs);
  const tableSize = params[11];
  const tableLast = tableSize - 1;
  const tableScale = tableLast / 64;
  const epochMix = Math.imul((epoch | 0) + 0x632be5ab, 0xc2b2ae35);
  // Scales a uint32 onto [0, negativeRange) with a multiply: integer % costs tens of cycles per sample.
  const rangeScale = negativeRange / 4294967296;
  for (let i = rowStart; i < rowEnd; i++) {
    const edgeEnd = rowPtr[i + 1];
    let x = current[2 * i];
    let y = current[2 * i + 1];
    for (let e = rowPtr[i]; e < edgeEnd; e++) {
      if (nextSample[e] > epoch) continue;
      const j = cols[e];
      let dx = x - snapshot[2 * j];
      let dy = y - snapshot[2 * j + 1];
      let d2 = dx * dx + dy * dy;
      if (d2 > 0) {
        let coefficient = 0;
        const t = Math.sqrt(d2) * tableScale;
        if (t >= 1 && t < tableLast) {
          const cell = t | 0;
          const f = t - cell;
          coefficient = forces[cell] + f * (forces[cell + 1] - forces[cell]);
        } else {
          const pb = Math.pow(d2, b);
          coefficient = (-2 * a * b * pb) / d2 / (a * pb + 1);
        }
        let gx = coefficient * dx;
        let gy = coefficient * dy;
        gx = gx > 4 ? 4 : gx < -4 ? -4 : gx;
        gy = gy > 4 ? 4 : gy < -4 ? -4 : gy;
        x += 2 * gx * alpha;
        y += 2 * gy * alpha;
      }
      const period = epochsPerSample[e];
      nextSample[e] += period;
      const negativePeriod = period / negativeRate;
      const negatives = Math.floor((epoch - nextNegative[e]) / negativePeriod);
      let h = seed ^ Math.imul(e, 0x9e3779b1);
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ epochMix;
      h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f);
      h = (h ^ (h >>> 16)) | 1;
      for (let p = 0; p < negatives; p++) {
        h ^= h << 13;
        h ^= h >>> 17;
        h ^= h << 5;
        const k = ((h >>> 0) * rangeScale) | 0;
        if (k === i) continue;
        dx = x - snapshot[2 * k];
        dy = y - snapshot[2 * k + 1];
        d2 = dx * dx + dy * dy;
        if (d2 > 0) {
          let coefficient = 0;
          const t = Math.sqrt(d2) * tableScale;
          if (t >= 1 && t < tableLast) {
            const cell = t | 0;
            const f = t - cell;
            const base = tableSize + cell;
            coefficient = gamma * (forces[base] + f * (forces[base + 1] - forces[base]));
          } else {
            coefficient = (2 * gamma * b) / ((0.001 + d2) * (a * Math.pow(d2, b) + 1));
          }
          let gx = coefficient * dx;
          let gy = coefficient * dy;
          gx = gx > 4 ? 4 : gx < -4 ? -4 : gx;
          gy = gy > 4 ? 4 : gy < -4 ? -4 : gy;
          x += gx * alpha;
          y += gy * alpha;
        }
      }
      if (negatives > 0) nextNegative[e] += negatives * negativePeriod;
    }
    current[2 * i] = x;
    current[2 * i + 1] = y;
  }
}

/**
 * Worker body: inline CommonJS source (`eval: true`), not a file URL, because a separate worker file is not
 * found under tsx (workers do not inherit its loader) nor after bundling; a string runs unchanged in tests,
 * the CLI and the packaged app.
 */
const WORKER_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const kernel = (${layoutEpochKernel.toString()});
let views = null;
parentPort.on('message', (message) => {
  if (message.type === 'setup') {
    const s = message.buffers;
    views = [new Float32Array(s.current), new Float32Array(s.snapshot), new Int32Array(s.rowPtr),
      new Int32Array(s.cols), new Float32Array(s.epochsPerSample), new Float32Array(s.nextSample),
      new Float32Array(s.nextNegative), new Float32Array(s.forces)];
    parentPort.postMessage('ready');
    return;
  }
  try {
    kernel(views[0], views[1], views[2], views[3], views[4], views[5], views[6], views[7],
      new Float64Array(message.params));
    parentPort.postMessage('done');
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.stack || error) });
  }
});
`;

function sharedCopy<T extends Float32Array | Int32Array>(source: T): T {
  const buffer = new SharedArrayBuffer(source.byteLength);
  const copy = (source instanceof Float32Array ? new Float32Array(buffer) : new Int32Array(buffer)) as T;
  copy.set(source);
  return copy;
}

/** Splits rows into `parts` contiguous ranges with about equal edge counts. */
function balancedRanges(rowPtr: Int32Array, parts: number): Array<[number, number]> {
  const rows = rowPtr.length - 1;
  const total = rowPtr[rows];
  const ranges: Array<[number, number]> = [];
  let start = 0;
  for (let p = 1; p <= parts; p++) {
    let end = start;
    const goal = (total * p) / parts;
    while (end < rows && (p === parts || rowPtr[end] < goal)) end++;
    if (end > start) ranges.push([start, end]);
    start = end;
  }
  return ranges;
}

function waitForReply(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      cleanup();
      if (typeof message === 'object' && message !== null && 'error' in message) {
        reject(new Error(`layout worker failed: ${String((message as { error: unknown }).error)}`));
      } else resolve();
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`layout worker exited with code ${code}`));
    };
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/** Edge-epochs below which thread start-up (tens of ms per worker) costs more than it saves. */
const PARALLEL_THRESHOLD = 4e6;

/**
 * Optimises `positions` (n x 2, modified in place and returned) for `params.epochs` epochs. Rows of the graph
 * with edges move; rows without edges are fixed anchors (used to place new points on an existing map).
 */
export async function optimizeLayout(
  positions: Float32Array,
  graph: LayoutGraph,
  params: LayoutParams,
  options: LongTaskOptions & { phase?: string } = {},
): Promise<Float32Array> {
  const rows = graph.rowPtr.length - 1;
  const edges = graph.cols.length;
  const phase = options.phase ?? 'layout';
  const threads = Math.max(1, Math.min(params.threads, rows));
  const parallel = threads > 1 && edges * params.epochs >= PARALLEL_THRESHOLD;

  const current = parallel ? sharedCopy(positions) : positions;
  const snapshot = parallel ? sharedCopy(positions) : Float32Array.from(positions);
  const rowPtr = parallel ? sharedCopy(graph.rowPtr) : graph.rowPtr;
  const cols = parallel ? sharedCopy(graph.cols) : graph.cols;
  const epochsPerSample = parallel ? sharedCopy(graph.epochsPerSample) : graph.epochsPerSample;
  const nextSample = parallel ? sharedCopy(graph.epochsPerSample) : Float32Array.from(graph.epochsPerSample);
  const nextNegative = new Float32Array(
    parallel ? new SharedArrayBuffer(edges * 4) : new ArrayBuffer(edges * 4),
  );
  for (let e = 0; e < edges; e++) nextNegative[e] = graph.epochsPerSample[e] / params.negativeSampleRate;
  const forces = parallel ? sharedCopy(forceTable(params.a, params.b)) : forceTable(params.a, params.b);

  const epochParams = (rowStart: number, rowEnd: number, epoch: number): Float64Array => {
    const p = new Float64Array(PARAM_COUNT);
    p.set([
      rowStart,
      rowEnd,
      epoch,
      params.epochs,
      params.a,
      params.b,
      params.repulsionStrength,
      params.negativeSampleRate,
      params.negativeRange,
      params.seed | 0,
      params.initialAlpha,
      FORCE_TABLE_SIZE,
    ]);
    return p;
  };

  options.onProgress?.(0, params.epochs, phase);
  if (!parallel) {
    let lastYield = performance.now();
    for (let epoch = 0; epoch < params.epochs; epoch++) {
      throwIfAborted(options.signal);
      layoutEpochKernel(
        current,
        snapshot,
        rowPtr,
        cols,
        epochsPerSample,
        nextSample,
        nextNegative,
        forces,
        epochParams(0, rows, epoch),
      );
      snapshot.set(current);
      options.onProgress?.(epoch + 1, params.epochs, phase);
      if (performance.now() - lastYield > 50) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
    return positions;
  }

  const ranges = balancedRanges(rowPtr, threads);
  const workers = ranges.map(() => new Worker(WORKER_SOURCE, { eval: true }));
  try {
    const buffers = {
      current: current.buffer,
      snapshot: snapshot.buffer,
      rowPtr: rowPtr.buffer,
      cols: cols.buffer,
      epochsPerSample: epochsPerSample.buffer,
      nextSample: nextSample.buffer,
      nextNegative: nextNegative.buffer,
      forces: forces.buffer,
    };
    await Promise.all(
      workers.map((worker) => {
        const reply = waitForReply(worker);
        worker.postMessage({ type: 'setup', buffers });
        return reply;
      }),
    );
    for (let epoch = 0; epoch < params.epochs; epoch++) {
      throwIfAborted(options.signal);
      await Promise.all(
        workers.map((worker, w) => {
          const reply = waitForReply(worker);
          worker.postMessage({ type: 'epoch', params: epochParams(ranges[w][0], ranges[w][1], epoch) });
          return reply;
        }),
      );
      snapshot.set(current);
      options.onProgress?.(epoch + 1, params.epochs, phase);
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  positions.set(current);
  return positions;
}
