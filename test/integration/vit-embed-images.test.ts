import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVitOnnx, IMAGENET_MEAN, IMAGENET_STD } from '../../src/main/engine/embed/vit/build';
import { embedImageFiles, listImageFiles } from '../../src/main/engine/embed/vit/embed-images';
import { preprocessImageFile } from '../../src/main/engine/embed/vit/preprocess';
import { openVitSession } from '../../src/main/engine/embed/vit/session';
import { readNpyFloat32 } from '../../src/main/engine/io/npy';
import { dataPath, PROJECT_ROOT, tempDir } from '../helpers/data';

const tmp = tempDir('vit-embed-images-');
const modelPath = path.join(tmp.dir, 'tiny.onnx');
beforeAll(async () => {
  await buildVitOnnx({ checkpointDir: path.join(PROJECT_ROOT, 'test/fixtures/vit-tiny/plain') }, modelPath);
});
afterAll(() => tmp.cleanup());

describe('embedImageFiles', () => {
  it('embeds a crop folder plus a single file into an N x D .npy in sorted path order', async () => {
    const folder = dataPath('fixture', 'mpidb_pf_crops');
    const single = dataPath('fixture', 'nih_cells', 'uninfected');
    const singleFile = path.join(single, fs.readdirSync(single).sort()[0]);
    const expectedFiles = listImageFiles([folder, singleFile]);
    expect(expectedFiles.length).toBeGreaterThan(3);
    expect([...expectedFiles].sort()).toEqual(expectedFiles);

    const outNpy = path.join(tmp.dir, 'out', 'emb.npy');
    const progress: number[] = [];
    const result = await embedImageFiles([singleFile, folder], modelPath, outNpy, {
      provider: 'cpu',
      threads: 2,
      batchSize: 3,
      onProgress: (done) => progress.push(done),
    });
    expect(result).toMatchObject({ count: expectedFiles.length, dims: 48, provider: 'cpu' });
    expect(result.files).toEqual(expectedFiles);
    expect(progress.at(-1)).toBe(expectedFiles.length);
    const matrix = readNpyFloat32(outNpy);
    expect([matrix.rows, matrix.cols]).toEqual([expectedFiles.length, 48]);

    // Row i is the embedding of file i on its own (batching and ordering do not mix rows up).
    const session = await openVitSession(modelPath, { provider: 'cpu', threads: 1 });
    try {
      for (const i of [0, expectedFiles.length - 1]) {
        const x = await preprocessImageFile(expectedFiles[i], 224, IMAGENET_MEAN, IMAGENET_STD);
        const alone = await session.embed(x, 1);
        for (let d = 0; d < 48; d++) expect(Math.abs(matrix.data[i * 48 + d] - alone[d])).toBeLessThan(1e-5);
      }
    } finally {
      await session.close();
    }
  });

  it('stops when cancelled and reports missing inputs', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      embedImageFiles([dataPath('fixture', 'mpidb_pf_crops')], modelPath, path.join(tmp.dir, 'c.npy'), {
        provider: 'cpu',
        signal: controller.signal,
      }),
    ).rejects.toThrow(/cancelled/);
    expect(fs.existsSync(path.join(tmp.dir, 'c.npy'))).toBe(false);
    await expect(
      embedImageFiles([path.join(tmp.dir, 'nope')], modelPath, path.join(tmp.dir, 'd.npy')),
    ).rejects.toThrow(/does not exist/);
  });
});
