import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import '../../src/cli/commands-export';
import { main } from '../../src/cli/main';
import { parseCsvObjects } from '../../src/main/engine/formats/csv';
import { tempDir } from '../helpers/data';
import { buildFixtureProject, type FixtureProject } from './export-fixture';

let tmp: { dir: string; cleanup: () => void };
let p: FixtureProject;

beforeAll(async () => {
  tmp = tempDir('reddino-export-cli-');
  process.env.REDDINO_CONFIG_DIR = path.join(tmp.dir, 'config');
  p = await buildFixtureProject(tmp.dir, ['10']);
  // The CLI opens the project itself; one writer at a time.
  p.store.close();
});
afterAll(() => tmp.cleanup());

/** Runs the CLI in this process (the export commands are registered by importing their module). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('reddino export / audit / review (CLI)', () => {
  it('exports CSV for chosen classes with --json output', async () => {
    const out = path.join(tmp.dir, 'csv-out');
    const r = await cli([
      'export',
      '--project',
      p.dir,
      '--format',
      'csv',
      '--out',
      out,
      '--classes',
      'normal,標的細胞',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { cells: number; files: string[] };
    const rows = parseCsvObjects(fs.readFileSync(path.join(out, 'cells.csv'), 'utf8'));
    expect(res.cells).toBe(rows.length);
    expect(new Set(rows.map((x) => x.label))).toEqual(new Set(['normal', '標的細胞']));
  });

  it('rejects an unknown format and a missing --out as usage errors', async () => {
    const bad = await cli(['export', '--project', p.dir, '--format', 'tiff', '--out', tmp.dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format must be one of imagefolder, csv, coco/);
    const noOut = await cli(['export', '--project', p.dir, '--format', 'csv']);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--out/);
    const badClass = await cli([
      'export',
      '--project',
      p.dir,
      '--format',
      'csv',
      '--out',
      path.join(tmp.dir, 'never-written'),
      '--classes',
      'nope',
    ]);
    expect(badClass.code).toBe(1);
    expect(badClass.stderr).toMatch(/No class named "nope"/);
  });

  it('writes the report and an audit CSV filtered by annotator', async () => {
    const out = path.join(tmp.dir, 'report-out');
    const r = await cli([
      'export',
      '--project',
      p.dir,
      '--format',
      'report',
      '--out',
      out,
      '--min-rbcs',
      '1000',
    ]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'report.pdf')).subarray(0, 8).toString('latin1')).toBe('%PDF-1.4');
    const audit = path.join(tmp.dir, 'audit.csv');
    const a = await cli(['audit', '--project', p.dir, '--annotator', 'anna', '--out', audit, '--json']);
    expect(a.code).toBe(0);
    const rows = parseCsvObjects(fs.readFileSync(audit, 'utf8'));
    expect(rows.length).toBe((JSON.parse(a.stdout) as { events: number }).events);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((x) => x.annotator === 'anna' && x.source === 'manual')).toBe(true);
    const badSource = await cli(['audit', '--project', p.dir, '--source', 'robot']);
    expect(badSource.code).toBe(2);
  });

  it('creates a seeded QC review session and reports progress', async () => {
    const c = await cli([
      'review',
      'create',
      '--project',
      p.dir,
      '--name',
      'QC',
      '--filter',
      'qc',
      '--n',
      '10',
      '--seed',
      '4',
      '--blind',
      '--json',
    ]);
    expect(c.code).toBe(0);
    const s = JSON.parse(c.stdout) as { id: number; itemCount: number; mode: string };
    expect(s).toMatchObject({ itemCount: 10, mode: 'blind' });
    const st = await cli([
      'review',
      'status',
      '--project',
      p.dir,
      '--session',
      String(s.id),
      '--reader',
      'A',
      '--json',
    ]);
    expect(st.code).toBe(0);
    expect(
      (JSON.parse(st.stdout) as { progress: { total: number; decided: number } }).progress,
    ).toMatchObject({ total: 10, decided: 0 });
    const list = await cli(['review', 'list', '--project', p.dir]);
    expect(list.stdout).toContain('QC');
  });
});
