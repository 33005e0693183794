import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../../src/main/engine/engine';
import { SettingsFile } from '../../src/main/engine/settings';
import type { ApiResults } from '../../src/shared/api';
import { dataPath, tempDir } from '../helpers/data';

let tmp: { dir: string; cleanup: () => void };
let engine: Engine;
let cellIds: number[];
const call = <M extends keyof ApiResults>(m: M, a: object) => engine.call(m, a) as Promise<ApiResults[M]>;
const names = async (includeHidden = false) =>
  (await call('classes.list', { includeHidden })).map((c) => c.name);
const labelOf = (id: number) => engine.project.labelsFor(Int32Array.of(id))[0];

beforeAll(async () => {
  tmp = tempDir('reddino-classes-');
  engine = new Engine({ settings: new SettingsFile(path.join(tmp.dir, 'config')) });
  engine.settings.update({ annotator: 'alice' });
  await call('project.create', { path: path.join(tmp.dir, 'classes.rdproj') });
  const fields = path.join(tmp.dir, 'fields');
  fs.mkdirSync(fields);
  fs.copyFileSync(dataPath('fixture', 'chula_fields', '2.jpg'), path.join(fields, '2.jpg'));
  const { jobId } = await call('ingest.start', { paths: [fields] });
  await engine.jobs.wait(jobId);
  cellIds = engine.project.queryCells({}).map((c) => c.id);
  expect(cellIds.length).toBeGreaterThan(20);
});
afterAll(async () => {
  await engine.dispose();
  tmp.cleanup();
});

describe('class management through the engine API (real SQLite)', () => {
  it('adds, renames, recolours and re-keys a class, refusing reserved, taken and malformed keys', async () => {
    const { cls, created } = await call('classes.add', {
      name: 'Howell-Jolly body',
      color: '#123456',
      hotkey: 'h',
    });
    expect(created).toBe(true);
    expect(cls).toMatchObject({ name: 'Howell-Jolly body', color: '#123456', hotkey: 'H' });
    const renamed = await call('classes.update', {
      id: cls.id,
      name: '  HJ body ',
      color: '#abcdef',
      hotkey: 'j',
    });
    expect(renamed).toMatchObject({ id: cls.id, name: 'HJ body', color: '#abcdef', hotkey: 'J' });
    await expect(call('classes.update', { id: cls.id, hotkey: 'x' })).rejects.toThrow(/reserved/);
    await expect(call('classes.update', { id: cls.id, hotkey: '1' })).rejects.toThrow(
      /already labels "normal"/,
    );
    await expect(call('classes.update', { id: cls.id, color: 'red' })).rejects.toThrow(/color/);
    await expect(call('classes.update', { id: cls.id, name: 'Normal' })).rejects.toThrow(/already exists/);
    // Keeping its own key is not a conflict; clearing it frees the key for another class.
    await call('classes.update', { id: cls.id, hotkey: 'J' });
    await call('classes.update', { id: cls.id, hotkey: null });
    expect(engine.project.findClass(cls.id)!.hotkey).toBeNull();
    const other = await call('classes.add', { name: 'Pappenheimer', hotkey: 'j' });
    expect(other.cls.hotkey).toBe('J');
    expect(await names()).toEqual(expect.arrayContaining(['HJ body', 'Pappenheimer']));
  });

  it('merges one class into another as one undoable bulk batch, keeping the audit trail', async () => {
    const echino = engine.project.findClass('echinocyte')!;
    const acantho = engine.project.findClass('acanthocyte')!;
    const normal = engine.project.findClass('normal')!;
    const some = cellIds.slice(0, 5);
    await call('labels.apply', { cellIds: some, classId: echino.id });
    await call('labels.apply', { cellIds: cellIds.slice(5, 7), classId: acantho.id });
    await call('labels.apply', { cellIds: [cellIds[7]], classId: normal.id });

    await expect(call('classes.merge', { fromId: echino.id, intoId: echino.id })).rejects.toThrow(/itself/);
    const r = await call('classes.merge', { fromId: echino.id, intoId: acantho.id });
    expect(r.relabeled).toBe(5);
    expect(some.map(labelOf)).toEqual(Array(5).fill(acantho.id));
    expect(labelOf(cellIds[7])).toBe(normal.id);
    expect(await names()).not.toContain('echinocyte');
    expect(engine.project.stats().labelsPerClass.acanthocyte).toBe(7);
    // The key of a merged class is free again, and its name cannot be reused while the history holds it.
    expect(engine.project.findClass('acanthocyte')!.hotkey).toBe(acantho.hotkey);
    await expect(call('classes.add', { name: 'Echinocyte' })).rejects.toThrow(
      /was merged into "acanthocyte"/,
    );

    // Audit: each merged cell's history shows the echinocyte label, then the bulk relabel by alice.
    const history = await call('cells.history', { id: some[0] });
    expect(history.map((h) => [h.className, h.source, h.action, h.annotator])).toEqual([
      ['echinocyte', 'manual', 'apply', 'alice'],
      ['acanthocyte', 'bulk', 'apply', 'alice'],
    ]);
    const audit = engine.project.db
      .prepare(`SELECT note, source FROM label_batches WHERE id = ?`)
      .get(r.batchId) as { note: string; source: string };
    expect(audit).toEqual({
      note: `merge ${echino.id} into ${acantho.id} key ${echino.hotkey}`,
      source: 'bulk',
    });

    // Undo brings the class (and its free key) back with its cells; redo merges again.
    const undone = await call('labels.undo', {});
    expect(undone!.cellIds.sort()).toEqual([...some].sort());
    expect(some.map(labelOf)).toEqual(Array(5).fill(echino.id));
    expect(engine.project.findClass('echinocyte')).toMatchObject({ id: echino.id, hotkey: echino.hotkey });
    await call('labels.redo', {});
    expect(some.map(labelOf)).toEqual(Array(5).fill(acantho.id));
    expect(await names()).not.toContain('echinocyte');
    // The annotation log only grew: apply, merge, undo, redo for the first cell.
    expect((await call('cells.history', { id: some[0] })).map((h) => h.action)).toEqual([
      'apply',
      'apply',
      'undo',
      'redo',
    ]);
  });

  it('deletes a never-used class, hides one the history names, refuses one that labels cells', async () => {
    const fresh = (await call('classes.add', { name: 'crenated ghost', hotkey: 'k' })).cls;
    expect(await call('classes.remove', { id: fresh.id })).toEqual({ removed: 'deleted' });
    expect(engine.project.db.prepare(`SELECT count(*) FROM classes WHERE id = ?`).pluck().get(fresh.id)).toBe(
      0,
    );

    const stomato = engine.project.findClass('stomatocyte')!;
    await call('labels.apply', { cellIds: [cellIds[10]], classId: stomato.id });
    await expect(call('classes.remove', { id: stomato.id })).rejects.toThrow(/still labels 1 cell: merge/);
    await expect(call('classes.update', { id: stomato.id, hidden: true })).rejects.toThrow(/still labels/);
    await call('labels.apply', { cellIds: [cellIds[10]], classId: null });
    expect(await call('classes.remove', { id: stomato.id })).toEqual({ removed: 'hidden' });
    expect(await names()).not.toContain('stomatocyte');
    const hidden = (await call('classes.list', { includeHidden: true })).find((c) => c.id === stomato.id)!;
    expect(hidden).toMatchObject({ hidden: true, hotkey: null });
    // Its history still names it, and nobody can label with it until it is shown again.
    expect((await call('cells.history', { id: cellIds[10] }))[0].className).toBe('stomatocyte');
    await expect(call('labels.apply', { cellIds: [cellIds[11]], classId: stomato.id })).rejects.toThrow(
      /hidden/,
    );
    await call('classes.update', { id: stomato.id, hidden: false, hotkey: stomato.hotkey });
    expect(engine.project.findClass(stomato.id)).toMatchObject({ hotkey: stomato.hotkey });
    expect(engine.project.findClass(stomato.id)!.hidden).toBeUndefined();
    // Adding a hidden class's name again shows that class rather than making a second one.
    await call('classes.remove', { id: stomato.id });
    const again = await call('classes.add', { name: 'Stomatocyte' });
    expect(again).toMatchObject({ created: false, cls: { id: stomato.id } });
    expect(await names()).toContain('stomatocyte');
  });

  it('undo that puts cells back on a class hidden meanwhile shows that class again', async () => {
    const tear = engine.project.findClass('teardrop')!;
    await call('labels.apply', { cellIds: [cellIds[12]], classId: tear.id });
    await call('labels.apply', { cellIds: [cellIds[12]], classId: null });
    expect(await call('classes.remove', { id: tear.id })).toEqual({ removed: 'hidden' });
    expect(await names()).not.toContain('teardrop');
    // Undoing the clearing relabels the cell teardrop: the class must be listed (and keyed) again.
    await call('labels.undo', {});
    expect(labelOf(cellIds[12])).toBe(tear.id);
    expect(await names()).toContain('teardrop');
    expect(engine.project.findClass(tear.id)).toMatchObject({ hotkey: tear.hotkey });
    expect(engine.project.findClass(tear.id)!.hidden).toBeUndefined();
  });

  it('rejects bad arguments at the contract', async () => {
    await expect(call('classes.remove', { id: -1 })).rejects.toThrow(/invalid|id/);
    await expect(call('classes.remove', { id: 999_999 })).rejects.toThrow(/No class with id 999999/);
    await expect(call('classes.merge', { fromId: 999_999, intoId: 1 })).rejects.toThrow(/No class/);
  });
});
