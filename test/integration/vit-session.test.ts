import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVitOnnx } from '../../src/main/engine/embed/vit/build';
import { openVitSession, syntheticPixelBatch } from '../../src/main/engine/embed/vit/session';
import { PROJECT_ROOT, tempDir } from '../helpers/data';

const tmp = tempDir('vit-session-');
const modelPath = path.join(tmp.dir, 'tiny.onnx');
beforeAll(async () => {
  await buildVitOnnx({ checkpointDir: path.join(PROJECT_ROOT, 'test/fixtures/vit-tiny/plain') }, modelPath, {
    selfTest: false,
  });
});
afterAll(() => tmp.cleanup());

describe('openVitSession', () => {
  it('falls back to the CPU and says why when an accelerator is unavailable', async () => {
    const requested =
      process.platform === 'darwin' ? 'coreml' : process.platform === 'win32' ? 'dml' : 'cuda';
    const session = await openVitSession(modelPath, { provider: requested, threads: 1 });
    try {
      expect(session.dims).toBe(48);
      expect(session.inputSize).toBe(224);
      if (session.provider === 'cpu') {
        expect(session.fallbackReasons.length).toBeGreaterThan(0);
        expect(session.fallbackReasons[0].startsWith(`${requested}:`)).toBe(true);
      } else {
        expect(session.provider).toBe(requested);
      }
    } finally {
      await session.close();
    }
  });

  it('checks batch geometry before running', async () => {
    const session = await openVitSession(modelPath, { provider: 'cpu', threads: 1 });
    try {
      expect((await session.embed(new Float32Array(0), 0)).length).toBe(0);
      await expect(session.embed(new Float32Array(3 * 100 * 100), 1)).rejects.toThrow(/224x224/);
      await expect(session.embed(new Float32Array(3 * 224 * 224 + 1), 1)).rejects.toThrow(/cannot hold/);
      const out = await session.embed(syntheticPixelBatch(3, 224), 3);
      expect(out.length).toBe(3 * 48);
      // Different images give different embeddings.
      expect(out.subarray(0, 48)).not.toEqual(out.subarray(48, 96));
    } finally {
      await session.close();
    }
  });
});
