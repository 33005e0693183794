import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import type { IngestSummary } from '../../src/main/engine/services/ingest';
import { IngestPoolKeeper } from '../../src/main/engine/ingest/warm-pool';
import { dataPath, tempDir } from '../helpers/data';
import { storedDigest } from '../helpers/store-digest';

let tmp: { dir: string; cleanup: () => void };

async function ingest(engine: Engine, dir: string): Promise<{ state: string; result: IngestSummary }> {
  const { jobId } = (await engine.call('ingest.start', { paths: [dir] })) as { jobId: number };
  await engine.jobs.wait(jobId);
  const job = engine.project.getJob(jobId)!;
  return { state: job.state, result: job.result as IngestSummary };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 50));
}

function copyFields(names: string[], to: string): string {
  fs.mkdirSync(to, { recursive: true });
  for (const n of names) {
    fs.copyFileSync(dataPath('fixture', 'chula_fields', `${n}.jpg`), path.join(to, `${n}.jpg`));
    fs.copyFileSync(dataPath('fixture', 'chula_fields', `${n}.txt`), path.join(to, `${n}.txt`));
  }
  return to;
}

beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

describe('ingest workers kept warm while a project is open', () => {
  it('starts them on open, reuses them for every import, and stops them on close', async () => {
    const engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')), warmIngest: true });
    const cold = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
    try {
      expect(engine.ingestPoolStatus().state).toBe('stopped');
      await engine.call('project.create', { path: path.join(tmp.dir, 'warm.rdproj') });
      const started = engine.ingestPoolStatus();
      expect(started.state).not.toBe('stopped');
      expect(started.poolsStarted).toBe(1);
      expect(started.threadIds.length).toBeGreaterThan(0);
      await until(() => engine.ingestPoolStatus().state === 'ready');

      const first = copyFields(['2', '10', '101', '154'], path.join(tmp.dir, 'first'));
      const a = await ingest(engine, first);
      expect(a.state).toBe('done');
      expect(a.result.imported).toBe(4);
      expect(a.result.failed).toEqual([]);
      expect(a.result.cells).toBeGreaterThan(300);
      expect(a.result.labeled).toBeGreaterThan(250);
      expect(engine.project.stats().cells).toBe(a.result.cells);
      expect(engine.ingestPoolStatus()).toMatchObject({
        state: 'ready',
        threadIds: started.threadIds,
        poolsStarted: 1,
        imports: 1,
        users: 0,
      });

      // The same folder again: nothing added, same workers.
      const b = await ingest(engine, first);
      expect(b.result).toMatchObject({ imported: 0, duplicates: 4, cells: 0 });
      expect(engine.project.stats().cells).toBe(a.result.cells);
      // New fields: segmented by the same workers.
      const second = copyFields(['198', '28'], path.join(tmp.dir, 'second'));
      const c = await ingest(engine, second);
      expect(c.result.imported).toBe(2);
      expect(c.result.cells).toBeGreaterThan(100);
      expect(engine.ingestPoolStatus()).toMatchObject({
        threadIds: started.threadIds,
        poolsStarted: 1,
        imports: 3,
      });

      // The warm-up field and the earlier imports change nothing that is stored: a fresh engine importing the
      // same fields with a pool of its own stores the same cells, thumbnails and vectors.
      await cold.call('project.create', { path: path.join(tmp.dir, 'cold.rdproj') });
      expect(cold.ingestPoolStatus().state).toBe('stopped');
      await ingest(cold, first);
      await ingest(cold, second);
      expect(cold.ingestPoolStatus()).toMatchObject({ state: 'stopped', poolsStarted: 2 });
      const warmDigest = storedDigest(engine.project);
      expect(Object.keys(warmDigest)).toHaveLength(6);
      expect(storedDigest(cold.project)).toEqual(warmDigest);

      await engine.call('project.close', {});
      expect(engine.ingestPoolStatus()).toMatchObject({ state: 'stopped', threadIds: [], poolsStarted: 1 });
      // Opening a project again starts a fresh pool.
      await engine.call('project.open', { path: path.join(tmp.dir, 'warm.rdproj') });
      const reopened = engine.ingestPoolStatus();
      expect(reopened.poolsStarted).toBe(2);
      expect(reopened.threadIds.some((t) => started.threadIds.includes(t))).toBe(false);
      // An import started at once (the pool still warming) waits for the warm-up and runs on that pool.
      const d = await ingest(engine, copyFields(['209', '238'], path.join(tmp.dir, 'third')));
      expect(d.result.imported).toBe(2);
      expect(d.result.cells).toBeGreaterThan(100);
      expect(engine.ingestPoolStatus()).toMatchObject({
        state: 'ready',
        threadIds: reopened.threadIds,
        poolsStarted: 2,
        imports: 1,
      });
    } finally {
      await engine.dispose();
      await cold.dispose();
    }
    expect(engine.ingestPoolStatus().state).toBe('stopped');
  }, 300_000);

  it('stops an idle pool after the idle timeout and starts a new one for the next import', async () => {
    const keeper = new IngestPoolKeeper({ keepWarm: true, idleMs: 300, size: 1, warmUpRuns: 1 });
    keeper.warm();
    const lease = keeper.acquire();
    const threadIds = [...lease.pool.threadIds];
    await keeper.whenReady();
    const r = await lease.pool.process(dataPath('fixture', 'chula_fields', '2.jpg'), { mode: 'field' });
    expect(r.ok && r.cells.length).toBeGreaterThan(50);
    // Held by an import: never stopped for idleness.
    await new Promise((res) => setTimeout(res, 600));
    expect(keeper.status()).toMatchObject({ state: 'ready', users: 1, threadIds });
    await lease.release();
    await until(() => keeper.status().state === 'stopped');
    expect(lease.pool.size).toBe(0);
    const next = keeper.acquire();
    expect(next.pool).not.toBe(lease.pool);
    expect(keeper.status().poolsStarted).toBe(2);
    await next.release();
    await keeper.close();
    expect(next.pool.size).toBe(0);
  }, 120_000);
});
