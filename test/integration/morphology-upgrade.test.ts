import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import { MORPHOLOGY_MODEL_NAME } from '../../src/main/engine/embed/morphology';
import { activeModelOf } from '../../src/main/engine/services/vectors';
import { dataPath, tempDir } from '../helpers/data';

// A project whose vectors come from an older built-in morphology model keeps using them until the current
// version has embedded every cell; the long-lived hosts start that re-embedding when the project opens.
let tmp: { dir: string; cleanup: () => void };
let project: string;
let cells = 0;

beforeAll(async () => {
  tmp = tempDir();
  project = path.join(tmp.dir, 'old.rdproj');
  const engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
  await engine.call('project.create', { path: project });
  const dir = path.join(tmp.dir, 'fields');
  fs.mkdirSync(dir);
  fs.copyFileSync(dataPath('fixture', 'chula_fields', '94.jpg'), path.join(dir, '94.jpg'));
  const { jobId } = (await engine.call('ingest.start', { paths: [dir] })) as { jobId: number };
  await engine.jobs.wait(jobId);
  cells = engine.project.stats().cells;
  await engine.dispose();
  // Make it look like a project from the previous release: its morphology vectors under the old model name.
  const db = new Database(path.join(project, 'cells.db'));
  db.prepare('UPDATE models SET name = ? WHERE name = ?').run('morphology', MORPHOLOGY_MODEL_NAME);
  db.close();
});
afterAll(() => tmp.cleanup());

describe('morphology model upgrade', () => {
  it('one-shot opens keep the old vectors active and start nothing', async () => {
    expect(cells).toBeGreaterThan(50);
    const engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
    await engine.openProject(project, false);
    const models = engine.project.listModels();
    expect(models.map((m) => m.name)).toEqual(['morphology']);
    expect(activeModelOf(engine.project).name).toBe('morphology');
    expect(engine.project.listJobs().filter((j) => j.kind === 'embed')).toEqual([]);
    await engine.dispose();
  });

  it('a long-lived host re-embeds with the current version, which then becomes active', async () => {
    const engine = new Engine({
      settings: new SettingsFile(path.join(tmp.dir, 'config')),
      upgradeModels: true,
    });
    await engine.openProject(project, false);
    const jobs = engine.project.listJobs().filter((j) => j.kind === 'embed');
    expect(jobs.length).toBe(1);
    // While it runs, the old, complete model stays active.
    expect(activeModelOf(engine.project).name).toBe('morphology');
    await engine.jobs.wait(jobs[0].id);
    expect(engine.project.getJob(jobs[0].id)!.state).toBe('done');
    const current = engine.project.listModels().find((m) => m.name === MORPHOLOGY_MODEL_NAME)!;
    expect(current.embeddedCells).toBe(cells);
    expect(activeModelOf(engine.project).name).toBe(MORPHOLOGY_MODEL_NAME);
    await engine.dispose();
    // Opening again starts nothing more.
    const again = new Engine({
      settings: new SettingsFile(path.join(tmp.dir, 'config')),
      upgradeModels: true,
    });
    await again.openProject(project, false);
    expect(again.project.listJobs().filter((j) => j.kind === 'embed').length).toBe(1);
    await again.dispose();
  });

  it('embed.start with no model upgrades an old project too (what `reddino embed` runs)', async () => {
    const db = new Database(path.join(project, 'cells.db'));
    db.prepare('DELETE FROM models WHERE name = ?').run(MORPHOLOGY_MODEL_NAME);
    db.close();
    const engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
    await engine.openProject(project, false);
    expect(activeModelOf(engine.project).name).toBe('morphology');
    const { jobId } = (await engine.call('embed.start', {})) as { jobId: number };
    await engine.jobs.wait(jobId);
    expect(activeModelOf(engine.project).name).toBe(MORPHOLOGY_MODEL_NAME);
    expect(activeModelOf(engine.project).embeddedCells).toBe(cells);
    await engine.dispose();
  });
});
