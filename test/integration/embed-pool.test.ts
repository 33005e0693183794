import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import { IngestPool } from '../../src/main/engine/ingest/pool';
import { MORPHOLOGY_DIMS } from '../../src/main/engine/embed/morphology';
import { runEmbed, type EmbedOptions } from '../../src/main/engine/services/embed';
import type { CellStore } from '../../src/main/engine/store/store';
import { dataPath, tempDir } from '../helpers/data';

// Morphology re-embedding (a model upgrade, `reddino embed`) on the ingest workers: the vectors must be the ones
// ingest stored, byte for byte and cell for cell, whichever worker computed them; a cancel or an unreadable image
// keeps what was committed and a re-run finishes the rest.
let tmp: { dir: string; cleanup: () => void };
let engine: Engine;
let store: CellStore;
let reference: { cellIds: Int32Array; vectors: Float32Array };
const pool = new IngestPool(2);
const fieldsDir = () => path.join(tmp.dir, 'fields');

beforeAll(async () => {
  tmp = tempDir();
  engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
  await engine.call('project.create', { path: path.join(tmp.dir, 'p.rdproj') });
  fs.mkdirSync(fieldsDir());
  const names = fs
    .readdirSync(dataPath('chula-dev'))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, 24);
  for (const f of names) fs.copyFileSync(dataPath('chula-dev', f), path.join(fieldsDir(), f));
  const { jobId } = (await engine.call('ingest.start', { paths: [fieldsDir()] })) as { jobId: number };
  await engine.jobs.wait(jobId);
  store = engine.project;
  const morph = store.listModels().find((m) => m.kind === 'morphology')!;
  reference = store.getEmbeddings(morph.id);
}, 120_000);

afterAll(async () => {
  await pool.close();
  await engine.dispose();
  tmp.cleanup();
});

function freshModel(name: string) {
  const id = store.addModel({ name, kind: 'morphology', dims: MORPHOLOGY_DIMS });
  return store.getModel(id)!;
}

function options(usePool: boolean): EmbedOptions {
  return {
    provider: 'cpu',
    ...(usePool ? { pool: () => ({ pool, release: async () => {} }), poolMinCells: 1 } : {}),
  };
}

function ctx(signal = new AbortController().signal, onProgress = (_done: number) => {}) {
  return { signal, progress: (done: number) => onProgress(done) };
}

describe('morphology embedding on the worker pool', () => {
  it('stores exactly the vectors ingest stored, on the workers and on the engine thread', async () => {
    expect(reference.cellIds.length).toBeGreaterThan(300);
    expect(store.listSlides().length).toBe(24);
    for (const usePool of [true, false]) {
      const model = freshModel(usePool ? 'morph-pool' : 'morph-inline');
      const summary = await runEmbed(store, model, options(usePool), ctx());
      expect(summary.cells).toBe(reference.cellIds.length);
      const got = store.getEmbeddings(model.id);
      expect(Array.from(got.cellIds)).toEqual(Array.from(reference.cellIds));
      expect(Buffer.from(got.vectors.buffer).equals(Buffer.from(reference.vectors.buffer))).toBe(true);
    }
  }, 120_000);

  it('cancel keeps what the workers finished, and a re-run completes the same vectors', async () => {
    // More images than the pool holds at once (2 workers x EMBED_DEPTH), so some are never sent.
    expect(store.listSlides().length).toBeGreaterThan(pool.embedCapacity);
    const model = freshModel('morph-cancel');
    const ac = new AbortController();
    const run = runEmbed(
      store,
      model,
      options(true),
      ctx(ac.signal, (done) => {
        if (done > 0) ac.abort();
      }),
    );
    await expect(run).rejects.toThrow();
    const kept = store.embeddingCount(model.id);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(reference.cellIds.length);
    const rest = await runEmbed(store, model, options(true), ctx());
    expect(rest.cells).toBe(reference.cellIds.length - kept);
    const got = store.getEmbeddings(model.id);
    expect(Buffer.from(got.vectors.buffer).equals(Buffer.from(reference.vectors.buffer))).toBe(true);
  }, 120_000);

  it('an unreadable image fails the job with its path after every other image is committed', async () => {
    for (const usePool of [true, false]) {
      const model = freshModel(usePool ? 'morph-missing-pool' : 'morph-missing-inline');
      const slide = store.listSlides()[2];
      const file = store.getImage(slide.id)!.path;
      fs.renameSync(file, `${file}.away`);
      try {
        const run = runEmbed(store, model, options(usePool), ctx());
        await expect(run).rejects.toThrow(file);
        await expect(run).rejects.toThrow(/Its cells have no vector yet; every other cell is embedded/);
      } finally {
        fs.renameSync(`${file}.away`, file);
      }
      expect(store.embeddingCount(model.id)).toBe(reference.cellIds.length - slide.cellCount);
      expect(Array.from(store.cellsMissingEmbedding(model.id))).toEqual(
        store.queryCells({ imageIds: [slide.id] }).map((c) => c.id),
      );
      const rest = await runEmbed(store, model, options(usePool), ctx());
      expect(rest.cells).toBe(slide.cellCount);
      const got = store.getEmbeddings(model.id);
      expect(Buffer.from(got.vectors.buffer).equals(Buffer.from(reference.vectors.buffer))).toBe(true);
    }
  }, 120_000);

  it('workers stopping mid-job fail it as interrupted, keeping what was committed', async () => {
    const model = freshModel('morph-stopped');
    const own = new IngestPool(1);
    let closing: Promise<void> | null = null;
    const run = runEmbed(
      store,
      model,
      { provider: 'cpu', pool: () => ({ pool: own, release: async () => {} }), poolMinCells: 1 },
      ctx(new AbortController().signal, (done) => {
        if (done > 0) closing ??= own.close();
      }),
    );
    await expect(run).rejects.toThrow(/The embedding workers stopped .*run the embedding again to finish/);
    await closing;
    const kept = store.embeddingCount(model.id);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(reference.cellIds.length);
    await runEmbed(store, model, options(true), ctx());
    const got = store.getEmbeddings(model.id);
    expect(Buffer.from(got.vectors.buffer).equals(Buffer.from(reference.vectors.buffer))).toBe(true);
  }, 120_000);
});
