import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import type { IngestSummary } from '../../src/main/engine/services/ingest';
import { dataPath, tempDir } from '../helpers/data';

let tmp: { dir: string; cleanup: () => void };
let engine: Engine;

async function ingest(
  args: Parameters<Engine['call']>[1],
): Promise<{ state: string; result: IngestSummary }> {
  const { jobId } = (await engine.call('ingest.start', args)) as { jobId: number };
  await engine.jobs.wait(jobId);
  const job = engine.project.getJob(jobId)!;
  return { state: job.state, result: job.result as IngestSummary };
}

beforeAll(async () => {
  tmp = tempDir();
  engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
  await engine.call('project.create', { path: path.join(tmp.dir, 'p.rdproj') });
});
afterAll(async () => {
  await engine.dispose();
  tmp.cleanup();
});

describe('ingest', () => {
  it('segments smear fields into measured cells with thumbnails and morphology vectors', async () => {
    const dir = path.join(tmp.dir, 'fields');
    fs.mkdirSync(dir);
    for (const f of ['2.jpg', '10.jpg', '2.txt'])
      fs.copyFileSync(dataPath('fixture', 'chula_fields', f), path.join(dir, f));
    const { state, result } = await ingest({ paths: [dir], source: 'chula' });
    expect(state).toBe('done');
    expect(result.imported).toBe(2);
    expect(result.failed).toEqual([]);
    // Chula field 2 has ~110 labeled cells and field 10 ~98: segmentation must find most of them.
    expect(result.cells).toBeGreaterThan(150);
    const store = engine.project;
    const slides = store.listSlides();
    expect(slides.map((s) => s.name).sort()).toEqual(['10.jpg', '2.jpg']);
    expect(slides.every((s) => s.width === 640 && s.height === 480 && s.source === 'chula')).toBe(true);
    const cell = store.getCell(store.queryCells({ limit: 1 })[0].id)!;
    expect(cell.morph.area).toBeGreaterThan(100);
    expect(cell.contour.length).toBeGreaterThan(8);
    // A 96 x 96 JPEG any image decoder (here libvips) reads.
    const thumb = store.getThumbnail(cell.id)!;
    expect([thumb[0], thumb[1]]).toEqual([0xff, 0xd8]);
    const thumbMeta = await sharp(thumb).metadata();
    expect([thumbMeta.format, thumbMeta.width, thumbMeta.height]).toEqual(['jpeg', 96, 96]);
    // The Chula points beside field 2 label the segmented cells they fall in, mapped onto the taxonomy.
    expect(result.labeled).toBeGreaterThan(80);
    const perClass = store.stats().labelsPerClass;
    expect(perClass.normal).toBeGreaterThan(70);
    expect(perClass.echinocyte).toBeGreaterThanOrEqual(1);
    expect(Object.keys(perClass)).not.toContain('burr cell');
    const morph = store.listModels().find((m) => m.kind === 'morphology')!;
    expect(morph.embeddedCells).toBe(result.cells);
    const e = store.getEmbeddings(morph.id);
    expect(e.vectors.every(Number.isFinite)).toBe(true);
  });

  it('takes the cells from Pascal VOC boxes with --cells-from annotations and reports a malformed annotation file', async () => {
    const dir = path.join(tmp.dir, 'voc');
    fs.mkdirSync(dir);
    const stem = fs
      .readdirSync(dataPath('fixture', 'cbc_fields'))
      .find((f) => f.endsWith('.xml'))!
      .replace(/\.xml$/, '');
    for (const ext of ['.jpg', '.xml'])
      fs.copyFileSync(dataPath('fixture', 'cbc_fields', stem + ext), path.join(dir, stem + ext));
    fs.copyFileSync(dataPath('fixture', 'chula_fields', '198.jpg'), path.join(dir, 'bad.jpg'));
    fs.writeFileSync(path.join(dir, 'bad.txt'), '12 34 0\nthis line is not a point\n');
    const xml = fs.readFileSync(path.join(dir, stem + '.xml'), 'utf8');
    const boxes = (xml.match(/<object>/g) ?? []).length;
    const { result } = await ingest({ paths: [dir], cellsFrom: 'annotations', source: 'bccd' });
    expect(result.imported).toBe(2);
    const slide = engine.project.listSlides().find((s) => s.name === stem + '.jpg')!;
    expect(slide.cellCount).toBe(boxes);
    const cells = engine.project.queryCells({ imageIds: [slide.id] });
    expect(cells.every((c) => engine.project.getCell(c.id)!.origin === 'imported-annotation')).toBe(true);
    expect(result.failed.map((f) => [path.basename(f.path), f.reason])).toEqual([
      ['bad.txt', 'bad-annotation'],
    ]);
    expect(result.failed[0].message).toMatch(/line 2/);
  });

  it('adds nothing when the same files are imported again', async () => {
    const before = engine.project.cellCount();
    const { result } = await ingest({ paths: [dataPath('fixture', 'chula_fields', '2.jpg')] });
    expect(result).toMatchObject({ imported: 0, duplicates: 1, cells: 0 });
    expect(engine.project.cellCount()).toBe(before);
  });

  it('reports each bad file with its reason and imports the rest', async () => {
    const dir = path.join(tmp.dir, 'mixed');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'empty.jpg'), '');
    fs.writeFileSync(path.join(dir, 'notes.png'), 'this is not an image');
    const jpg = fs.readFileSync(dataPath('fixture', 'chula_fields', '101.jpg'));
    fs.writeFileSync(path.join(dir, 'truncated.jpg'), jpg.subarray(0, Math.floor(jpg.length / 3)));
    fs.copyFileSync(dataPath('fixture', 'chula_fields', '154.jpg'), path.join(dir, 'good.jpg'));
    const { state, result } = await ingest({ paths: [dir, path.join(tmp.dir, 'does-not-exist')] });
    expect(state).toBe('done');
    expect(result.imported).toBe(1);
    const reasons = Object.fromEntries(result.failed.map((f) => [path.basename(f.path), f.reason]));
    expect(reasons['empty.jpg']).toBe('empty');
    expect(reasons['notes.png']).toBe('not-an-image');
    expect(reasons['does-not-exist']).toBe('unreadable');
    // A truncated JPEG either fails clearly or decodes its readable part; it must never abort the import.
    expect(result.failed.length + result.imported).toBeGreaterThanOrEqual(4);
    for (const f of result.failed) expect(f.message.length).toBeGreaterThan(10);
  });

  it('imports single-cell crops from class folders with their labels', async () => {
    const dir = path.join(tmp.dir, 'crops');
    for (const cls of ['parasitized', 'uninfected']) {
      fs.mkdirSync(path.join(dir, cls), { recursive: true });
      const files = fs.readdirSync(dataPath('fixture', 'nih_cells', cls)).slice(0, 5);
      for (const f of files)
        fs.copyFileSync(dataPath('fixture', 'nih_cells', cls, f), path.join(dir, cls, f));
    }
    const { result } = await ingest({ paths: [dir], as: 'crops', source: 'nih' });
    expect(result).toMatchObject({ imported: 10, cells: 10, labeled: 10 });
    const stats = engine.project.stats();
    expect(stats.labelsPerClass).toMatchObject({ parasitized: 5, uninfected: 5 });
    const history = engine.project.cellHistory(
      engine.project.queryCells({ labeled: 'labeled', limit: 1 })[0].id,
    );
    expect(history[0].source).toBe('imported');
  });

  it('can be cancelled and resumed without duplicates', async () => {
    const dir = path.join(tmp.dir, 'txl');
    fs.mkdirSync(dir);
    const jpgs = fs
      .readdirSync(dataPath('fixture', 'txl_fields'))
      .filter((f) => f.endsWith('.jpg'))
      .slice(0, 6);
    for (const f of jpgs) fs.copyFileSync(dataPath('fixture', 'txl_fields', f), path.join(dir, f));
    const { jobId } = (await engine.call('ingest.start', { paths: [dir], source: 'txl' })) as {
      jobId: number;
    };
    engine.jobs.cancel(jobId);
    await engine.jobs.wait(jobId);
    expect(engine.project.getJob(jobId)!.state).toBe('cancelled');
    const partial = engine.project.listSlides().filter((s) => s.source === 'txl').length;
    await engine.call('jobs.resume', { jobId });
    await engine.jobs.wait(jobId);
    const job = engine.project.getJob(jobId)!;
    expect(job.state).toBe('done');
    const total = fs.readdirSync(dir).filter((f) => /\.(jpg|png)$/i.test(f)).length;
    const slides = engine.project.listSlides().filter((s) => s.source === 'txl');
    expect(slides.length).toBe(total);
    expect(new Set(slides.map((s) => s.name)).size).toBe(total);
    expect((job.result as IngestSummary).imported).toBe(total - partial);
  });
});
