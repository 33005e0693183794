import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import type { ApiResults } from '../../src/shared/api';
import type { EmbedSummary } from '../../src/main/engine/services/embed';
import { evaluateProject } from '../../src/main/engine/services/evaluate';
import { PROJECT_ROOT, dataPath, tempDir } from '../helpers/data';

let tmp: { dir: string; cleanup: () => void };
let engine: Engine;
const call = <M extends keyof ApiResults>(m: M, a: object) => engine.call(m, a) as Promise<ApiResults[M]>;

async function waitJob(jobId: number) {
  await engine.jobs.wait(jobId);
  return engine.project.getJob(jobId)!;
}

/** Truth for the NIH crops imported per slide code, so labels can be revealed as an oracle would. */
const truth = new Map<number, string>();

beforeAll(async () => {
  tmp = tempDir();
  engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
  await call('project.create', { path: path.join(tmp.dir, 'loop.rdproj') });
  // Group the NIH fixture crops by slide code (the C<n> prefix) so evaluation can split slide-disjoint.
  const bySlide = new Map<string, Array<{ file: string; cls: string }>>();
  for (const cls of ['parasitized', 'uninfected']) {
    for (const f of fs.readdirSync(dataPath('fixture', 'nih_cells', cls))) {
      const slide = /^(C\d+)/.exec(f)?.[1] ?? 'unknown';
      bySlide.set(slide, [
        ...(bySlide.get(slide) ?? []),
        { file: path.join(dataPath('fixture', 'nih_cells', cls), f), cls },
      ]);
    }
  }
  // The six slides with the most crops keep the test quick while leaving slide-disjoint splits possible.
  const ranked = [...bySlide].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
  const ofClass = (cls: string) => ranked.filter(([, files]) => files[0].cls === cls).slice(0, 3);
  const slides = [...ofClass('parasitized'), ...ofClass('uninfected')];
  for (const [slide, files] of slides) {
    const dir = path.join(tmp.dir, 'crops', slide);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of files) fs.copyFileSync(f.file, path.join(dir, `${f.cls}__${path.basename(f.file)}`));
    const { jobId } = await call('ingest.start', {
      paths: [dir],
      as: 'crops',
      subject: slide,
      source: 'nih',
    });
    expect((await waitJob(jobId)).state).toBe('done');
  }
  for (const c of engine.project.queryCells()) {
    const img = engine.project.getImage(c.imageId)!;
    truth.set(c.id, img.name.split('__')[0]);
  }
}, 600_000);
afterAll(async () => {
  await engine.dispose();
  tmp.cleanup();
});

describe('the labeling loop through the engine API', () => {
  it('proposes cold-start seeds before anything is labeled', async () => {
    const seeds = await call('suggest', { strategy: 'mix', n: 10 });
    expect(seeds).toHaveLength(10);
    expect(new Set(seeds.map((s) => s.cellId)).size).toBe(10);
    for (const s of seeds) expect(s.reason.length).toBeGreaterThan(5);
  });

  it('predicts every cell after labels in two classes and proposes uncertain cells', async () => {
    const classes = await call('classes.list', {});
    const malaria = classes.find((c) => c.name === 'malaria ring')!;
    const normal = classes.find((c) => c.name === 'normal')!;
    const classFor = (id: number) => (truth.get(id) === 'parasitized' ? malaria.id : normal.id);
    const seeds = await call('suggest', { strategy: 'seed', n: 16 });
    for (const s of seeds) await call('labels.apply', { cellIds: [s.cellId], classId: classFor(s.cellId) });
    const { runId } = await call('predict.refresh', {});
    expect(runId).not.toBeNull();
    const run = engine.project.latestPredictionRun()!;
    expect(run.cellIds.length).toBe(engine.project.cellCount());
    // Predictions beat chance on the unlabeled cells: morphology features see the parasite stain.
    let correct = 0;
    let n = 0;
    run.cellIds.forEach((id, i) => {
      if (seeds.some((s) => s.cellId === id)) return;
      n++;
      if (run.predicted[i] === classFor(id)) correct++;
    });
    expect(correct / n).toBeGreaterThan(0.7);

    const uncertain = await call('suggest', { strategy: 'margin', n: 5 });
    expect(uncertain).toHaveLength(5);
    expect(uncertain[0].reason).toMatch(/uncertain/);
    expect(uncertain[0].runId).toBe(runId);
    // Accepting a suggestion records the run behind it.
    const s = uncertain[0];
    await call('labels.apply', {
      cellIds: [s.cellId],
      classId: s.predictedClassId!,
      source: 'suggestion',
      runId: s.runId!,
    });
    const h = engine.project.cellHistory(s.cellId);
    expect(h.at(-1)).toMatchObject({ source: 'suggestion', runId: runId });
  });

  it('hunts a class, finds more like selected cells, and previews propagation without writing', async () => {
    const malaria = (await call('classes.list', {})).find((c) => c.name === 'malaria ring')!;
    const hunt = await call('suggest', { strategy: 'class', classId: malaria.id, n: 10 });
    expect(hunt.length).toBeGreaterThan(0);
    const parasitized = hunt.filter((h) => truth.get(h.cellId) === 'parasitized').length;
    expect(parasitized / hunt.length).toBeGreaterThan(0.5);
    const labeledBefore = engine.project.stats().labeled;
    const seed = [...truth.entries()].find(
      ([id, t]) => t === 'parasitized' && engine.project.labelsFor(Int32Array.of(id))[0] < 0,
    )![0];
    const similar = await call('suggest', { strategy: 'similar', seedCellIds: [seed], n: 5 });
    expect(similar.map((x) => x.cellId)).not.toContain(seed);
    const wide = await call('propagate.preview', { seedCellIds: [seed], k: 30, minSimilarity: -1 });
    expect(wide.length).toBeGreaterThan(5);
    for (let i = 1; i < wide.length; i++)
      expect(wide[i - 1].similarity).toBeGreaterThanOrEqual(wide[i].similarity);
    for (const p of wide) expect(engine.project.labelsFor(Int32Array.of(p.cellId))[0]).toBe(-1);
    // A threshold keeps exactly the candidates at or above it.
    const threshold = wide[Math.floor(wide.length / 2)].similarity;
    const preview = await call('propagate.preview', { seedCellIds: [seed], k: 30, minSimilarity: threshold });
    expect(preview.map((p) => p.cellId)).toEqual(
      wide.filter((p) => p.similarity >= threshold).map((p) => p.cellId),
    );
    expect(engine.project.stats().labeled).toBe(labeledBefore);
    const { batchId } = await call('labels.apply', {
      cellIds: preview.map((p) => p.cellId),
      classId: malaria.id,
      source: 'propagated',
    });
    expect(engine.project.stats().labeled).toBe(labeledBefore + preview.length);
    const undone = await call('labels.undo', {});
    expect(undone!.cellIds.sort()).toEqual(preview.map((p) => p.cellId).sort());
    expect(engine.project.stats().labeled).toBe(labeledBefore);
    expect(batchId).toBeGreaterThan(0);
  });

  it('computes the map (PCA at once, then UMAP) as typed arrays', async () => {
    const { jobId } = await call('map.start', {});
    const job = await waitJob(jobId);
    expect(job.state).toBe('done');
    const map = (await call('map.get', {}))!;
    expect(map.method).toBe('umap');
    expect(map.xy).toBeInstanceOf(Float32Array);
    expect(map.cellIds.length).toBe(engine.project.cellCount());
    expect(map.xy.length).toBe(2 * map.cellIds.length);
    expect(map.xy.every(Number.isFinite)).toBe(true);
    expect(map.labels.length).toBe(map.cellIds.length);
  });

  it('evaluates slide-disjoint with kNN and the linear probe', async () => {
    // Reveal every label (the oracle), then evaluate across slides.
    const classes = await call('classes.list', {});
    const malaria = classes.find((c) => c.name === 'malaria ring')!.id;
    const normal = classes.find((c) => c.name === 'normal')!.id;
    const par = [...truth].filter(([, t]) => t === 'parasitized').map(([id]) => id);
    const uninf = [...truth].filter(([, t]) => t === 'uninfected').map(([id]) => id);
    await call('labels.apply', { cellIds: par, classId: malaria, source: 'bulk' });
    await call('labels.apply', { cellIds: uninf, classId: normal, source: 'bulk' });
    for (const protocol of ['knn', 'linear'] as const) {
      const r = await evaluateProject(engine, { protocol, k: 20, split: 'slide' });
      expect(r.test.groups.some((g) => r.train.groups.includes(g))).toBe(false);
      expect(r.weightedF1).toBeGreaterThan(0.7);
      expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(r.test.cells);
    }
  });

  it('adds a timm-format ViT, embeds every cell with it on onnxruntime, and refuses pickles', async () => {
    const model = await call('models.add', {
      path: path.join(PROJECT_ROOT, 'test/fixtures/vit-tiny/plain'),
      name: 'vit-tiny',
    });
    expect(model).toMatchObject({ kind: 'vit-onnx', embeddedCells: 0 });
    const { jobId } = await call('embed.start', { modelId: model.id });
    const job = await waitJob(jobId);
    expect(job.state).toBe('done');
    const r = job.result as EmbedSummary;
    expect(r).toMatchObject({ cells: engine.project.cellCount(), provider: 'cpu', dims: model.dims });
    const e = engine.project.getEmbeddings(model.id);
    expect(e.cellIds.length).toBe(engine.project.cellCount());
    expect(e.vectors.every(Number.isFinite)).toBe(true);
    // Nothing left to embed: a second run is a no-op.
    const again = await waitJob((await call('embed.start', { modelId: model.id })).jobId);
    expect((again.result as EmbedSummary).cells).toBe(0);
    const pth = path.join(tmp.dir, 'reddino.pth');
    fs.writeFileSync(pth, 'not really a pickle');
    await expect(call('models.add', { path: pth })).rejects.toThrow(/pickle/i);
  });
});
