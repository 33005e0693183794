import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import type { ApiResults } from '../../src/shared/api';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { openVitSession } from '../../src/main/engine/embed/vit/session';
import { preprocessCellCrops, type Rgb } from '../../src/main/engine/embed/vit/preprocess';
import { runEmbed } from '../../src/main/engine/services/embed';
import type { ModelRecord } from '../../src/main/engine/store/store';
import { PROJECT_ROOT, dataPath, tempDir } from '../helpers/data';

// The ViT embed job fills its batches across images (single-cell crop images included) and cuts the next batch
// while one runs: every cell must still get the vector of its own crop, as embedding it alone gives.
let tmp: { dir: string; cleanup: () => void };
let engine: Engine;
let model: ModelRecord;
const call = <M extends keyof ApiResults>(m: M, a: object) => engine.call(m, a) as Promise<ApiResults[M]>;

beforeAll(async () => {
  tmp = tempDir();
  engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
  await call('project.create', { path: path.join(tmp.dir, 'vit.rdproj') });
  // Two smear fields (about a hundred cells each) and eleven single-cell crops: batches of 8 straddle images.
  const fields = path.join(tmp.dir, 'fields');
  fs.mkdirSync(fields);
  for (const f of ['94.jpg', '101.jpg'])
    fs.copyFileSync(dataPath('fixture', 'chula_fields', f), path.join(fields, f));
  const crops = path.join(tmp.dir, 'crops', 'uninfected');
  fs.mkdirSync(crops, { recursive: true });
  const source = dataPath('fixture', 'nih_cells', 'uninfected');
  for (const f of fs.readdirSync(source).sort().slice(0, 11))
    fs.copyFileSync(path.join(source, f), path.join(crops, f));
  for (const params of [{ paths: [fields] }, { paths: [path.join(tmp.dir, 'crops')], as: 'crops' }]) {
    const { jobId } = await call('ingest.start', params);
    await engine.jobs.wait(jobId);
    expect(engine.project.getJob(jobId)!.state).toBe('done');
  }
  const added = await call('models.add', {
    path: path.join(PROJECT_ROOT, 'test/fixtures/vit-tiny/plain'),
    name: 'vit-tiny',
  });
  model = engine.project.getModel(added.id)!;
}, 300_000);

afterAll(async () => {
  await engine.dispose();
  tmp.cleanup();
});

describe('ViT embedding in batches across images', () => {
  it('gives every cell the vector of its own crop', async () => {
    const store = engine.project;
    const total = store.cellCount();
    expect(store.listSlides().length).toBe(13);
    expect(total % 8).not.toBe(0);
    const seen: number[] = [];
    const summary = await runEmbed(
      store,
      model,
      { provider: 'cpu' },
      {
        signal: new AbortController().signal,
        progress: (done) => seen.push(done),
      },
    );
    expect(summary.cells).toBe(total);
    expect(seen.at(-1)).toBe(total);
    const { cellIds, vectors, dims } = store.getEmbeddings(model.id);
    expect(cellIds.length).toBe(total);

    // Reference: each cell alone, preprocessed from its own decoded image, in a batch of one.
    const session = await openVitSession(model.path!, { provider: 'cpu', threads: 2 });
    try {
      const row = new Map(Array.from(cellIds, (id, i) => [id, i]));
      let maxErr = 0;
      for (const slide of store.listSlides()) {
        const img = await decodeImage(store.getImage(slide.id)!.path);
        const rgb = { data: img.data, width: img.width, height: img.height };
        // Every crop image and every tenth cell of the fields.
        const cells = store.queryCells({ imageIds: [slide.id] }).filter((_, i) => i % 10 === 0);
        for (const c of cells) {
          const [x, y, width, height] = store.getCell(c.id)!.bbox;
          const input = preprocessCellCrops(
            rgb,
            [{ x, y, width, height }],
            model.inputSize!,
            model.mean as Rgb,
            model.std as Rgb,
          );
          const alone = await session.embed(input, 1);
          const got = vectors.subarray(row.get(c.id)! * dims, (row.get(c.id)! + 1) * dims);
          for (let j = 0; j < dims; j++) maxErr = Math.max(maxErr, Math.abs(got[j] - alone[j]));
        }
      }
      expect(maxErr).toBeLessThan(1e-4);
    } finally {
      await session.close();
    }
  }, 300_000);
});
