import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { dataPath, tempDir } from '../helpers/data';

let tmp: { dir: string; cleanup: () => void };
let env: Record<string, string>;
let project: string;

beforeAll(() => {
  tmp = tempDir();
  env = { REDDINO_CONFIG_DIR: path.join(tmp.dir, 'config') };
  project = path.join(tmp.dir, 'w.rdproj');
  expect(runCli(['init', project], env).code).toBe(0);
});
afterAll(() => tmp.cleanup());

describe('reddino CLI workflow', () => {
  it('detect prints one object per image with the documented cell fields', () => {
    const img = dataPath('fixture', 'chula_fields', '2.jpg');
    const r = runCli(['detect', img, '--json'], env);
    expect(r.code).toBe(0);
    const out =
      r.json<
        Array<{ image: string; width: number; height: number; cells: Array<Record<string, unknown>> }>
      >();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ image: img, width: 640, height: 480 });
    expect(out[0].cells.length).toBeGreaterThan(50);
    for (const key of ['bbox', 'centroid', 'area', 'kind', 'touchesBorder'])
      expect(out[0].cells[0]).toHaveProperty(key);
  });

  it('ingests fields and crops, lists cells, labels, suggests, predicts and evaluates', () => {
    const fields = path.join(tmp.dir, 'fields');
    fs.mkdirSync(fields);
    for (const f of ['10.jpg', '101.jpg'])
      fs.copyFileSync(dataPath('fixture', 'chula_fields', f), path.join(fields, f));
    fs.writeFileSync(path.join(fields, 'broken.jpg'), 'nope');
    const ing = runCli(['ingest', fields, '--project', project, '--source', 'chula', '--json'], env);
    // One bad file: the rest are imported, the summary says which failed, and the exit code says so.
    expect(ing.code).toBe(1);
    const summary = ing.json<{
      imported: number;
      cells: number;
      failed: Array<{ path: string; reason: string }>;
    }>();
    expect(summary.imported).toBe(2);
    expect(summary.failed.map((f) => path.basename(f.path))).toEqual(['broken.jpg']);
    expect(ing.stderr).toMatch(/1 file\(s\) could not be imported/);

    const cells = runCli(['cells', '--project', project, '--json'], env).json<
      Array<{ id: number; image: string; kind: string; label: string | null }>
    >();
    expect(cells.length).toBe(summary.cells);
    expect(cells[0]).toMatchObject({ label: null });
    expect(cells[0].image).toContain('fields');

    // Three cells of each class on each slide, so a slide-disjoint evaluation has both classes on both sides.
    const bySlide = [...new Set(cells.map((c) => c.image))].map((img) =>
      cells.filter((c) => c.image === img).map((c) => c.id),
    );
    const normal = bySlide.flatMap((ids) => ids.slice(0, 3));
    const echino = bySlide.flatMap((ids) => ids.slice(3, 6));
    expect(
      runCli(['label', '--project', project, '--cells', normal.join(','), '--class', 'normal', '--json'], env)
        .code,
    ).toBe(0);
    expect(
      runCli(
        ['label', '--project', project, '--cells', echino.join(','), '--class', 'echinocyte', '--json'],
        env,
      ).code,
    ).toBe(0);

    const sug = runCli(['suggest', '--project', project, '--strategy', 'margin', '--n', '7', '--json'], env);
    expect(sug.code).toBe(0);
    const s = sug.json<{
      cells: Array<{ id: number; reason: string; predicted: string; confidence: number }>;
    }>();
    expect(s.cells).toHaveLength(7);
    expect(['normal', 'echinocyte']).toContain(s.cells[0].predicted);
    expect(s.cells[0].confidence).toBeGreaterThan(0);

    const csv = path.join(tmp.dir, 'pred.csv');
    const pred = runCli(['predict', '--project', project, '--out', csv, '--json'], env);
    expect(pred.code).toBe(0);
    const p = pred.json<{ cells: number; counts: Record<string, number> }>();
    expect(p.cells).toBe(summary.cells);
    expect(Object.values(p.counts).reduce((a, b) => a + b, 0)).toBe(summary.cells);
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe('cell_id,predicted,confidence,margin');
    expect(lines).toHaveLength(summary.cells + 1);

    const ev = runCli(
      ['eval', '--project', project, '--protocol', 'knn', '--k', '3', '--split', 'slide', '--json'],
      env,
    );
    expect(ev.code).toBe(0);
    const e = ev.json<{
      weightedF1: number;
      balancedAccuracy: number;
      accuracy: number;
      perClass: unknown[];
      confusion: number[][];
    }>();
    expect(e.weightedF1).toBeGreaterThanOrEqual(0);
    expect(e.weightedF1).toBeLessThanOrEqual(1);
    expect(e.confusion.length).toBeGreaterThan(0);

    const info = runCli(['info', project, '--json'], env).json<{
      labeled: number;
      labelsPerClass: Record<string, number>;
      models: Array<{ kind: string; embedded: number }>;
    }>();
    expect(info.labelsPerClass).toEqual({ normal: 6, echinocyte: 6 });
    expect(info.models[0]).toMatchObject({ kind: 'morphology', embedded: summary.cells });
  });

  it('rejects bad arguments with a one-line reason', () => {
    const r = runCli(['suggest', '--project', project, '--strategy', 'telepathy'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--strategy takes/);
    const m = runCli(['model', 'add', path.join(tmp.dir, 'weights.pth'), '--project', project], env);
    expect(m.code).toBe(1);
  });
});
