import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import type { ApiResults } from '../../src/shared/api';
import { dataPath, tempDir } from '../helpers/data';

let tmp: { dir: string; cleanup: () => void };
let engine: Engine;
const call = <M extends keyof ApiResults>(m: M, a: object) => engine.call(m, a) as Promise<ApiResults[M]>;

beforeAll(async () => {
  tmp = tempDir();
  engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
  await call('project.create', { path: path.join(tmp.dir, 'r.rdproj') });
  const dir = path.join(tmp.dir, 'fields');
  fs.mkdirSync(dir);
  for (const f of ['2.jpg', '2.txt'])
    fs.copyFileSync(dataPath('fixture', 'chula_fields', f), path.join(dir, f));
  const { jobId } = await call('ingest.start', { paths: [dir], source: 'chula' });
  await engine.jobs.wait(jobId);
}, 300_000);
afterAll(async () => {
  await engine.dispose();
  tmp.cleanup();
});

describe('review, sign-off, audit and export through the API', () => {
  it('runs a blind two-reader QC session with kappa, a disagreement queue and consensus', async () => {
    const session = await call('review.create', {
      name: 'QC ü',
      mode: 'blind',
      filter: { kind: 'qc-sample', n: 6, seed: 3, labeledOnly: true },
    });
    expect(session.itemCount).toBe(6);
    const classes = await call('classes.list', {});
    const normal = classes.find((c) => c.name === 'normal')!.id;
    const echino = classes.find((c) => c.name === 'echinocyte')!.id;
    for (const [reader, flip] of [
      ['alice', -1],
      ['bob', 2],
    ] as const) {
      await call('settings.set', { annotator: reader });
      for (let i = 0; ; i++) {
        const item = await call('review.next', { sessionId: session.id });
        if (!item) break;
        expect(item.blind).toBe(true);
        expect(item).not.toHaveProperty('currentClassId');
        await call('review.decide', {
          sessionId: session.id,
          cellId: item.cellId,
          classId: i === flip ? echino : normal,
        });
      }
      const p = await call('review.progress', { sessionId: session.id });
      expect(p).toMatchObject({ decided: 6, remaining: 0, nextPosition: null });
    }
    const agreement = await call('review.agreement', {
      sessionId: session.id,
      readerA: 'alice',
      readerB: 'bob',
    });
    expect(agreement.n).toBe(6);
    expect(agreement.disagreements).toBe(1);
    expect(agreement.overall.observed).toBeCloseTo(5 / 6, 5);
    const queue = await call('review.disagreements', {
      sessionId: session.id,
      readerA: 'alice',
      readerB: 'bob',
    });
    expect(queue).toHaveLength(1);
    await call('settings.set', { annotator: 'carol' });
    const settled = await call('review.settle', {
      sessionId: session.id,
      cellId: queue[0].cellId,
      classId: echino,
    });
    expect(settled.consensusId).toBeGreaterThan(0);
    const history = await call('cells.history', { id: queue[0].cellId });
    expect(history.at(-1)).toMatchObject({ source: 'review', annotator: 'carol', className: 'echinocyte' });
    const audit = await call('audit.list', { annotators: ['carol'] });
    expect(audit.some((e) => e.cellId === queue[0].cellId && e.source === 'review')).toBe(true);
  });

  it('refuses to sign a slide with unreviewed malaria-class cells, then signs it once reviewed', async () => {
    const slide = (await call('slides.list', {}))[0];
    const ring = (await call('classes.list', {})).find((c) => c.name === 'malaria ring')!.id;
    const cell = (await call('cells.query', { imageIds: [slide.id], labeled: 'labeled', limit: 1 }))[0];
    await call('labels.apply', { cellIds: [cell.id], classId: ring });
    const before = await call('slides.signoff', { imageId: slide.id });
    expect(before.canSign).toBe(false);
    expect(before.unreviewedCellIds).toContain(cell.id);
    await expect(call('slides.sign', { imageId: slide.id })).rejects.toThrow(/cannot be signed/);
    const s = await call('review.create', {
      name: 'malaria check',
      filter: { kind: 'qc-sample', n: 10, seed: 1, classIds: [ring], labeledOnly: true },
    });
    expect(s.itemCount).toBe(1);
    const item = (await call('review.next', { sessionId: s.id }))!;
    await call('review.decide', { sessionId: s.id, cellId: item.cellId, classId: ring });
    const after = await call('slides.signoff', { imageId: slide.id });
    expect(after.canSign).toBe(true);
    const sig = await call('slides.sign', { imageId: slide.id, note: 'checked' });
    expect(sig).toMatchObject({ imageId: slide.id, signedBy: 'carol' });
  });

  it('exports CSV, COCO and the report as jobs', async () => {
    for (const format of ['csv', 'coco', 'report'] as const) {
      const out = path.join(tmp.dir, `out-${format}`);
      const { jobId } = await call('export.start', {
        format,
        out,
        ...(format === 'report' ? { rbcPerMicroliter: 4.5e6 } : {}),
      });
      await engine.jobs.wait(jobId);
      const job = engine.project.getJob(jobId)!;
      expect(job.state, job.error ?? '').toBe('done');
      const result = job.result as { files: string[]; cells: number };
      expect(result.files.length).toBeGreaterThan(0);
      for (const f of result.files) expect(fs.existsSync(path.join(out, f))).toBe(true);
    }
    const coco = JSON.parse(
      fs.readFileSync(
        path.join(
          tmp.dir,
          'out-coco',
          fs
            .readdirSync(path.join(tmp.dir, 'out-coco'))
            .find((f) => f.endsWith('.json') && !f.startsWith('.'))!,
        ),
        'utf8',
      ),
    );
    expect(coco.images).toHaveLength(1);
    expect(coco.annotations.length).toBeGreaterThan(50);
  });
});
