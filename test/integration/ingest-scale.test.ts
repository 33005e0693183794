import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIngest } from '../../src/main/engine/services/ingest';
import { IngestPoolKeeper } from '../../src/main/engine/ingest/warm-pool';
import { CellStore } from '../../src/main/engine/store/store';
import { dataPath, tempDir } from '../helpers/data';
import { storedDigest } from '../helpers/store-digest';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

async function importWith(workers: number, name: string): Promise<Record<string, string>> {
  const store = CellStore.create(path.join(tmp.dir, `${name}.rdproj`));
  const keeper = new IngestPoolKeeper({ keepWarm: false, size: workers });
  try {
    const summary = await runIngest(
      store,
      {
        paths: [dataPath('fixture', 'txl_fields')],
        as: 'fields',
        cellsFrom: 'segmentation',
        annotator: 'test',
      },
      { signal: new AbortController().signal, progress: () => undefined },
      keeper,
    );
    expect(summary.failed).toEqual([]);
    expect(summary).toMatchObject({ files: 18, imported: 18 });
    return storedDigest(store);
  } finally {
    await keeper.close();
    store.close();
  }
}

describe('one scale per image size for a whole import', () => {
  it('stores the same cells whichever worker segments which field (18 fields of 5 sizes, 1 and 2 workers)', async () => {
    // With one worker every field is segmented in import order; with two, the fields of each size are split
    // between the workers as they come free. A scale searched per worker would make the second import differ.
    const one = await importWith(1, 'one');
    const two = await importWith(2, 'two');
    expect(Object.keys(one)).toHaveLength(18);
    expect(Object.values(one).every((v) => Number(v.split(':')[0]) > 0)).toBe(true);
    expect(two).toEqual(one);
  }, 300_000);
});
