/**
 * The ceiling for int8 ViT speed-ups on this CPU: onnxruntime's GEMM throughput on the four linear-layer shapes
 * of ViT-S/14 at batch 8 (2056 tokens), fp32 MatMul against the int8 graph the app emits (DynamicQuantizeLinear
 * -> MatMulInteger -> Cast -> Mul, which onnxruntime fuses into DynamicQuantizeMatMul; u8 activations, s8
 * per-channel weights) and against u8 weights (the other kernel onnxruntime has for x86). Linear layers are ~90%
 * of the ViT's multiply-adds, so the int8 graph cannot beat fp32 by more than this ratio.
 *
 *   node bin/run-ts.mjs bench/vit-gemm.ts          env: VIT_GEMM_SECONDS per measurement (default 3)
 *
 * One thread, multiply-adds per CPU-second of the process (robust to other processes on a shared machine),
 * rounds alternating the kernels, best round kept.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  type OnnxNode,
  type OnnxTensor,
  TensorDataType,
  writeOnnxModel,
} from '../src/main/engine/embed/vit/onnx-proto';
import { quantizeColumnsInt8 } from '../src/main/engine/embed/vit/vit-graph';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const WORK = path.join(ROOT, '.cache/vit-gemm');
const SECONDS = Number(process.env.VIT_GEMM_SECONDS ?? 3);
const ROUNDS = 3;
const TOKENS = 8 * 257;
/** ViT-S/14 linear layers: [in, out] and how many of them one forward pass runs over all tokens. */
const SHAPES = [
  { name: 'qkv', k: 384, n: 1152 },
  { name: 'proj', k: 384, n: 384 },
  { name: 'fc1', k: 384, n: 1536 },
  { name: 'fc2', k: 1536, n: 384 },
] as const;
type Kernel = 'fp32' | 'u8s8' | 'u8u8';
const KERNELS: Kernel[] = ['fp32', 'u8s8', 'u8u8'];

const load = () => os.loadavg().map((v) => Math.round(v * 100) / 100);

/** Deterministic weights of a trained layer's scale (std 0.02), from a fixed-seed LCG + Box-Muller. */
function weights(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++)
    out[i] = 0.02 * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return out;
}

function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function buildModel(file: string, kernel: Kernel, k: number, n: number): void {
  const w = weights(k * n, k * 7919 + n);
  const initializers: OnnxTensor[] = [];
  const nodes: OnnxNode[] = [];
  if (kernel === 'fp32') {
    initializers.push({ name: 'w', dataType: TensorDataType.FLOAT, dims: [k, n], raw: bytes(w) });
    nodes.push({ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'], name: 'matmul' });
  } else {
    const { q, scales } = quantizeColumnsInt8(w, k, n);
    const inputs = ['xq', 'w', 'xz'];
    if (kernel === 'u8s8') {
      initializers.push({ name: 'w', dataType: TensorDataType.INT8, dims: [k, n], raw: bytes(q) });
    } else {
      const u = new Uint8Array(q.length);
      for (let i = 0; i < q.length; i++) u[i] = q[i] + 128;
      initializers.push({ name: 'w', dataType: TensorDataType.UINT8, dims: [k, n], raw: u });
      initializers.push({
        name: 'wz',
        dataType: TensorDataType.UINT8,
        dims: [n],
        raw: new Uint8Array(n).fill(128),
      });
      inputs.push('wz');
    }
    initializers.push({ name: 'ws', dataType: TensorDataType.FLOAT, dims: [n], raw: bytes(scales) });
    nodes.push(
      { opType: 'DynamicQuantizeLinear', inputs: ['x'], outputs: ['xq', 'xs', 'xz'], name: 'quantize' },
      { opType: 'MatMulInteger', inputs, outputs: ['acc'], name: 'matmul' },
      {
        opType: 'Cast',
        inputs: ['acc'],
        outputs: ['accf'],
        name: 'cast',
        attributes: [{ name: 'to', type: 'int', value: TensorDataType.FLOAT }],
      },
      { opType: 'Mul', inputs: ['xs', 'ws'], outputs: ['scale'], name: 'scale' },
      { opType: 'Mul', inputs: ['accf', 'scale'], outputs: ['y'], name: 'dequantize' },
    );
  }
  writeOnnxModel(file, {
    graph: {
      name: `${kernel}-${k}x${n}`,
      nodes,
      initializers,
      inputs: [{ name: 'x', elemType: TensorDataType.FLOAT, shape: [TOKENS, k] }],
      outputs: [{ name: 'y', elemType: TensorDataType.FLOAT, shape: [TOKENS, n] }],
    },
    opsets: [{ domain: '', version: 17 }],
    producerName: 'reddino-studio-bench',
    producerVersion: '1',
  });
}

async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  const loadAtStart = load();
  const sessions = new Map<string, ort.InferenceSession>();
  const inputs = new Map<number, ort.Tensor>();
  for (const { k, n } of SHAPES) {
    if (!inputs.has(k)) {
      const x = weights(TOKENS * k, k).map((v) => v * 50); // activations of unit scale, like a LayerNorm output
      inputs.set(k, new ort.Tensor('float32', x, [TOKENS, k]));
    }
    for (const kernel of KERNELS) {
      const file = path.join(WORK, `${kernel}-${k}x${n}.onnx`);
      buildModel(file, kernel, k, n);
      sessions.set(
        `${kernel}-${k}x${n}`,
        await ort.InferenceSession.create(file, {
          executionProviders: ['cpu'],
          graphOptimizationLevel: 'all',
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
        }),
      );
    }
  }
  // best GMAC per CPU-second per kernel and shape
  const best: Record<Kernel, Record<string, number>> = { fp32: {}, u8s8: {}, u8u8: {} };
  for (let r = 0; r < ROUNDS; r++) {
    for (const { name, k, n } of SHAPES) {
      for (const kernel of KERNELS) {
        const session = sessions.get(`${kernel}-${k}x${n}`)!;
        const feeds = { x: inputs.get(k)! };
        await session.run(feeds);
        let runs = 0;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        while (performance.now() - t0 < SECONDS * 1000 || runs < 2) {
          await session.run(feeds);
          runs++;
        }
        const cpu = process.cpuUsage(c0);
        const gmac = (runs * TOKENS * k * n) / ((cpu.user + cpu.system) / 1e6) / 1e9;
        best[kernel][name] = Math.max(best[kernel][name] ?? 0, Math.round(gmac * 10) / 10);
      }
    }
  }
  for (const s of sessions.values()) await s.release();
  // Time-weighted over one forward pass: each layer shape runs once per block.
  const macs = SHAPES.map(({ k, n }) => TOKENS * k * n);
  const totalMacs = macs.reduce((a, b) => a + b, 0);
  const overall = (kernel: Kernel) =>
    totalMacs / SHAPES.reduce((t, { name }, i) => t + macs[i] / best[kernel][name], 0);
  const fp32 = overall('fp32');
  const u8s8 = overall('u8s8');
  const u8u8 = overall('u8u8');
  const result = {
    benchmark: 'vit-gemm',
    date: new Date().toISOString(),
    cpu: `${os.cpus()[0]?.model} (${os.availableParallelism()} logical cores)`,
    onnxruntime: ort.env.versions.common,
    setup: { tokens: TOKENS, threads: 1, secondsPerMeasurement: SECONDS, rounds: ROUNDS },
    gmacPerCpuSecond: best,
    forwardPassLinearLayers: {
      gmacPerCpuSecond: { fp32, u8s8, u8u8 },
      int8VsFp32: { u8s8: u8s8 / fp32, u8u8: u8u8 / fp32 },
    },
    loadAverage: { start: loadAtStart, end: load() },
  };
  const json = JSON.stringify(result, null, 2);
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench/results/vit-gemm.json'), `${json}\n`);
  console.log(json);
}

await main();
