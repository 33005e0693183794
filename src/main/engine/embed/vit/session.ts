import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import * as ort from 'onnxruntime-node';

/**
 * onnxruntime session for a ViT embedding graph: NCHW float32 pixels in, one float32 vector per image out.
 * Tries the accelerator of the platform first and falls back to the CPU, recording why.
 */

export type VitProvider = 'auto' | 'cpu' | 'cuda' | 'dml' | 'coreml';
export type VitResolvedProvider = Exclude<VitProvider, 'auto'>;

export interface VitSessionOptions {
  provider?: VitProvider;
  /** Intra-op threads for the CPU provider; default: all logical cores. */
  threads?: number;
  /** Overrides for benchmarking; the defaults are what measured fastest on CPU. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  enableCpuMemArena?: boolean;
  /**
   * Let idle intra-op threads spin between operators (onnxruntime's default). Spinning lowers latency on a
   * dedicated machine and wastes the CPU that other processes need on a shared one.
   */
  allowSpinning?: boolean;
  /** Saves the graph after onnxruntime's optimizations (for inspecting fusions). */
  optimizedModelFilePath?: string;
}

export interface VitSession {
  /** The provider that actually runs the graph. */
  provider: VitResolvedProvider;
  /** Why preferred providers were not used (empty when the first choice worked). */
  fallbackReasons: string[];
  dims: number;
  /** Square input side, when the graph fixes it. */
  inputSize: number | null;
  inputName: string;
  outputName: string;
  /** Embeds `n` images given as one NCHW float32 batch; returns n x dims values. */
  embed(batch: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

function candidateProviders(requested: VitProvider): VitResolvedProvider[] {
  if (requested !== 'auto') return requested === 'cpu' ? ['cpu'] : [requested, 'cpu'];
  switch (process.platform) {
    case 'win32':
      return ['cuda', 'dml', 'cpu'];
    case 'linux':
      return ['cuda', 'cpu'];
    case 'darwin':
      return ['coreml', 'cpu'];
    default:
      return ['cpu'];
  }
}

function supportedBackendNames(): Set<string> {
  try {
    return new Set(ort.listSupportedBackends().map((b) => b.name));
  } catch {
    return new Set(['cpu']);
  }
}

function tensorMetadata(meta: readonly ort.InferenceSession.ValueMetadata[], what: string) {
  if (meta.length !== 1)
    throw new Error(`a ViT embedding graph has one ${what}, this one has ${meta.length}`);
  const m = meta[0];
  if (!m.isTensor) throw new Error(`the ${what} '${m.name}' is not a tensor`);
  if (m.type !== 'float32') throw new Error(`the ${what} '${m.name}' is ${m.type}, expected float32`);
  return m;
}

/**
 * onnxruntime-node downloads its CUDA provider at install time unless told to skip; without the library, trying
 * the provider only prints a native error before falling back, so check for the file first.
 */
function cudaProviderInstalled(): boolean {
  try {
    const root = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const name =
      process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    const binDir = path.join(root, 'bin');
    return fs.readdirSync(binDir, { recursive: true }).some((f) => String(f).endsWith(name));
  } catch {
    return false;
  }
}

export async function openVitSession(onnxPath: string, options: VitSessionOptions = {}): Promise<VitSession> {
  const threads = options.threads ?? Math.max(1, os.availableParallelism());
  const available = supportedBackendNames();
  const fallbackReasons: string[] = [];
  let session: ort.InferenceSession | null = null;
  let provider: VitResolvedProvider = 'cpu';
  for (const candidate of candidateProviders(options.provider ?? 'auto')) {
    if (candidate !== 'cpu' && !available.has(candidate)) {
      fallbackReasons.push(`${candidate}: not included in this onnxruntime-node build`);
      continue;
    }
    if (candidate === 'cuda' && !cudaProviderInstalled()) {
      fallbackReasons.push(
        'cuda: the CUDA provider libraries are not installed (reinstall onnxruntime-node without ' +
          'onnxruntime-node-install=skip on a machine with CUDA 12 to use the GPU)',
      );
      continue;
    }
    try {
      session = await ort.InferenceSession.create(onnxPath, {
        executionProviders: [candidate],
        graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        enableCpuMemArena: options.enableCpuMemArena ?? true,
        enableMemPattern: true,
        ...(options.optimizedModelFilePath ? { optimizedModelFilePath: options.optimizedModelFilePath } : {}),
        ...(options.allowSpinning === false
          ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }
          : {}),
      });
      provider = candidate;
      break;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (candidate === 'cpu') throw new Error(`cannot open ${onnxPath}: ${reason}`);
      fallbackReasons.push(`${candidate}: ${reason.split('\n')[0]}`);
    }
  }
  if (!session) throw new Error(`no execution provider could open ${onnxPath}`);
  const opened = session;

  let input: ort.InferenceSession.TensorValueMetadata;
  let output: ort.InferenceSession.TensorValueMetadata;
  try {
    input = tensorMetadata(opened.inputMetadata, 'input');
    output = tensorMetadata(opened.outputMetadata, 'output');
    if (input.shape.length !== 4 || input.shape[1] !== 3) {
      throw new Error(
        `input '${input.name}' has shape [${input.shape.join(', ')}], expected [batch, 3, size, size]`,
      );
    }
    if (output.shape.length !== 2 || typeof output.shape[1] !== 'number') {
      throw new Error(
        `output '${output.name}' has shape [${output.shape.join(', ')}], expected [batch, dims]`,
      );
    }
  } catch (err) {
    await opened.release();
    throw err;
  }
  const dims = output.shape[1] as number;
  const h = input.shape[2];
  const w = input.shape[3];
  const inputSize = typeof h === 'number' && h === w ? h : null;

  return {
    provider,
    fallbackReasons,
    dims,
    inputSize,
    inputName: input.name,
    outputName: output.name,
    async embed(batch: Float32Array, n: number): Promise<Float32Array> {
      if (n <= 0) return new Float32Array(0);
      const pixelsPerImage = batch.length / n;
      const side = Math.round(Math.sqrt(pixelsPerImage / 3));
      if (!Number.isInteger(pixelsPerImage) || 3 * side * side !== pixelsPerImage) {
        throw new Error(`a batch of ${n} square RGB images cannot hold ${batch.length} values`);
      }
      if (inputSize !== null && side !== inputSize) {
        throw new Error(`the model takes ${inputSize}x${inputSize} images, got ${side}x${side}`);
      }
      const feeds = { [input.name]: new ort.Tensor('float32', batch, [n, 3, side, side]) };
      const result = await opened.run(feeds);
      const out = result[output.name];
      const data = out.data;
      if (
        !(data instanceof Float32Array) ||
        out.dims.length !== 2 ||
        out.dims[0] !== n ||
        out.dims[1] !== dims
      ) {
        throw new Error(`model output has shape [${out.dims.join(', ')}], expected [${n}, ${dims}]`);
      }
      // Copy out of onnxruntime's buffer, which is released with the tensor.
      const copy = new Float32Array(data);
      out.dispose();
      return copy;
    },
    async close(): Promise<void> {
      await opened.release();
    },
  };
}

/**
 * A deterministic smooth test image batch (values within the normalized-pixel range) for self-tests:
 * exercises every position and channel without needing an image file.
 */
export function syntheticPixelBatch(n: number, size: number): Float32Array {
  const out = new Float32Array(n * 3 * size * size);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          out[o++] = 1.5 * Math.sin((x + 1) * (0.05 + 0.01 * c) + (y + 1) * (0.031 + 0.007 * b) + c);
        }
      }
    }
  }
  return out;
}

/** Runs the graph once on a fixed input on the CPU; throws unless it returns finite [2, dims] values. */
export async function selfTestVitOnnx(
  onnxPath: string,
  inputSize: number,
  expectedDims?: number,
): Promise<number> {
  const session = await openVitSession(onnxPath, { provider: 'cpu', threads: 1 });
  try {
    if (expectedDims !== undefined && session.dims !== expectedDims) {
      throw new Error(`the graph outputs ${session.dims} dims, expected ${expectedDims}`);
    }
    const out = await session.embed(syntheticPixelBatch(2, inputSize), 2);
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i])) throw new Error(`the graph produced a non-finite value at output ${i}`);
    }
    return session.dims;
  } finally {
    await session.close();
  }
}
