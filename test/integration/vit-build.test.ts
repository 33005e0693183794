import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVitOnnx, importVitModel, VitImportError } from '../../src/main/engine/embed/vit/build';
import { decodeRgb, normalizeIntoNchw, type Rgb } from '../../src/main/engine/embed/vit/preprocess';
import { openVitSession, syntheticPixelBatch } from '../../src/main/engine/embed/vit/session';
import { readNpyFloat32 } from '../../src/main/engine/io/npy';
import { PROJECT_ROOT, tempDir } from '../helpers/data';

const FIXTURE = path.join(PROJECT_ROOT, 'test/fixtures/vit-tiny');
const meta = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'crops.json'), 'utf8')) as {
  mean: Rgb;
  std: Rgb;
  crops: { resized: string }[];
};
const tmp = tempDir('vit-build-');
const PER_IMAGE = 3 * 224 * 224;
let inputs: Float32Array;

beforeAll(async () => {
  // The PIL-resized crops the torch reference outputs were computed from.
  inputs = new Float32Array(meta.crops.length * PER_IMAGE);
  for (let i = 0; i < meta.crops.length; i++) {
    const img = await decodeRgb(path.join(FIXTURE, meta.crops[i].resized));
    normalizeIntoNchw(img, meta.mean, meta.std, inputs, i * PER_IMAGE);
  }
});
afterAll(() => tmp.cleanup());

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function rowCosines(a: Float32Array, b: Float32Array, dims: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < a.length / dims; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let d = r * dims; d < (r + 1) * dims; d++) {
      ab += a[d] * b[d];
      aa += a[d] * a[d];
      bb += b[d] * b[d];
    }
    out.push(ab / Math.sqrt(aa * bb));
  }
  return out;
}

async function embedAll(onnxPath: string, n = meta.crops.length): Promise<Float32Array> {
  const session = await openVitSession(onnxPath, { provider: 'cpu', threads: 2 });
  try {
    return await session.embed(inputs.subarray(0, n * PER_IMAGE), n);
  } finally {
    await session.close();
  }
}

describe('ViT ONNX built from timm safetensors', () => {
  for (const [variant, regs] of [
    ['plain', 0],
    ['reg4', 4],
    ['swiglu', 0],
  ] as const) {
    it(`matches the torch reference within 1e-4 (${variant})`, async () => {
      const out = path.join(tmp.dir, `${variant}.onnx`);
      const phases = new Set<string>();
      const built = await buildVitOnnx({ checkpointDir: path.join(FIXTURE, variant) }, out, {
        onProgress: (_d, _t, phase) => phases.add(phase),
      });
      expect(built.dims).toBe(48);
      expect(built.inputSize).toBe(224);
      expect(built.numRegisterTokens).toBe(regs);
      expect(built.mean).toEqual(meta.mean);
      expect(built.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(phases).toContain('self-test');
      const reference = readNpyFloat32(path.join(FIXTURE, variant, 'cls.npy'));
      const got = await embedAll(out);
      expect(maxAbsDiff(got, reference.data)).toBeLessThan(1e-4);
      // Dynamic batch: one image alone gives the same vector as inside the batch.
      const single = await embedAll(out, 1);
      expect(maxAbsDiff(single, got.subarray(0, 48))).toBeLessThan(1e-5);
    });
  }

  it('the onnxruntime MultiHeadAttention variant matches torch too (reg4, CLS-only last block)', async () => {
    const out = path.join(tmp.dir, 'reg4-contrib.onnx');
    await buildVitOnnx({ checkpointDir: path.join(FIXTURE, 'reg4') }, out, { attention: 'contrib' });
    const reference = readNpyFloat32(path.join(FIXTURE, 'reg4', 'cls.npy'));
    expect(maxAbsDiff(await embedAll(out), reference.data)).toBeLessThan(1e-4);
  });

  it('int8 quantized graph stays close to fp32 (cosine)', async () => {
    const out = path.join(tmp.dir, 'plain-int8.onnx');
    const built = await buildVitOnnx({ checkpointDir: path.join(FIXTURE, 'plain') }, out, {
      quantize: 'int8',
    });
    expect(built.quantize).toBe('int8');
    // Linear weights shrink 4x; the positional embedding (a large share of this tiny model) stays fp32.
    expect(fs.statSync(out).size).toBeLessThan(
      0.7 * fs.statSync(path.join(FIXTURE, 'plain/model.safetensors')).size,
    );
    const reference = readNpyFloat32(path.join(FIXTURE, 'plain', 'cls.npy'));
    const cosines = rowCosines(await embedAll(out), reference.data, 48);
    // Tiny random model with deliberately large weights: agreement is looser than on a real ViT-S.
    for (const c of cosines) expect(c).toBeGreaterThan(0.99);
  });

  for (const size of [168, 280]) {
    it(`resamples the positional embedding like timm for ${size}x${size} input`, async () => {
      const out = path.join(tmp.dir, `plain-${size}.onnx`);
      const built = await buildVitOnnx({ checkpointDir: path.join(FIXTURE, 'plain') }, out, {
        inputSize: size,
      });
      expect(built.inputSize).toBe(size);
      const session = await openVitSession(out, { provider: 'cpu', threads: 2 });
      try {
        const got = await session.embed(syntheticPixelBatch(2, size), 2);
        const reference = readNpyFloat32(path.join(FIXTURE, 'plain', `cls-synthetic-${size}.npy`));
        expect(maxAbsDiff(got, reference.data)).toBeLessThan(1e-4);
      } finally {
        await session.close();
      }
    });
  }

  it('refuses an input size that is not a multiple of the patch', async () => {
    await expect(
      buildVitOnnx({ checkpointDir: path.join(FIXTURE, 'plain') }, path.join(tmp.dir, 'x.onnx'), {
        inputSize: 250,
      }),
    ).rejects.toThrow(/not a positive multiple of the 14-pixel patch/);
    expect(fs.existsSync(path.join(tmp.dir, 'x.onnx'))).toBe(false);
  });
});

describe('importVitModel', () => {
  it('imports a timm folder, a lone safetensors with arch, and a ready ONNX', async () => {
    const modelsDir = path.join(tmp.dir, 'models');
    const fromFolder = await importVitModel(path.join(FIXTURE, 'reg4'), { modelsDir, name: 'RedDino test' });
    expect(fromFolder).toMatchObject({ name: 'RedDino test', kind: 'vit-onnx', dims: 48, inputSize: 224 });
    expect(fromFolder.arch).toBe('vit_small_patch14_reg4_dinov2');
    expect(path.dirname(fromFolder.onnxPath)).toBe(modelsDir);
    expect(fs.existsSync(fromFolder.onnxPath)).toBe(true);

    // A lone safetensors without config.json: the architecture must be given, and the tiny model's
    // non-standard width needs the head count only config.json can carry.
    const lone = path.join(tmp.dir, 'lone', 'weights.safetensors');
    fs.mkdirSync(path.dirname(lone), { recursive: true });
    fs.copyFileSync(path.join(FIXTURE, 'plain/model.safetensors'), lone);
    await expect(importVitModel(lone, { modelsDir })).rejects.toThrow(/architecture is unknown/);
    await expect(importVitModel(lone, { modelsDir, arch: 'vit_small_patch14_dinov2' })).rejects.toThrow(
      /num_heads/,
    );
    await expect(importVitModel(lone, { modelsDir, arch: 'resnet50' })).rejects.toThrow(/not supported/);
    fs.copyFileSync(path.join(FIXTURE, 'plain/config.json'), path.join(tmp.dir, 'lone', 'config.json'));
    const fromFile = await importVitModel(lone, { modelsDir, arch: 'vit_small_patch14_dinov2' });
    expect(fromFile.dims).toBe(48);

    const ready = await importVitModel(fromFolder.onnxPath, {
      modelsDir: path.join(tmp.dir, 'models2'),
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
    });
    expect(ready).toMatchObject({ kind: 'vit-onnx', dims: 48, inputSize: 224, mean: [0.5, 0.5, 0.5] });
    expect(ready.fileSha256).toBe(fromFolder.fileSha256);
    await expect(
      importVitModel(fromFolder.onnxPath, { modelsDir: path.join(tmp.dir, 'models3'), inputSize: 448 }),
    ).rejects.toThrow(/224x224/);
  });

  it('writes weights as ONNX external data when they exceed the inline limit', async () => {
    const modelsDir = path.join(tmp.dir, 'models-external');
    const record = await importVitModel(path.join(FIXTURE, 'plain'), {
      modelsDir,
      maxInlineWeightBytes: 1000,
    });
    const files = fs.readdirSync(modelsDir).sort();
    expect(files).toHaveLength(2);
    const dataFile = files.find((f) => f.endsWith('.onnx.data')) as string;
    expect(fs.statSync(path.join(modelsDir, dataFile)).size).toBeGreaterThan(
      fs.statSync(record.onnxPath).size,
    );
    const reference = readNpyFloat32(path.join(FIXTURE, 'plain', 'cls.npy'));
    expect(maxAbsDiff(await embedAll(record.onnxPath), reference.data)).toBeLessThan(1e-4);
  });

  it('refuses pickle checkpoints and explains why', async () => {
    const modelsDir = path.join(tmp.dir, 'models-pickle');
    for (const ext of ['.pth', '.bin', '.pt', '.ckpt', '.pkl']) {
      const file = path.join(tmp.dir, `model${ext}`);
      fs.writeFileSync(file, Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e])); // a pickle stream
      const err = await importVitModel(file, { modelsDir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VitImportError);
      expect((err as Error).message).toMatch(/pickle/);
      expect((err as Error).message).toMatch(/runs whatever code/);
    }
    const folder = path.join(tmp.dir, 'hf-pickle');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'pytorch_model.bin'), Buffer.from([0x80, 0x02]));
    await expect(importVitModel(folder, { modelsDir })).rejects.toThrow(/pickle/);
    expect(fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir) : []).toEqual([]);
  });

  it('rejects a file that is not an embedding model', async () => {
    const junk = path.join(tmp.dir, 'junk.onnx');
    fs.writeFileSync(junk, 'definitely not protobuf');
    await expect(importVitModel(junk, { modelsDir: path.join(tmp.dir, 'models4') })).rejects.toThrow(
      VitImportError,
    );
  });
});
