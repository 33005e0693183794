import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CellStore } from '../../src/main/engine/store/store';
import { StoreError } from '../../src/main/engine/store/errors';
import { SCHEMA_VERSION } from '../../src/main/engine/store/migrations/index';
import { backgroundIntegrityCheck } from '../../src/main/engine/store/db';
import { DEFAULT_CLASSES } from '../../src/shared/taxonomy';
import { PROJECT_ROOT, tempDir } from '../helpers/data';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

function projectWithCells(n: number): { store: CellStore; cellIds: number[] } {
  const store = CellStore.create(path.join(tmp.dir, 'p.rdproj'));
  const { cellIds } = store.addImageWithCells(
    { path: '/data/a.jpg', name: 'a.jpg', sha256: 'abc', width: 640, height: 480, format: 'jpeg' },
    Array.from({ length: n }, (_, i) => ({
      kind: 'rbc' as const,
      origin: 'segmented' as const,
      bbox: [i * 10, 5, 9, 9] as [number, number, number, number],
      centroid: [i * 10 + 4, 9] as [number, number],
    })),
  );
  return { store, cellIds };
}

describe('cell store', () => {
  it('migrates an empty file to the current schema with STRICT tables, WAL and the default taxonomy', () => {
    const store = CellStore.create(path.join(tmp.dir, 'p.rdproj'));
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    const tables = store.db
      .prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
      .all() as Array<{ name: string; sql: string }>;
    for (const name of [
      'images',
      'cells',
      'models',
      'embeddings',
      'classes',
      'annotations',
      'prediction_runs',
      'review_sessions',
      'jobs',
    ]) {
      const t = tables.find((x) => x.name === name);
      expect(t, name).toBeDefined();
      expect(t!.sql).toMatch(/STRICT/);
    }
    const classes = store.listClasses();
    expect(classes.map((c) => c.name)).toEqual(DEFAULT_CLASSES.map((c) => c.name));
    expect(new Set(classes.map((c) => c.hotkey)).size).toBe(classes.length);
    store.close();
  });

  it('refuses a database written by a newer version and leaves it unchanged', () => {
    const dir = path.join(tmp.dir, 'p.rdproj');
    CellStore.create(dir).close();
    const raw = new Database(path.join(dir, 'cells.db'));
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const before = fs.readFileSync(path.join(dir, 'cells.db'));
    let err: unknown;
    try {
      CellStore.open(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('newer-schema');
    expect((err as Error).message).toMatch(/newer RedDino Studio/);
    expect(fs.readFileSync(path.join(dir, 'cells.db')).equals(before)).toBe(true);
  });

  it('reports a corrupt file clearly', () => {
    const dir = path.join(tmp.dir, 'p.rdproj');
    const { store } = projectWithCells(50);
    store.close();
    const file = path.join(dir, 'cells.db');
    const bytes = fs.readFileSync(file);
    // Overwrite every page after the header with garbage: the header still says SQLite, the b-trees are nonsense.
    for (let i = 4096; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
    fs.writeFileSync(file, bytes);
    expect(() => CellStore.open(dir)).toThrow(StoreError);
    try {
      CellStore.open(dir);
    } catch (e) {
      expect((e as StoreError).code).toBe('corrupt');
      expect((e as Error).message).toMatch(/damaged|integrity|backup/i);
    }
  });

  it('checks large projects in the background on a read-only connection', async () => {
    const { store } = projectWithCells(200);
    const dir = store.dir;
    store.close();
    expect(await backgroundIntegrityCheck(dir)).toEqual([]);
    const file = path.join(dir, 'cells.db');
    const bytes = fs.readFileSync(file);
    for (let i = 4096 + 100; i < bytes.length; i += 7) bytes[i] = 0xa5;
    fs.writeFileSync(file, bytes);
    const problems = await backgroundIntegrityCheck(dir);
    expect(problems.length).toBeGreaterThan(0);
  });

  it('rejects a file that is not a database at all', () => {
    const dir = path.join(tmp.dir, 'q.rdproj');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'cells.db'), 'this is a text file, not SQLite'.repeat(200));
    expect(() => CellStore.open(dir)).toThrow(/damaged|not a RedDino/);
  });

  it('says clearly when there is no project', () => {
    expect(() => CellStore.open(path.join(tmp.dir, 'missing.rdproj'))).toThrow(
      /No RedDino project .*reddino init/,
    );
  });

  it('keeps labels append-only: the current label is derived, undo and redo append', () => {
    const { store, cellIds } = projectWithCells(3);
    const normal = store.findClass('normal')!;
    const echino = store.findClass('echinocyte')!;
    const b1 = store.applyLabels({
      cellIds: cellIds.slice(0, 2),
      classId: normal.id,
      source: 'manual',
      annotator: 'ann',
    });
    expect(b1).toBeGreaterThan(0);
    store.applyLabels({
      cellIds: [cellIds[1]],
      classId: echino.id,
      source: 'suggestion',
      annotator: 'bob',
      runId: 7,
    });
    expect(Array.from(store.labelsFor(Int32Array.from(cellIds)))).toEqual([normal.id, echino.id, -1]);

    expect(store.undo('ann')!.cellIds).toEqual([cellIds[1]]);
    expect(Array.from(store.labelsFor(Int32Array.from(cellIds)))).toEqual([normal.id, normal.id, -1]);
    expect(store.undo('ann')).not.toBeNull();
    expect(Array.from(store.labelsFor(Int32Array.from(cellIds)))).toEqual([-1, -1, -1]);
    expect(store.undo('ann')).toBeNull();
    store.redo('ann');
    expect(Array.from(store.labelsFor(Int32Array.from(cellIds)))).toEqual([normal.id, normal.id, -1]);
    store.redo('ann');
    expect(Array.from(store.labelsFor(Int32Array.from(cellIds)))).toEqual([normal.id, echino.id, -1]);
    expect(store.redo('ann')).toBeNull();
    // A new action clears the redo stack.
    store.undo('ann');
    store.applyLabels({ cellIds: [cellIds[2]], classId: echino.id, source: 'manual', annotator: 'ann' });
    expect(store.redo('ann')).toBeNull();

    const history = store.cellHistory(cellIds[1]);
    expect(history.map((h) => [h.action, h.className])).toEqual([
      ['apply', 'normal'],
      ['apply', 'echinocyte'],
      ['undo', 'normal'],
      ['undo', null],
      ['redo', 'normal'],
      ['redo', 'echinocyte'],
      ['undo', 'normal'],
    ]);
    expect(history[1]).toMatchObject({ annotator: 'bob', source: 'suggestion', runId: 7 });
    expect(() => store.db.prepare(`UPDATE annotations SET class_id = NULL`).run()).toThrow(/append-only/);
    store.close();
  });

  it('persists the undo stack across a restart', () => {
    const { store, cellIds } = projectWithCells(2);
    const normal = store.findClass('normal')!;
    store.applyLabels({ cellIds, classId: normal.id, source: 'bulk', annotator: 'ann' });
    const dir = store.dir;
    store.close();
    const again = CellStore.open(dir);
    expect(again.undo('ann')!.cellIds.sort()).toEqual([...cellIds].sort());
    expect(again.stats().labeled).toBe(0);
    again.close();
  });

  it('refuses labels for unknown cells without writing anything', () => {
    const { store, cellIds } = projectWithCells(2);
    const normal = store.findClass('normal')!;
    expect(() =>
      store.applyLabels({
        cellIds: [cellIds[0], 99999],
        classId: normal.id,
        source: 'manual',
        annotator: 'a',
      }),
    ).toThrow(/No cell with id 99999/);
    expect(store.stats().labeled).toBe(0);
    store.close();
  });

  it('adds classes idempotently and validates hotkeys', () => {
    const { store } = projectWithCells(1);
    const a = store.addClass({ name: 'Howell-Jolly body', hotkey: 'h' });
    expect(a.created).toBe(true);
    expect(a.cls.hotkey).toBe('H');
    expect(store.addClass({ name: 'howell-jolly BODY' }).created).toBe(false);
    expect(() => store.addClass({ name: 'x', hotkey: 'A' })).toThrow(/reserved/);
    expect(() => store.addClass({ name: 'y', hotkey: '1' })).toThrow(/already labels "normal"/);
    store.close();
  });

  it('stores embeddings as float32 and float16 and reports what is missing', () => {
    const { store, cellIds } = projectWithCells(4);
    const model = store.addModel({ name: 'morphology', kind: 'morphology', dims: 3 });
    const v = Float32Array.from([0.5, -1, 2, 0.25, 3.5, -0.125]);
    store.putEmbeddings(model, cellIds.slice(0, 2), v, 3, 'f16');
    expect(Array.from(store.cellsMissingEmbedding(model))).toEqual(cellIds.slice(2));
    // A second image's cells come after the first's, grouped under their own image.
    const second = store.addImageWithCells(
      { path: '/data/b.jpg', name: 'b.jpg', sha256: 'def', width: 640, height: 480, format: 'jpeg' },
      [{ kind: 'rbc', origin: 'segmented', bbox: [0, 0, 9, 9], centroid: [4, 4] }],
    );
    const firstImage = store.getCell(cellIds[0])!.imageId;
    expect([...store.cellsMissingEmbeddingByImage(model)]).toEqual([
      [firstImage, cellIds.slice(2)],
      [second.imageId, second.cellIds],
    ]);
    store.putEmbeddings(model, cellIds.slice(2), v, 3, 'f32');
    const e = store.getEmbeddings(model);
    expect(Array.from(e.cellIds)).toEqual(cellIds);
    expect(Array.from(e.vectors)).toEqual([...v, ...v]);
    store.close();
  });

  it('survives SIGKILL in the middle of a write transaction with every committed row intact', async () => {
    const dir = path.join(tmp.dir, 'crash.rdproj');
    CellStore.create(dir).close();
    const child = spawn(
      process.execPath,
      [path.join(PROJECT_ROOT, 'bin/run-ts.mjs'), 'test/helpers/kill-writer.ts', dir, '300'],
      {
        cwd: PROJECT_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('in-transaction')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`writer exited early (${code}): ${stderr}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(fs.statSync(path.join(dir, 'cells.db-wal')).size).toBeGreaterThan(0);

    const store = CellStore.open(dir);
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(store.cellCount()).toBe(300);
    expect(store.listSlides()[0]).toMatchObject({ name: 'x.png', cellCount: 300 });
    store.close();
  });
});
