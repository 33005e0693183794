import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHULA_CLASSES, readChulaDir, readChulaFile } from '../../src/main/engine/formats/chula';
import { readCoco } from '../../src/main/engine/formats/coco';
import { csvRow, parseCsv, parseCsvObjects } from '../../src/main/engine/formats/csv';
import { safeFileName } from '../../src/main/engine/formats/filenames';
import { readGeoJson } from '../../src/main/engine/formats/geojson';
import { readImageFolder } from '../../src/main/engine/formats/imagefolder';
import { readVocDir, readVocFile } from '../../src/main/engine/formats/voc';
import { readYoloDir } from '../../src/main/engine/formats/yolo';
import { AnnotationFormatError } from '../../src/main/engine/formats/types';
import { dataPath, tempDir } from '../helpers/data';

const tmp = tempDir('reddino-formats-');
afterAll(() => tmp.cleanup());

describe('CSV', () => {
  it('quotes commas, quotes and newlines and parses them back unchanged', () => {
    const rows = [
      ['id', 'name', 'note'],
      ['1', 'target cell, "codocyte"', 'line1\nline2'],
      ['2', 'Zielzelle ü', ''],
      ['3', '標的細胞', 'a\r\nb'],
    ];
    const text = rows.map((r) => csvRow(r)).join('');
    expect(text).toContain('"target cell, ""codocyte"""');
    expect(parseCsv(text)).toEqual(rows);
    expect(parseCsvObjects('\uFEFFa,b\r\n1,2\r\n')).toEqual([{ a: '1', b: '2' }]);
  });

  it('writes empty fields for null and non-finite numbers', () => {
    expect(csvRow([null, undefined, NaN, 1.5, true])).toBe(',,,1.5,true\r\n');
  });
});

describe('safeFileName', () => {
  it('keeps non-ASCII letters and removes separators and reserved names', () => {
    expect(safeFileName('標的細胞')).toBe('標的細胞');
    expect(safeFileName('Zielzelle ü')).toBe('Zielzelle ü');
    expect(safeFileName('ring/trophozoite')).toBe('ring_trophozoite');
    expect(safeFileName('a:b*c?')).toBe('a_b_c_');
    expect(safeFileName('CON')).toBe('_CON');
    expect(safeFileName('..')).toBe('_');
  });
});

describe('Chula points', () => {
  it('reads every `x y class` line of a real field as a box centred on the point', () => {
    const txt = dataPath('fixture', 'chula_fields', '10.txt');
    const lines = fs.readFileSync(txt, 'utf8').trim().split(/\r?\n/);
    const img = readChulaFile(txt, dataPath('fixture', 'chula_fields', '10.jpg'), { boxSize: 30 });
    expect(img.cells).toHaveLength(lines.length);
    const [x, y, cls] = lines[0].split(/\s+/).map(Number);
    expect(img.cells[0].bbox).toEqual([x - 15, y - 15, 30, 30]);
    expect(img.cells[0].className).toBe(CHULA_CLASSES[cls]);
  });

  it('clips boxes to the image and reads a folder', () => {
    const set = readChulaDir(dataPath('fixture', 'chula_fields'), { width: 640, height: 480 });
    expect(set.images.length).toBeGreaterThanOrEqual(10);
    for (const im of set.images) {
      for (const c of im.cells) {
        expect(c.bbox[0]).toBeGreaterThanOrEqual(0);
        expect(c.bbox[1]).toBeGreaterThanOrEqual(0);
        expect(c.bbox[0] + c.bbox[2]).toBeLessThanOrEqual(640);
        expect(c.bbox[1] + c.bbox[3]).toBeLessThanOrEqual(480);
      }
    }
  });

  it('names the bad line of a malformed file', () => {
    const f = path.join(tmp.dir, 'bad.txt');
    fs.writeFileSync(f, '10 20 3\n10 twenty 3\n');
    expect(() => readChulaFile(f, 'x.jpg')).toThrow(/line 2/);
  });
});

describe('YOLO', () => {
  it('converts normalised boxes of the TXL fields to pixels with the real image size', async () => {
    const set = await readYoloDir(dataPath('fixture', 'txl_fields'), ['WBC', 'RBC', 'platelet']);
    expect(set.images.length).toBeGreaterThan(0);
    const first = set.images[0];
    const txt = first.path.replace(/\.[^.]+$/, '.txt');
    const line = fs.readFileSync(txt, 'utf8').trim().split(/\r?\n/)[0].split(/\s+/).map(Number);
    const [cls, cx, cy, w, h] = line;
    const c = first.cells[0];
    expect(c.className).toBe(['WBC', 'RBC', 'platelet'][cls]);
    expect(c.bbox[0]).toBeCloseTo((cx - w / 2) * first.width!, 3);
    expect(c.bbox[1]).toBeCloseTo((cy - h / 2) * first.height!, 3);
    expect(c.bbox[2]).toBeCloseTo(w * first.width!, 3);
    expect(c.bbox[3]).toBeCloseTo(h * first.height!, 3);
  });
});

describe('Pascal VOC', () => {
  it('reads the BCCD boxes with 1-based inclusive pixel indices', () => {
    const xml = dataPath('fixture', 'cbc_fields', 'BloodImage_00339.xml');
    const img = readVocFile(xml);
    expect(img.path).toBe(dataPath('fixture', 'cbc_fields', 'BloodImage_00339.jpg'));
    expect(img.width).toBe(640);
    expect(img.height).toBe(480);
    const objects = (fs.readFileSync(xml, 'utf8').match(/<object>/g) ?? []).length;
    expect(img.cells).toHaveLength(objects);
    // First object in the file: RBC, xmin 378 ymin 278 xmax 489 ymax 374.
    expect(img.cells[0]).toEqual({ bbox: [377, 277, 112, 97], className: 'RBC' });
    expect(
      new Set(
        readVocDir(dataPath('fixture', 'cbc_fields')).images.flatMap((i) => i.cells.map((c) => c.className)),
      ),
    ).toEqual(new Set(['RBC', 'WBC', 'Platelets']));
  });

  it('decodes XML entities in names', () => {
    const dir = path.join(tmp.dir, 'voc');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a.jpg'), '');
    fs.writeFileSync(
      path.join(dir, 'a.xml'),
      '<annotation><filename>a.jpg</filename><object><name>ring &amp; troph &#x00FC;</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>20</ymax></bndbox></object></annotation>',
    );
    const img = readVocFile(path.join(dir, 'a.xml'));
    expect(img.cells[0]).toEqual({ bbox: [0, 0, 10, 20], className: 'ring & troph ü' });
  });
});

describe('GeoJSON (QuPath)', () => {
  it('reads polygons, multipolygons, points and the classification shapes QuPath writes', () => {
    const f = path.join(tmp.dir, 'qupath.geojson');
    const square = [
      [10, 10],
      [40, 10],
      [40, 30],
      [10, 30],
      [10, 10],
    ];
    fs.writeFileSync(
      f,
      JSON.stringify([
        {
          type: 'Feature',
          geometry: { type: 'Polygon', coordinates: [square] },
          properties: { objectType: 'detection', classification: { name: '標的細胞', color: [1, 2, 3] } },
        },
        {
          type: 'Feature',
          geometry: {
            type: 'MultiPolygon',
            coordinates: [
              [
                [
                  [0, 0],
                  [2, 0],
                  [2, 2],
                  [0, 0],
                ],
              ],
              [square.map(([x, y]) => [x + 100, y])],
            ],
          },
          properties: { objectType: 'annotation', classification: { names: ['Ring', 'Positive'] } },
        },
        { type: 'Feature', geometry: { type: 'Point', coordinates: [50, 60] }, properties: {} },
      ]),
    );
    const img = readGeoJson(f, { imagePath: path.join(tmp.dir, 'x.jpg'), pointBoxSize: 20 });
    expect(img.cells).toHaveLength(3);
    expect(img.cells[0]).toEqual({
      bbox: [10, 10, 30, 20],
      contour: [10, 10, 40, 10, 40, 30, 10, 30],
      className: '標的細胞',
    });
    expect(img.cells[1].bbox).toEqual([110, 10, 30, 20]);
    expect(img.cells[1].className).toBe('Ring: Positive');
    expect(img.cells[2]).toEqual({ bbox: [40, 50, 20, 20] });
  });

  it('refuses a JSON file that is not GeoJSON', () => {
    const f = path.join(tmp.dir, 'not.geojson');
    fs.writeFileSync(f, JSON.stringify({ hello: 1 }));
    expect(() => readGeoJson(f, { imagePath: 'x.jpg' })).toThrow(AnnotationFormatError);
  });
});

describe('COCO reader', () => {
  it('resolves images against the JSON folder and keeps the largest polygon ring', () => {
    const f = path.join(tmp.dir, 'coco.json');
    fs.writeFileSync(
      f,
      JSON.stringify({
        images: [{ id: 7, file_name: 'imgs/a ü.jpg', width: 100, height: 80 }],
        categories: [{ id: 3, name: 'schizont' }],
        annotations: [
          {
            id: 1,
            image_id: 7,
            category_id: 3,
            bbox: [1, 2, 3, 4],
            segmentation: [
              [0, 0, 1, 0, 1, 1],
              [0, 0, 10, 0, 10, 10, 0, 10],
            ],
          },
          {
            id: 2,
            image_id: 7,
            category_id: 99,
            segmentation: { counts: 'abc', size: [80, 100] },
            bbox: [5, 5, 5, 5],
          },
        ],
      }),
    );
    const set = readCoco(f);
    expect(set.images).toHaveLength(1);
    expect(set.images[0].path).toBe(path.join(tmp.dir, 'imgs', 'a ü.jpg'));
    expect(set.images[0].cells[0]).toEqual({
      bbox: [1, 2, 3, 4],
      contour: [0, 0, 10, 0, 10, 10, 0, 10],
      className: 'schizont',
    });
    expect(set.images[0].cells[1]).toEqual({ bbox: [5, 5, 5, 5] });
  });

  it('names a dangling image reference', () => {
    const f = path.join(tmp.dir, 'dangling.json');
    fs.writeFileSync(
      f,
      JSON.stringify({ images: [], annotations: [{ id: 4, image_id: 1, bbox: [0, 0, 1, 1] }] }),
    );
    expect(() => readCoco(f)).toThrow(/annotation 4 refers to a missing image/);
  });
});

describe('ImageFolder crops', () => {
  it('reads the MP-IDB stage folders as one whole-crop cell per file, class from the folder', async () => {
    const root = dataPath('fixture', 'mpidb_pf_crops');
    const set = await readImageFolder(root);
    const expected = ['ring', 'schizont', 'trophozoite'].flatMap((stage) =>
      fs
        .readdirSync(path.join(root, stage))
        .filter((f) => /\.png$/i.test(f))
        .map((f) => `${stage}/${f}`),
    );
    expect(set.images.map((i) => `${i.cells[0].className}/${path.basename(i.path)}`).sort()).toEqual(
      expected.sort(),
    );
    for (const im of set.images) {
      expect(im.width).toBeGreaterThan(10);
      expect(im.cells).toEqual([
        { bbox: [0, 0, im.width, im.height], className: path.basename(path.dirname(im.path)) },
      ]);
    }
  });

  it('prefers the class names of metadata.csv over sanitised folder names', async () => {
    const root = path.join(tmp.dir, 'if');
    fs.mkdirSync(path.join(root, 'ring_troph'), { recursive: true });
    fs.copyFileSync(
      dataPath(
        'fixture',
        'nih_cells',
        'parasitized',
        fs.readdirSync(dataPath('fixture', 'nih_cells', 'parasitized'))[0],
      ),
      path.join(root, 'ring_troph', 'a.png'),
    );
    fs.writeFileSync(path.join(root, 'metadata.csv'), 'file,class\r\nring_troph/a.png,ring/troph\r\n');
    const set = await readImageFolder(root);
    expect(set.images[0].cells[0]).toMatchObject({ bbox: [0, 0, 128, 128], className: 'ring/troph' });
  });
});
