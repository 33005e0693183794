import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli';
import { dataPath, tempDir } from '../helpers/data';

let tmp: { dir: string; cleanup: () => void };
let env: Record<string, string>;
let project: string;
let cellIds: number[];

const cli = (...args: string[]) => runCli([...args, '--project', project, '--json'], env);

interface ClassRow {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
  hidden: number;
  merged_into: number | null;
}

/** Reads the project's SQLite file directly (after the CLI process has exited) to check what it wrote. */
function readStore<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(project, 'cells.db'), { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}
const classRow = (name: string) =>
  readStore(
    (db) =>
      db
        .prepare(`SELECT id, name, color, hotkey, hidden, merged_into FROM classes WHERE name = ?`)
        .get(name) as ClassRow | undefined,
  );
const labelsOf = (ids: number[]) =>
  readStore((db) =>
    ids.map(
      (id) =>
        (
          db
            .prepare(
              `SELECT c.name FROM cell_labels l JOIN classes c ON c.id = l.class_id WHERE l.cell_id = ?`,
            )
            .get(id) as { name: string } | undefined
        )?.name ?? null,
    ),
  );

function expectFailure(r: CliResult, code: 1 | 2, message: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(message);
}

beforeAll(() => {
  tmp = tempDir('reddino-cli-classes-');
  env = { REDDINO_CONFIG_DIR: path.join(tmp.dir, 'config') };
  project = path.join(tmp.dir, 'classes.rdproj');
  expect(runCli(['init', project], env).code).toBe(0);
  // Real NIH crops, one cell per file, in a flat folder (so no labels are imported).
  const crops = path.join(tmp.dir, 'crops');
  fs.mkdirSync(crops);
  const src = dataPath('fixture', 'nih_cells', 'uninfected');
  for (const f of fs.readdirSync(src).sort().slice(0, 8))
    fs.copyFileSync(path.join(src, f), path.join(crops, f));
  const ingest = runCli(['ingest', crops, '--as', 'crops', '--project', project, '--json'], env);
  expect(ingest.code).toBe(0);
  cellIds = readStore((db) => db.prepare(`SELECT id FROM cells ORDER BY id`).pluck().all() as number[]);
  expect(cellIds).toHaveLength(8);
}, 120_000);
afterAll(() => tmp.cleanup());

describe('reddino class management (real project, real SQLite)', () => {
  it('renames a class in place, keeping its id, colour and key', () => {
    const before = classRow('echinocyte')!;
    const r = cli('class', 'rename', 'echinocyte', 'burr cell');
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ id: before.id, name: 'burr cell', previousName: 'echinocyte' });
    expect(classRow('echinocyte')).toBeUndefined();
    expect(classRow('burr cell')).toMatchObject({ id: before.id, color: before.color, hotkey: '2' });

    expectFailure(cli('class', 'rename', 'burr cell', 'Normal'), 1, /already exists/);
    expectFailure(cli('class', 'rename', 'no such class', 'x'), 1, /no class named "no such class"/);
    expectFailure(cli('class', 'rename', 'burr cell'), 2, /usage: class rename takes OLD and NEW/);
    expect(classRow('burr cell')!.id).toBe(before.id);
  });

  it('recolours and re-keys a class, refusing taken, reserved and malformed values', () => {
    const r = cli('class', 'set', 'burr cell', '--color', '#112233', '--key', 'e');
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ name: 'burr cell', color: '#112233', hotkey: 'E' });
    expect(classRow('burr cell')).toMatchObject({ color: '#112233', hotkey: 'E' });

    expectFailure(cli('class', 'set', 'burr cell', '--key', '1'), 1, /already labels "normal"/);
    expectFailure(cli('class', 'set', 'burr cell', '--key', 'x'), 1, /reserved/);
    expectFailure(cli('class', 'set', 'burr cell', '--key', 'ee'), 2, /--key takes a single key/);
    expectFailure(cli('class', 'set', 'burr cell', '--color', 'red'), 2, /--color takes #RRGGBB/);
    expectFailure(cli('class', 'set', 'burr cell'), 2, /nothing to change/);
    expectFailure(cli('class', 'set', 'burr cell', '--key', 'E', '--no-key'), 2, /not both/);
    expect(classRow('burr cell')).toMatchObject({ color: '#112233', hotkey: 'E' });

    const cleared = cli('class', 'set', 'acanthocyte', '--no-key');
    expect(cleared.code).toBe(0);
    expect(classRow('acanthocyte')!.hotkey).toBeNull();
    expect(cli('class', 'set', 'acanthocyte', '--key', '3').code).toBe(0);
  });

  it('merges a class as one undoable bulk batch, and undo/redo bring it back and retire it again', () => {
    const burr = classRow('burr cell')!;
    const acantho = classRow('acanthocyte')!;
    const [a, b, c, d] = cellIds;
    const ids = (xs: number[]) => xs.join(',');
    expect(cli('label', '--cells', ids([a, b, c]), '--class', 'burr cell').code).toBe(0);
    expect(cli('label', '--cells', ids([d]), '--class', 'acanthocyte').code).toBe(0);

    expectFailure(cli('class', 'merge', 'burr cell', 'burr cell'), 1, /itself/);
    const r = cli('class', 'merge', 'burr cell', 'acanthocyte', '--annotator', 'bob');
    expect(r.code).toBe(0);
    const merged = r.json<{ from: string; into: string; batchId: number; relabeled: number }>();
    expect(merged).toMatchObject({ from: 'burr cell', into: 'acanthocyte', relabeled: 3 });
    expect(labelsOf([a, b, c, d])).toEqual(Array(4).fill('acanthocyte'));
    expect(classRow('burr cell')).toMatchObject({ merged_into: acantho.id, hotkey: null });
    const batch = readStore((db) =>
      db
        .prepare(
          `SELECT source, annotator, (SELECT count(*) FROM annotations WHERE batch_id = b.id) AS n
                  FROM label_batches b WHERE id = ?`,
        )
        .get(merged.batchId),
    );
    expect(batch).toEqual({ source: 'bulk', annotator: 'bob', n: 3 });
    const listed = cli('class', 'list').json<Array<{ name: string }>>();
    expect(listed.map((x) => x.name)).not.toContain('burr cell');

    const undo = cli('undo');
    expect(undo.code).toBe(0);
    expect(undo.json()).toMatchObject({ cells: 3 });
    expect(labelsOf([a, b, c, d])).toEqual(['burr cell', 'burr cell', 'burr cell', 'acanthocyte']);
    expect(classRow('burr cell')).toMatchObject({ id: burr.id, merged_into: null, hotkey: 'E' });

    // Redo merges again; undoing the redo (and a redo of that) un-merges and re-merges the class too.
    for (let round = 0; round < 2; round++) {
      expect(cli('redo').code).toBe(0);
      expect(labelsOf([a, b, c])).toEqual(Array(3).fill('acanthocyte'));
      expect(classRow('burr cell')!.merged_into).toBe(acantho.id);
      expect(cli('undo').code).toBe(0);
      expect(labelsOf([a, b, c])).toEqual(Array(3).fill('burr cell'));
      expect(classRow('burr cell')).toMatchObject({ merged_into: null, hotkey: 'E' });
    }
    expect(
      cli('class', 'list')
        .json<Array<{ name: string }>>()
        .map((x) => x.name),
    ).toContain('burr cell');
  });

  it('removes a class: refused while cells carry it, deleted if unused, hidden if the history names it', () => {
    expectFailure(cli('class', 'remove', 'burr cell'), 1, /"burr cell" still labels 3 cells: .*class merge/);
    expect(classRow('burr cell')!.hidden).toBe(0);

    expect(cli('class', 'add', 'ghost cell', '--key', 'k').code).toBe(0);
    const deleted = cli('class', 'remove', 'ghost cell');
    expect(deleted.code).toBe(0);
    expect(deleted.json()).toMatchObject({ name: 'ghost cell', removed: 'deleted' });
    expect(classRow('ghost cell')).toBeUndefined();

    expect(cli('label', '--cells', cellIds.slice(0, 3).join(','), '--class', 'normal').code).toBe(0);
    const hidden = cli('class', 'remove', 'burr cell');
    expect(hidden.code).toBe(0);
    expect(hidden.json()).toMatchObject({ name: 'burr cell', removed: 'hidden' });
    expect(classRow('burr cell')!.hidden).toBe(1);
    expect(
      cli('class', 'list')
        .json<Array<{ name: string }>>()
        .map((x) => x.name),
    ).not.toContain('burr cell');
    const all = cli('class', 'list', '--all').json<
      Array<{ name: string; hidden?: boolean; hotkey: string }>
    >();
    expect(all.find((x) => x.name === 'burr cell')).toMatchObject({ hidden: true, hotkey: null });
    // A hidden class's key is free for others; labeling with the class is refused until it is shown.
    expectFailure(cli('label', '--cells', String(cellIds[5]), '--class', 'burr cell'), 1, /hidden/);
  });

  it('gives a hidden class its hotkey back when shown, unless another class took it meanwhile', () => {
    // Shown with `class set --show`: the key it had when hidden comes back.
    const shown = cli('class', 'set', 'burr cell', '--show');
    expect(shown.code).toBe(0);
    expect(shown.json()).toMatchObject({ name: 'burr cell', hotkey: 'E' });
    expect(classRow('burr cell')).toMatchObject({ hidden: 0, hotkey: 'E' });

    // Shown by adding its name again: same class, same key.
    expect(cli('class', 'remove', 'burr cell').json()).toMatchObject({ removed: 'hidden' });
    const readded = cli('class', 'add', 'Burr cell');
    expect(readded.json()).toMatchObject({ created: false, cls: { name: 'burr cell', hotkey: 'E' } });

    // Another class takes the key while it is hidden: that class keeps it, the shown one comes back keyless.
    expect(cli('class', 'remove', 'burr cell').code).toBe(0);
    const pappen = cli('class', 'add', 'Pappenheimer body', '--key', 'e');
    expect(pappen.json()).toMatchObject({ created: true, cls: { hotkey: 'E' } });
    expect(cli('class', 'set', 'burr cell', '--show').json()).toMatchObject({ hotkey: null });
    expect(classRow('burr cell')).toMatchObject({ hidden: 0, hotkey: null });
    expect(classRow('Pappenheimer body')!.hotkey).toBe('E');
  });

  it('undoing a merge gives the class back its key even when a hidden class held it in reserve', () => {
    // teardrop (key 8) is merged away, freeing 8; a new class takes 8 and is hidden, keeping 8 in reserve.
    expect(classRow('teardrop')!.hotkey).toBe('8');
    expect(cli('label', '--cells', String(cellIds[6]), '--class', 'teardrop').code).toBe(0);
    expect(cli('class', 'merge', 'teardrop', 'schistocyte').json()).toMatchObject({ relabeled: 1 });
    expect(cli('class', 'add', 'spur cell', '--key', '8').code).toBe(0);
    // An empty class merged into it (no label batch) makes the history name it, so removing hides it.
    expect(cli('class', 'add', 'spur variant').code).toBe(0);
    expect(cli('class', 'merge', 'spur variant', 'spur cell').json()).toMatchObject({
      relabeled: 0,
      batchId: null,
    });
    expect(cli('class', 'remove', 'spur cell').json()).toMatchObject({ removed: 'hidden' });
    expect(classRow('spur cell')).toMatchObject({ hidden: 1, hotkey: '8' });

    const undo = cli('undo');
    expect(undo.code).toBe(0);
    expect(labelsOf([cellIds[6]])).toEqual(['teardrop']);
    expect(classRow('teardrop')).toMatchObject({ merged_into: null, hotkey: '8' });
    expect(classRow('spur cell')).toMatchObject({ hidden: 1, hotkey: null });
    expect(cli('class', 'set', 'spur cell', '--show').json()).toMatchObject({ hotkey: null });
  });

  it('reports usage errors with status 2', () => {
    expectFailure(runCli(['class'], env), 2, /class list\|add\|rename\|set\|merge\|remove/);
    expectFailure(cli('class', 'remove'), 2, /exactly one class NAME/);
    expectFailure(cli('class', 'merge', 'normal'), 2, /FROM and INTO/);
    expectFailure(cli('class', 'list', '--bogus'), 2, /bogus/);
  });
});
