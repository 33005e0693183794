import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportProject, UNLABELED_CLASS } from '../../src/main/engine/export/project';
import { resolveFilter, predictionLookup } from '../../src/main/engine/export/selection';
import { buildCoco, type CocoImageInput } from '../../src/main/engine/formats/coco';
import { parseCsvObjects } from '../../src/main/engine/formats/csv';
import { readNpyFloat32 } from '../../src/main/engine/io/npy';
import { EXPORT_PAGE, iterateExportCells } from '../../src/main/engine/store/export-repo';
import { CellStore } from '../../src/main/engine/store/store';
import { dataPath, tempDir } from '../helpers/data';
import { readChulaFile } from '../../src/main/engine/formats/chula';

let tmp: { dir: string; cleanup: () => void };
let store: CellStore;
const cellIds: number[] = [];
const DIMS = 12;
/** Cells left without an embedding (every 97th). */
const missing = (k: number) => k % 97 === 5;

/**
 * More cells than one export page (EXPORT_PAGE): the Chula field 101 registered as 30 slides (distinct rows, same
 * pixels), its labels imported, a few cells unlabeled, 12-d vectors stored half as f32 and half as f16.
 */
beforeAll(() => {
  tmp = tempDir('reddino-export-stream-');
  store = CellStore.create(path.join(tmp.dir, 'p.rdproj'));
  const file = dataPath('fixture', 'chula_fields', '101.jpg');
  const ann = readChulaFile(dataPath('fixture', 'chula_fields', '101.txt'), file, {
    boxSize: 30,
    width: 640,
    height: 480,
  });
  for (let s = 0; s < 30; s++) {
    const { cellIds: ids } = store.addImageWithCells(
      { path: file, name: `Präparat ${s}.jpg`, sha256: `s${s}`, width: 640, height: 480, format: 'jpeg' },
      ann.cells.map((c, i) => {
        const [x, y, w, h] = c.bbox;
        return {
          kind: 'rbc' as const,
          origin: 'imported-annotation' as const,
          bbox: c.bbox,
          centroid: [x + w / 2, y + h / 2] as [number, number],
          contour: i % 3 ? Float32Array.of(x, y, x + w, y, x + w, y + h, x, y + h) : undefined,
        };
      }),
    );
    ann.cells.forEach((c, i) => {
      if (i % 11 === 4) return;
      const cls = store.findClass(c.className!) ?? store.addClass({ name: c.className! }).cls;
      store.applyLabels({ cellIds: [ids[i]], classId: cls.id, source: 'imported', annotator: 'chula' });
    });
    cellIds.push(...ids);
  }
  const modelId = store.addModel({ name: 'vec', kind: 'morphology', dims: DIMS });
  const keep = cellIds.filter((_, k) => !missing(k));
  const vec = (ids: number[]) =>
    Float32Array.from({ length: ids.length * DIMS }, (_, j) => Math.sin(j * 0.1) * 2);
  const half = Math.floor(keep.length / 2);
  store.putEmbeddings(modelId, keep.slice(0, half), vec(keep.slice(0, half)), DIMS, 'f32');
  store.putEmbeddings(modelId, keep.slice(half), vec(keep.slice(half)), DIMS, 'f16');
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('streamed exports', () => {
  it('covers more than one page of cells', () => {
    expect(cellIds.length).toBeGreaterThan(EXPORT_PAGE * 1.5);
  });

  it('writes COCO identical to building it in memory, unlabeled cells included', async () => {
    const out = path.join(tmp.dir, 'coco');
    const r = await exportProject(store, { format: 'coco', out, includeUnlabeled: true });
    const streamed = JSON.parse(fs.readFileSync(path.join(out, 'annotations.json'), 'utf8')) as ReturnType<
      typeof buildCoco
    >;
    // The same export built the old way: all images and cells in memory, then buildCoco.
    const images: CocoImageInput[] = [];
    for (const row of iterateExportCells(store, resolveFilter(store, { format: 'coco', out }))) {
      if (images.at(-1)?.fileName !== `#${row.imageId}`)
        images.push({
          fileName: `#${row.imageId}`,
          width: row.imageWidth,
          height: row.imageHeight,
          cells: [],
        });
      images.at(-1)!.cells.push({
        bbox: row.bbox,
        contour: row.contour ? Array.from(row.contour) : undefined,
        className: row.className ?? UNLABELED_CLASS,
        attributes: {
          cell_id: row.id,
          kind: row.kind,
          annotator: row.annotator,
          label_source: row.labelSource,
        },
      });
    }
    const expected = buildCoco(images, [...store.listClasses().map((c) => c.name), UNLABELED_CLASS]);
    expect(streamed.annotations).toEqual(expected.annotations);
    expect(streamed.categories).toEqual(expected.categories);
    expect(streamed.images.map((i) => [i.id, i.width, i.height])).toEqual(
      expected.images.map((i) => [i.id, i.width, i.height]),
    );
    expect(streamed.images[0].file_name).toBe(
      path.relative(out, store.listSlides()[0].path).split(path.sep).join('/'),
    );
    expect(streamed.info.description).toBe(expected.info.description);
    expect(r.cells).toBe(cellIds.length);
    expect(r.images).toBe(30);
    expect(fs.readdirSync(out).sort()).toEqual(['.reddino-export.json', 'annotations.json']);
  });

  it('lists the unlabeled category only when cells use it', async () => {
    const out = path.join(tmp.dir, 'coco-labeled');
    await exportProject(store, { format: 'coco', out });
    const coco = JSON.parse(fs.readFileSync(path.join(out, 'annotations.json'), 'utf8')) as ReturnType<
      typeof buildCoco
    >;
    expect(coco.categories.map((c) => c.name)).toEqual(store.listClasses().map((c) => c.name));
    expect(coco.annotations.length).toBe(store.queryCells({ labeled: 'labeled' }).length);
  });

  it('writes npy rows (f32 and f16 vectors) in cells.csv order, skipping cells without a vector', async () => {
    const out = path.join(tmp.dir, 'npy');
    const r = await exportProject(store, { format: 'npy', out });
    const m = readNpyFloat32(path.join(out, 'embeddings.npy'));
    const rows = parseCsvObjects(fs.readFileSync(path.join(out, 'cells.csv'), 'utf8'));
    const expectedIds = cellIds.filter((_, k) => !missing(k));
    expect(m.cols).toBe(DIMS);
    expect(m.rows).toBe(expectedIds.length);
    expect(rows.map((x) => Number(x.cell_id))).toEqual(expectedIds);
    const all = store.getEmbeddings(store.listModels()[0].id);
    const at = new Map(Array.from(all.cellIds, (id, i) => [id, i]));
    for (let k = 0; k < expectedIds.length; k += 37) {
      const i = at.get(expectedIds[k])!;
      expect(Array.from(m.data.subarray(k * DIMS, (k + 1) * DIMS))).toEqual(
        Array.from(all.vectors.subarray(i * DIMS, (i + 1) * DIMS)),
      );
    }
    expect(r.cells).toBe(expectedIds.length);
    expect(
      r.warnings.some((w) => w.startsWith(`${cellIds.length - expectedIds.length} cell(s) have no vec`)),
    ).toBe(true);
  });

  it('looks predictions up by cell id through the sorted index', () => {
    const ids = Int32Array.from([50, 7, 300, 12]);
    const look = predictionLookup({
      id: 1,
      modelId: 2,
      classifier: 'x',
      createdAt: '',
      labeledCount: 0,
      classIds: [],
      cellIds: ids,
      predicted: Int32Array.from([1, 2, 3, 4]),
      probability: Float32Array.from([0.5, 0.25, 0.75, 1]),
      margin: Float32Array.from([0, 0, 0, 0]),
    } as unknown as Parameters<typeof predictionLookup>[0]);
    expect(look.get(300)).toEqual({ classId: 3, confidence: 0.75, margin: 0 });
    expect(look.get(7)?.classId).toBe(2);
    expect(look.get(8)).toBeNull();
    expect(predictionLookup(null).get(7)).toBeNull();
  });

  it('leaves no partial folder when cancelled mid-way', async () => {
    const out = path.join(tmp.dir, 'cancelled');
    const ac = new AbortController();
    let calls = 0;
    await expect(
      exportProject(
        store,
        { format: 'npy', out },
        {
          signal: ac.signal,
          onProgress: () => {
            if (++calls === 1) ac.abort();
          },
        },
      ),
    ).rejects.toThrow();
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(tmp.dir).filter((f) => f.includes('cancelled'))).toEqual([]);
  });
});
