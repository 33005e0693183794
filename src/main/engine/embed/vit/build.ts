import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeOnnxModel } from './onnx-proto';
import { openSafetensors, type SafetensorsFile } from './safetensors';
import { selfTestVitOnnx, openVitSession, syntheticPixelBatch } from './session';
import {
  buildVitGraph,
  type VitArchitecture,
  type VitAttentionImpl,
  type VitQuantization,
  type VitWeightSource,
} from './vit-graph';

/**
 * Builds the ONNX embedding graph of a timm DINOv2-family ViT (RedDino) from its safetensors checkpoint,
 * and imports models into the app's model folder. Pickle checkpoints are refused: unpickling runs code.
 */

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

const PICKLE_EXTENSIONS = ['.pth', '.pt', '.bin', '.ckpt', '.pkl', '.pickle'];

/** Published DINOv2 sizes; `model_args` in config.json overrides them (e.g. for small test models). */
const ARCH_SIZES: Record<string, { dims: number; heads: number; depth: number }> = {
  small: { dims: 384, heads: 6, depth: 12 },
  base: { dims: 768, heads: 12, depth: 12 },
  large: { dims: 1024, heads: 16, depth: 24 },
  giant: { dims: 1536, heads: 24, depth: 40 },
};
const ARCH_PATTERN = /^(?:timm\/)?vit_(small|base|large|giant)_patch(\d+)(?:_reg(\d+))?_dinov2(?:\..*)?$/;

export interface VitCheckpointSource {
  /** A timm model folder: model.safetensors + config.json. */
  checkpointDir?: string;
  /** A lone safetensors file; needs `arch` unless a config.json sits beside it. */
  safetensorsPath?: string;
  /** timm architecture name, e.g. vit_base_patch14_dinov2; overrides config.json. */
  arch?: string;
}

export interface VitProgressOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}

export interface VitBuildOptions extends VitProgressOptions {
  quantize?: VitQuantization;
  attention?: VitAttentionImpl;
  /**
   * Input side to build for (a multiple of the patch size). Default: config.json's, else the checkpoint's
   * positional-embedding grid. Another size resamples the positional embedding like timm (bicubic).
   */
  inputSize?: number;
  /** Weights beyond this size go to `<out>.data` (ONNX external data); default 1.5 GiB. */
  maxInlineWeightBytes?: number;
  /** Runs the built graph once (default true). */
  selfTest?: boolean;
}

export interface VitBuildResult {
  arch: string;
  dims: number;
  inputSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  numRegisterTokens: number;
  /** sha256 of the .onnx file (hex). */
  sha256: string;
  onnxPath: string;
  /** Every file written (the .onnx, and `<onnx>.data` for models over 1.5 GB). */
  files: string[];
  quantize: VitQuantization;
  architecture: VitArchitecture;
}

export class VitImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VitImportError';
  }
}

interface TimmConfig {
  architecture?: string;
  modelArgs: Record<string, unknown>;
  inputSize?: number;
  mean?: [number, number, number];
  std?: [number, number, number];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function triple(v: unknown): [number, number, number] | undefined {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))
    ? [v[0], v[1], v[2]]
    : undefined;
}

export function readTimmConfig(configPath: string): TimmConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new VitImportError(`cannot read ${configPath}: ${(err as Error).message}`);
  }
  if (!isRecord(raw)) throw new VitImportError(`${configPath} is not a JSON object`);
  // timm hub configs nest the preprocessing under pretrained_cfg; older ones keep it at the top level.
  const cfg = isRecord(raw.pretrained_cfg) ? raw.pretrained_cfg : raw;
  const modelArgs = isRecord(raw.model_args) ? raw.model_args : {};
  const inputSizeField = cfg.input_size;
  let inputSize: number | undefined;
  if (typeof modelArgs.img_size === 'number') inputSize = modelArgs.img_size;
  else if (Array.isArray(inputSizeField) && typeof inputSizeField[2] === 'number')
    inputSize = inputSizeField[2];
  return {
    architecture: typeof raw.architecture === 'string' ? raw.architecture : undefined,
    modelArgs,
    inputSize,
    mean: triple(cfg.mean),
    std: triple(cfg.std),
  };
}

function shapeOf(file: SafetensorsFile, name: string): number[] {
  const e = file.entries.get(name);
  if (!e) throw new VitImportError(`${file.path} has no tensor '${name}': not a timm DINOv2 ViT checkpoint`);
  return e.shape;
}

function isqrt(n: number): number | null {
  const r = Math.round(Math.sqrt(n));
  return r * r === n ? r : null;
}

/** Reads the architecture from the arch name, config.json's model_args and the tensor shapes. */
export function inferVitArchitecture(
  file: SafetensorsFile,
  archName: string | undefined,
  config: TimmConfig | null,
  requestedInputSize?: number,
): VitArchitecture {
  const arch = archName ?? config?.architecture;
  if (!arch) {
    throw new VitImportError(
      'the architecture is unknown: give one (e.g. vit_base_patch14_dinov2) or put the config.json beside the weights',
    );
  }
  const m = ARCH_PATTERN.exec(arch);
  if (!m) {
    throw new VitImportError(
      `architecture '${arch}' is not supported; expected vit_{small,base,large,giant}_patch14[_reg4]_dinov2`,
    );
  }
  const size = ARCH_SIZES[m[1]];
  const args = config?.modelArgs ?? {};
  const cls = shapeOf(file, 'cls_token');
  const dims = cls[cls.length - 1];
  const conv = shapeOf(file, 'patch_embed.proj.weight');
  if (conv.length !== 4 || conv[0] !== dims || conv[1] !== 3 || conv[2] !== conv[3]) {
    throw new VitImportError(
      `patch_embed.proj.weight has shape [${conv.join(', ')}], expected [${dims}, 3, p, p]`,
    );
  }
  const patchSize = conv[2];
  if (patchSize !== Number(m[2])) {
    throw new VitImportError(
      `${arch} has ${m[2]}-pixel patches but the checkpoint has ${patchSize}-pixel patches`,
    );
  }
  let heads: number;
  if (typeof args.num_heads === 'number') heads = args.num_heads;
  else if (dims === size.dims) heads = size.heads;
  else {
    throw new VitImportError(
      `the checkpoint has ${dims} dims, not the ${size.dims} of ${arch}; config.json must give model_args.num_heads`,
    );
  }
  let depth = 0;
  for (const name of file.entries.keys()) {
    const b = /^blocks\.(\d+)\./.exec(name);
    if (b) depth = Math.max(depth, Number(b[1]) + 1);
  }
  if (depth === 0) throw new VitImportError(`${file.path} has no transformer blocks`);
  const numRegisterTokens = file.entries.has('reg_token') ? shapeOf(file, 'reg_token')[1] : 0;
  if (m[3] !== undefined && Number(m[3]) !== numRegisterTokens) {
    throw new VitImportError(
      `${arch} has ${m[3]} register tokens but the checkpoint has ${numRegisterTokens}`,
    );
  }
  const posLen = shapeOf(file, 'pos_embed')[1];
  let posEmbedPrefixTokens: number;
  let grid = isqrt(posLen);
  if (grid !== null) posEmbedPrefixTokens = 0;
  else {
    posEmbedPrefixTokens = 1 + numRegisterTokens;
    grid = isqrt(posLen - posEmbedPrefixTokens);
    if (grid === null) {
      throw new VitImportError(
        `pos_embed has ${posLen} tokens, which is no square patch grid plus prefix tokens`,
      );
    }
  }
  const nativeSize = grid * patchSize;
  const inputSize = requestedInputSize ?? config?.inputSize ?? nativeSize;
  if (!Number.isInteger(inputSize) || inputSize <= 0 || inputSize % patchSize !== 0) {
    throw new VitImportError(
      `input size ${inputSize} is not a positive multiple of the ${patchSize}-pixel patch`,
    );
  }
  let mlp: VitArchitecture['mlp'];
  let mlpHidden: number;
  const fc2 = shapeOf(file, 'blocks.0.mlp.fc2.weight');
  mlpHidden = fc2[1];
  if (file.entries.has('blocks.0.mlp.fc1_g.weight')) mlp = 'swiglu';
  else {
    const fc1 = shapeOf(file, 'blocks.0.mlp.fc1.weight');
    if (fc1[0] === fc2[1]) mlp = 'gelu';
    else if (fc1[0] === 2 * fc2[1]) mlp = 'swiglu';
    else throw new VitImportError(`mlp.fc1 [${fc1.join(', ')}] and mlp.fc2 [${fc2.join(', ')}] do not match`);
  }
  if (mlp === 'swiglu') mlpHidden = fc2[1];
  return {
    arch,
    dims,
    depth,
    heads,
    patchSize,
    inputSize,
    numRegisterTokens,
    posEmbedPrefixTokens,
    posEmbedGrid: grid,
    mlp,
    mlpHidden,
    layerNormEps: 1e-6,
  };
}

export async function sha256File(filePath: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(filePath)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('cancelled');
}

function resolveCheckpoint(source: VitCheckpointSource): { weightsPath: string; configPath: string | null } {
  if (source.checkpointDir) {
    const weightsPath = path.join(source.checkpointDir, 'model.safetensors');
    if (!fs.existsSync(weightsPath)) {
      const pickles = fs.existsSync(source.checkpointDir)
        ? fs
            .readdirSync(source.checkpointDir)
            .filter((f) => PICKLE_EXTENSIONS.includes(path.extname(f).toLowerCase()))
        : [];
      if (pickles.length > 0)
        throw new VitImportError(pickleRefusal(path.join(source.checkpointDir, pickles[0])));
      throw new VitImportError(`${source.checkpointDir} has no model.safetensors`);
    }
    const configPath = path.join(source.checkpointDir, 'config.json');
    return { weightsPath, configPath: fs.existsSync(configPath) ? configPath : null };
  }
  if (source.safetensorsPath) {
    const configPath = path.join(path.dirname(source.safetensorsPath), 'config.json');
    return { weightsPath: source.safetensorsPath, configPath: fs.existsSync(configPath) ? configPath : null };
  }
  throw new VitImportError('give a checkpoint folder or a .safetensors file');
}

/** Builds `outPath` (ONNX, opset 17) from a timm DINOv2 checkpoint and checks it runs. */
export async function buildVitOnnx(
  source: VitCheckpointSource,
  outPath: string,
  options: VitBuildOptions = {},
): Promise<VitBuildResult> {
  const { weightsPath, configPath } = resolveCheckpoint(source);
  const config = configPath ? readTimmConfig(configPath) : null;
  const file = openSafetensors(weightsPath);
  let architecture: VitArchitecture;
  const quantize = options.quantize ?? 'none';
  const files: string[] = [];
  try {
    architecture = inferVitArchitecture(file, source.arch, config, options.inputSize);
    const total = architecture.depth + 2;
    options.onProgress?.(0, total, 'reading checkpoint');
    const weights: VitWeightSource = {
      get: (name) => {
        if (name.endsWith('attn.qkv.bias') && !file.entries.has(name)) {
          return new Float32Array(3 * architecture.dims); // qkv_bias=False checkpoints
        }
        const m = /^blocks\.(\d+)\.norm1\.weight$/.exec(name);
        if (m) {
          checkAborted(options.signal);
          options.onProgress?.(Number(m[1]) + 1, total, 'building graph');
        }
        return file.read(name);
      },
      has: (name) => file.entries.has(name),
    };
    const model = buildVitGraph(architecture, weights, {
      quantize,
      attention: options.attention,
      metadata: {
        arch: architecture.arch,
        dims: String(architecture.dims),
        input_size: String(architecture.inputSize),
        mean: JSON.stringify(config?.mean ?? IMAGENET_MEAN),
        std: JSON.stringify(config?.std ?? IMAGENET_STD),
        quantize,
      },
    });
    checkAborted(options.signal);
    fs.mkdirSync(path.dirname(path.resolve(outPath)), { recursive: true });
    files.push(...writeOnnxModel(outPath, model, options.maxInlineWeightBytes));
  } finally {
    file.close();
  }
  try {
    if (options.selfTest !== false) {
      options.onProgress?.(architecture.depth + 1, architecture.depth + 2, 'self-test');
      await selfTestVitOnnx(outPath, architecture.inputSize, architecture.dims);
    }
  } catch (err) {
    for (const f of files) fs.rmSync(f, { force: true });
    throw new VitImportError(`the built graph failed its self-test: ${(err as Error).message}`);
  }
  const sha256 = await sha256File(outPath);
  options.onProgress?.(architecture.depth + 2, architecture.depth + 2, 'done');
  return {
    arch: architecture.arch,
    dims: architecture.dims,
    inputSize: architecture.inputSize,
    mean: config?.mean ?? IMAGENET_MEAN,
    std: config?.std ?? IMAGENET_STD,
    numRegisterTokens: architecture.numRegisterTokens,
    sha256,
    onnxPath: outPath,
    files,
    quantize,
    architecture,
  };
}

// ---- import ----

export interface VitModelRecord {
  name: string;
  kind: 'vit-onnx';
  onnxPath: string;
  fileSha256: string;
  dims: number;
  inputSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  arch: string;
}

export interface VitImportOptions extends VitProgressOptions {
  name?: string;
  arch?: string;
  /** Folder the app keeps its models in; the built or copied .onnx goes there. */
  modelsDir: string;
  inputSize?: number;
  mean?: [number, number, number];
  std?: [number, number, number];
  quantize?: VitQuantization;
  maxInlineWeightBytes?: number;
}

function pickleRefusal(filePath: string): string {
  return (
    `${path.basename(filePath)} is a PyTorch pickle checkpoint. Loading a pickle runs whatever code the file ` +
    `contains, so RedDino Studio never opens one. Use the model's model.safetensors (with its config.json), ` +
    `or convert it once yourself in a trusted Python environment with safetensors.torch.save_file.`
  );
}

function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  return slug || 'model';
}

async function placeInModelsDir(tmpPath: string, modelsDir: string, name: string) {
  const sha = await sha256File(tmpPath);
  // Content-addressed file name: importing the same model twice yields the same file, never a clobbered one.
  // An external-data file keeps its name: the .onnx refers to it by that name.
  const finalPath = path.join(modelsDir, `${slugify(name)}-${sha.slice(0, 12)}.onnx`);
  fs.renameSync(tmpPath, finalPath);
  return { finalPath, sha };
}

/**
 * Imports a model: a timm folder (model.safetensors + config.json), a lone .safetensors (with `arch`), or a
 * ready .onnx (with its input size and normalization, validated by running it). Returns the record to store.
 */
export async function importVitModel(sourcePath: string, options: VitImportOptions): Promise<VitModelRecord> {
  const ext = path.extname(sourcePath).toLowerCase();
  if (PICKLE_EXTENSIONS.includes(ext)) throw new VitImportError(pickleRefusal(sourcePath));
  if (!fs.existsSync(sourcePath)) throw new VitImportError(`${sourcePath} does not exist`);
  fs.mkdirSync(options.modelsDir, { recursive: true });
  const isDir = fs.statSync(sourcePath).isDirectory();

  if (isDir || ext === '.safetensors') {
    const name =
      options.name ??
      path.basename(isDir ? path.resolve(sourcePath) : path.dirname(path.resolve(sourcePath)));
    const tmp = path.join(
      options.modelsDir,
      `${slugify(name)}-import-${crypto.randomBytes(4).toString('hex')}.onnx`,
    );
    const source: VitCheckpointSource = isDir
      ? { checkpointDir: sourcePath, arch: options.arch }
      : { safetensorsPath: sourcePath, arch: options.arch };
    const built = await buildVitOnnx(source, tmp, {
      inputSize: options.inputSize,
      quantize: options.quantize,
      maxInlineWeightBytes: options.maxInlineWeightBytes,
      signal: options.signal,
      onProgress: options.onProgress,
    });
    const { finalPath, sha } = await placeInModelsDir(tmp, options.modelsDir, name);
    return {
      name,
      kind: 'vit-onnx',
      onnxPath: finalPath,
      fileSha256: sha,
      dims: built.dims,
      inputSize: built.inputSize,
      mean: options.mean ?? built.mean,
      std: options.std ?? built.std,
      arch: built.arch,
    };
  }

  if (ext === '.onnx') {
    const name = options.name ?? path.basename(sourcePath, ext);
    const session = await openVitSession(sourcePath, { provider: 'cpu', threads: 1 }).catch(
      (err: unknown) => {
        throw new VitImportError(`${sourcePath} is not a usable embedding model: ${(err as Error).message}`);
      },
    );
    let dims: number;
    let inputSize: number;
    try {
      if (
        session.inputSize !== null &&
        options.inputSize !== undefined &&
        options.inputSize !== session.inputSize
      ) {
        throw new VitImportError(
          `the model takes ${session.inputSize}x${session.inputSize} input, not ${options.inputSize}`,
        );
      }
      const size = session.inputSize ?? options.inputSize;
      if (size === undefined) {
        throw new VitImportError(
          'the model does not fix its input size: give the input size it was trained at',
        );
      }
      inputSize = size;
      const out = await session.embed(syntheticPixelBatch(2, inputSize), 2);
      if (!out.every(Number.isFinite))
        throw new VitImportError('the model produced non-finite values on a test image');
      dims = session.dims;
    } catch (err) {
      if (err instanceof VitImportError) throw err;
      throw new VitImportError(`${sourcePath} is not a usable embedding model: ${(err as Error).message}`);
    } finally {
      await session.close();
    }
    const tmp = path.join(
      options.modelsDir,
      `${slugify(name)}-import-${crypto.randomBytes(4).toString('hex')}.onnx`,
    );
    fs.copyFileSync(sourcePath, tmp);
    const extras: string[] = [];
    const dataPath = `${sourcePath}.data`;
    if (fs.existsSync(dataPath)) {
      const tmpData = path.join(options.modelsDir, path.basename(dataPath));
      fs.copyFileSync(dataPath, `${tmpData}.tmp`);
      extras.push(`${tmpData}.tmp`);
    }
    const { finalPath, sha } = await placeInModelsDir(tmp, options.modelsDir, name);
    for (const e of extras) fs.renameSync(e, e.replace(/\.tmp$/, ''));
    return {
      name,
      kind: 'vit-onnx',
      onnxPath: finalPath,
      fileSha256: sha,
      dims,
      inputSize,
      mean: options.mean ?? IMAGENET_MEAN,
      std: options.std ?? IMAGENET_STD,
      arch: options.arch ?? 'onnx',
    };
  }

  throw new VitImportError(
    `${path.basename(sourcePath)}: expected a timm model folder, a .safetensors file or an .onnx file`,
  );
}
