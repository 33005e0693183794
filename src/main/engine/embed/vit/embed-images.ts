import fs from 'node:fs';
import path from 'node:path';
import { writeNpyFloat32 } from '../../io/npy';
import { IMAGENET_MEAN, IMAGENET_STD } from './build';
import { preprocessImageFile, type Rgb } from './preprocess';
import { openVitSession, type VitProvider, type VitResolvedProvider } from './session';

/** Embeds image files (cell crops) with a ViT ONNX model into an N x D float32 `.npy`, rows in path order. */

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp'];

export interface EmbedImagesOptions {
  /** Needed only when the graph does not fix its input size. */
  inputSize?: number;
  mean?: Rgb;
  std?: Rgb;
  provider?: VitProvider;
  threads?: number;
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

export interface EmbedImagesResult {
  count: number;
  dims: number;
  provider: VitResolvedProvider;
  seconds: number;
  /** The embedded files, in row order. */
  files: string[];
}

function collect(p: string, out: string[]): void {
  const stat = fs.statSync(p);
  if (stat.isDirectory()) {
    for (const entry of fs.readdirSync(p)) {
      if (entry.startsWith('.')) continue;
      collect(path.join(p, entry), out);
    }
  } else if (IMAGE_EXTENSIONS.includes(path.extname(p).toLowerCase())) {
    out.push(p);
  }
}

/** Image files under `paths` (files or folders, recursively), deduplicated, in code-unit path order. */
export function listImageFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (!fs.existsSync(p)) throw new Error(`${p} does not exist`);
    const before = out.length;
    collect(p, out);
    if (out.length === before && fs.statSync(p).isFile())
      throw new Error(`${p} is not a supported image file`);
  }
  return [...new Set(out.map((p) => path.resolve(p)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function embedImageFiles(
  paths: readonly string[],
  modelPath: string,
  outNpy: string,
  options: EmbedImagesOptions = {},
): Promise<EmbedImagesResult> {
  const started = performance.now();
  const files = listImageFiles(paths);
  if (files.length === 0) throw new Error('no image files found');
  const session = await openVitSession(modelPath, { provider: options.provider, threads: options.threads });
  try {
    const inputSize = session.inputSize ?? options.inputSize;
    if (inputSize === undefined) throw new Error('the model does not fix its input size: give inputSize');
    const mean = options.mean ?? IMAGENET_MEAN;
    const std = options.std ?? IMAGENET_STD;
    const batchSize = Math.max(1, options.batchSize ?? 8);
    const per = 3 * inputSize * inputSize;
    const out = new Float32Array(files.length * session.dims);

    const prepare = async (start: number): Promise<Float32Array> => {
      const end = Math.min(start + batchSize, files.length);
      const batch = new Float32Array((end - start) * per);
      for (let i = start; i < end; i++) {
        batch.set(await preprocessImageFile(files[i], inputSize, mean, std), (i - start) * per);
      }
      return batch;
    };

    options.onProgress?.(0, files.length, 'embedding');
    // Decode the next batch while onnxruntime runs the current one.
    let next = prepare(0);
    for (let start = 0; start < files.length; start += batchSize) {
      if (options.signal?.aborted) {
        next.catch(() => undefined);
        throw new Error('cancelled');
      }
      const batch = await next;
      const n = batch.length / per;
      if (start + batchSize < files.length) next = prepare(start + batchSize);
      out.set(await session.embed(batch, n), start * session.dims);
      options.onProgress?.(start + n, files.length, 'embedding');
    }
    fs.mkdirSync(path.dirname(path.resolve(outNpy)), { recursive: true });
    writeNpyFloat32(outNpy, out, files.length, session.dims);
    return {
      count: files.length,
      dims: session.dims,
      provider: session.provider,
      seconds: (performance.now() - started) / 1000,
      files,
    };
  } finally {
    await session.close();
  }
}
