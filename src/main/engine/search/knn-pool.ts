import { Worker } from 'node:worker_threads';
import os from 'node:os';
import { dotKernelModule } from './dot-kernel';

/**
 * Worker pool for scans over the vector store's shared wasm memories.
 *
 * The worker is started from an inline CommonJS source string (`new Worker(src, { eval: true })`), not from a
 * file URL: `new URL('./worker.ts', import.meta.url)` fails under tsx (workers do not inherit the loader) and
 * points at a missing file once the engine is bundled by electron-vite. A string works unchanged in tests (tsx,
 * vitest), the CLI and the bundled app. The compiled wasm module and the shared memories are posted to each
 * worker once; every task then only carries offsets.
 */
const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
let kernels = null;

function heapPush(scores, slots, size, cap, score, slot) {
  if (size < cap) {
    let i = size;
    scores[i] = score; slots[i] = slot;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (scores[p] <= scores[i]) break;
      const ts = scores[p]; scores[p] = scores[i]; scores[i] = ts;
      const tl = slots[p]; slots[p] = slots[i]; slots[i] = tl;
      i = p;
    }
    return size + 1;
  }
  if (score <= scores[0]) return size;
  scores[0] = score; slots[0] = slot;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1, r = l + 1;
    let m = i;
    if (l < size && scores[l] < scores[m]) m = l;
    if (r < size && scores[r] < scores[m]) m = r;
    if (m === i) break;
    const ts = scores[m]; scores[m] = scores[i]; scores[i] = ts;
    const tl = slots[m]; slots[m] = slots[i]; slots[i] = tl;
    i = m;
  }
  return size;
}

function scan(t) {
  const k = t.kind === 'i8' ? kernels.i8 : kernels.f32;
  const buffer = k.memory.buffer;
  const keep = t.keep;
  const scores = new Float32Array(t.queryCount * keep);
  const slots = new Int32Array(t.queryCount * keep);
  const sizes = new Int32Array(t.queryCount);
  const out = t.kind === 'i8' ? new Int32Array(buffer, t.scratchPtr, t.block) : new Float32Array(buffer, t.scratchPtr, t.block);
  const scales = t.kind === 'i8' ? new Float32Array(buffer) : null;
  const rowBytes = t.kind === 'i8' ? t.stride : t.stride * 4;
  const queryBytes = t.kind === 'i8' ? t.stride * 2 : t.stride * 4;
  for (let start = t.rowStart; start < t.rowEnd; start += t.block) {
    const n = Math.min(t.block, t.rowEnd - start);
    const rowsPtr = t.rowsPtr + start * rowBytes;
    for (let q = 0; q < t.queryCount; q++) {
      if (t.kind === 'i8') k.dot_i8(t.queryPtr + q * queryBytes, rowsPtr, n, t.stride, t.scratchPtr);
      else k.dot_f32(t.queryPtr + q * queryBytes, rowsPtr, n, t.stride, t.scratchPtr);
      const qs = scores.subarray(q * keep, (q + 1) * keep);
      const ql = slots.subarray(q * keep, (q + 1) * keep);
      let size = sizes[q];
      let floor = size < keep ? -Infinity : qs[0];
      if (scales !== null) {
        let scaleIndex = (rowsPtr + t.scaleOffset) >> 2;
        const scaleStep = rowBytes >> 2;
        for (let i = 0; i < n; i++, scaleIndex += scaleStep) {
          const s = out[i] * scales[scaleIndex];
          if (s > floor) { size = heapPush(qs, ql, size, keep, s, start + i); if (size === keep) floor = qs[0]; }
        }
      } else {
        for (let i = 0; i < n; i++) {
          const s = out[i];
          if (s > floor) { size = heapPush(qs, ql, size, keep, s, start + i); if (size === keep) floor = qs[0]; }
        }
      }
      sizes[q] = size;
    }
  }
  return { scores, slots, sizes };
}

function linear(t) {
  const k = kernels.f32;
  const buffer = k.memory.buffer;
  const C = t.classCount;
  const logits = new Float32Array(buffer, t.scratchPtr, C);
  const bias = t.bias;
  const predicted = new Int32Array(t.predicted);
  const probability = new Float32Array(t.probability);
  const margin = new Float32Array(t.margin);
  const runnerUp = new Int32Array(t.runnerUp);
  const entropy = new Float32Array(t.entropy);
  const rowBytes = t.stride * 4;
  const C4 = C & ~3;
  for (let r = t.rowStart; r < t.rowEnd; r++) {
    // Four class rows per kernel pass, the remaining (C mod 4) with the plain kernel.
    const rowPtr = t.rowsPtr + r * rowBytes;
    if (C4 > 0) k.dot_f32_r4(rowPtr, t.weightsPtr, C4, t.stride, t.scratchPtr);
    if (C4 < C) k.dot_f32(rowPtr, t.weightsPtr + C4 * rowBytes, C - C4, t.stride, t.scratchPtr + C4 * 4);
    let best = 0, second = -1, max = -Infinity;
    for (let c = 0; c < C; c++) { const v = logits[c] + bias[c]; logits[c] = v; if (v > max) { max = v; best = c; } }
    // Entropy without a log per class: H = log S - sum_c e_c (l_c - max) / S, with e_c = exp(l_c - max).
    let sum = 0, secondValue = -Infinity, weighted = 0;
    for (let c = 0; c < C; c++) {
      if (c !== best && logits[c] > secondValue) { secondValue = logits[c]; second = c; }
      const d = logits[c] - max;
      const e = Math.exp(d); sum += e; weighted += e * d; logits[c] = e;
    }
    const p1 = 1 / sum;
    const p2 = second < 0 ? 0 : logits[second] / sum;
    const h = Math.max(0, Math.log(sum) - weighted / sum);
    predicted[r] = best; probability[r] = p1; margin[r] = p1 - p2; runnerUp[r] = second; entropy[r] = h;
  }
  return {};
}

parentPort.on('message', (msg) => {
  if (msg.type === 'init') {
    const make = (memory) => Object.assign({ memory }, new WebAssembly.Instance(msg.module, { env: { memory } }).exports);
    kernels = { i8: make(msg.i8Memory), f32: make(msg.f32Memory) };
    parentPort.postMessage({ id: msg.id, ok: true });
    return;
  }
  try {
    const result = msg.task.type === 'scan' ? scan(msg.task) : linear(msg.task);
    const transfer = result.scores ? [result.scores.buffer, result.slots.buffer, result.sizes.buffer] : [];
    parentPort.postMessage({ id: msg.id, ok: true, result }, transfer);
  } catch (error) {
    parentPort.postMessage({ id: msg.id, ok: false, error: String(error && error.stack || error) });
  }
});
`;

export interface ScanTask {
  type: 'scan';
  kind: 'i8' | 'f32';
  queryPtr: number;
  queryCount: number;
  stride: number;
  rowsPtr: number;
  rowStart: number;
  rowEnd: number;
  block: number;
  scratchPtr: number;
  keep: number;
  /** Byte offset of each int8 row's float32 scale inside the row (i8 only). */
  scaleOffset: number;
}

export interface ScanResult {
  scores: Float32Array;
  slots: Int32Array;
  sizes: Int32Array;
}

export interface LinearTask {
  type: 'linear';
  weightsPtr: number;
  classCount: number;
  bias: Float32Array;
  stride: number;
  rowsPtr: number;
  rowStart: number;
  rowEnd: number;
  scratchPtr: number;
  predicted: SharedArrayBuffer;
  probability: SharedArrayBuffer;
  margin: SharedArrayBuffer;
  runnerUp: SharedArrayBuffer;
  entropy: SharedArrayBuffer;
}

type Reply = { id: number; ok: true; result?: ScanResult } | { id: number; ok: false; error: string };

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(os.availableParallelism(), 8));
}

export class KnnPool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private ready: Promise<void>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(i8Memory: WebAssembly.Memory, f32Memory: WebAssembly.Memory, size = defaultWorkerCount()) {
    this.size = size;
    const inits: Promise<Reply>[] = [];
    for (let w = 0; w < size; w++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      // An idle pool must not keep the CLI or a test process alive.
      worker.unref();
      worker.on('message', (reply: Reply) => {
        const entry = this.pending.get(reply.id);
        if (!entry) return;
        this.pending.delete(reply.id);
        entry.resolve(reply);
      });
      worker.on('error', (error) => {
        for (const entry of this.pending.values()) entry.reject(error);
        this.pending.clear();
      });
      this.workers.push(worker);
      inits.push(this.post(worker, { type: 'init', module: dotKernelModule(), i8Memory, f32Memory }));
    }
    this.ready = Promise.all(inits).then(() => undefined);
  }

  private post(worker: Worker, message: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    });
  }

  /**
   * Runs one task per worker (task i on worker i) and resolves when all finish. Calls are serialized so tasks
   * that share the pool's query and scratch areas never overlap.
   */
  run<T extends ScanTask | LinearTask>(tasks: T[]): Promise<T extends ScanTask ? ScanResult[] : void[]> {
    if (tasks.length > this.size) throw new Error(`KnnPool: ${tasks.length} tasks for ${this.size} workers`);
    const job = this.queue.then(async () => {
      await this.ready;
      const replies = await Promise.all(tasks.map((task, i) => this.post(this.workers[i], { task })));
      return replies.map((reply) => {
        if (!reply.ok) throw new Error(`knn worker failed: ${reply.error}`);
        return reply.result;
      });
    });
    this.queue = job.catch(() => undefined);
    return job as Promise<T extends ScanTask ? ScanResult[] : void[]>;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
