import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIngest } from '../../src/main/engine/services/ingest';
import { IngestPoolKeeper } from '../../src/main/engine/ingest/warm-pool';
import { CellStore } from '../../src/main/engine/store/store';
import { decodeImage } from '../../src/main/engine/ingest/decode';
import { bmp } from '../helpers/bmp';
import { dataPath, tempDir } from '../helpers/data';
import { storedDigest } from '../helpers/store-digest';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

async function importWith(
  workers: number,
  name: string,
  folder = dataPath('fixture', 'txl_fields'),
  failures = 0,
): Promise<Record<string, string>> {
  const store = CellStore.create(path.join(tmp.dir, `${name}.rdproj`));
  const keeper = new IngestPoolKeeper({ keepWarm: false, size: workers });
  try {
    const summary = await runIngest(
      store,
      {
        paths: [folder],
        as: 'fields',
        cellsFrom: 'segmentation',
        annotator: 'test',
      },
      { signal: new AbortController().signal, progress: () => undefined },
      keeper,
    );
    expect(summary.failed).toHaveLength(failures);
    return storedDigest(store);
  } finally {
    await keeper.close();
    store.close();
  }
}

/** The four 416x416 fields of fixture/txl_fields (BCD). Searched on their own, they settle on 74.4-76.1 px. */
const BCD = [
  '04b0c5c4-6135-51fa-a213-57c40224a22f',
  '0ee104a7-bfd9-529c-a525-85363b0ca3c3',
  '24284fae-5fd8-50ff-ba48-0f8acbb6c642',
  '2b42c77e-97df-5be7-a482-2771461b8fa2',
];

/** A new folder under the test's temp dir holding copies of the BCD fields. */
function bcdFolder(name: string): string {
  const dir = path.join(tmp.dir, name);
  fs.mkdirSync(dir);
  for (const n of BCD)
    fs.copyFileSync(dataPath('fixture', 'txl_fields', `${n}.jpg`), path.join(dir, `${n}.jpg`));
  return dir;
}

const byStem = (d: Record<string, string>) =>
  Object.fromEntries(Object.entries(d).map(([k, v]) => [k.replace(/\.\w+$/, ''), v]));

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

  it('shares the scale among BMP fields too (sharp reads no BMP header): BMP copies store what the JPEGs do', async () => {
    // The BCD fields decoded and written losslessly as BMP: the same pixels, so the same cells, thumbnails and
    // vectors, provided the later fields are segmented at the first one's scale.
    const jpegs = bcdFolder('jpegs');
    const bmps = path.join(tmp.dir, 'bmps');
    fs.mkdirSync(bmps);
    for (const n of BCD) {
      const img = await decodeImage(path.join(jpegs, `${n}.jpg`));
      expect([img.width, img.height]).toEqual([416, 416]);
      fs.writeFileSync(path.join(bmps, `${n}.bmp`), bmp(img.width, img.height, img.data, 24));
    }
    const fromJpeg = byStem(await importWith(2, 'jpegs', jpegs));
    expect(Object.keys(fromJpeg).sort()).toEqual(BCD);
    expect(byStem(await importWith(2, 'bmps', bmps))).toEqual(fromJpeg);
  }, 300_000);

  it('hands the search to the next field of the size when the first fails to decode', async () => {
    // A truncated copy of a BCD field sorts first: its header reads (416x416), its pixels do not. The import
    // reports it and goes on as if it were not there: the next field searches the scale, the rest reuse it.
    const good = bcdFolder('bcd');
    const withCut = bcdFolder('bcd-with-cut');
    const whole = fs.readFileSync(dataPath('fixture', 'txl_fields', `${BCD[2]}.jpg`));
    fs.writeFileSync(path.join(withCut, '000-cut.jpg'), whole.subarray(0, Math.floor(whole.length * 0.4)));
    const expected = await importWith(2, 'bcd', good);
    expect(Object.keys(expected)).toHaveLength(4);
    expect(await importWith(2, 'bcd-with-cut', withCut, 1)).toEqual(expected);
  }, 300_000);
});
