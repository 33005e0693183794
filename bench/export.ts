/**
 * Export throughput on real Chula fields, scaled up by registering each field several times (distinct image rows,
 * same pixels), with 384-d embeddings (RedDino small) and a prediction run.
 *   node bin/run-ts.mjs bench/export.ts [--copies 10] [--no-write]
 * Prints one JSON object and writes bench/results/export.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readChulaDir } from '../src/main/engine/formats/chula';
import { exportProject } from '../src/main/engine/export/project';
import { EXPORT_FORMATS } from '../src/main/engine/export/options';
import { CellStore } from '../src/main/engine/store/store';
import { dataPath } from '../test/helpers/data';

const args = process.argv.slice(2);
const copies = Number(args[args.indexOf('--copies') + 1]) || 10;
const write = !args.includes('--no-write');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-export-'));
try {
  const store = CellStore.create(path.join(root, 'p.rdproj'));
  const set = readChulaDir(dataPath('fixture', 'chula_fields'), { width: 640, height: 480, boxSize: 30 });
  const names = new Map<string, number>();
  const t0 = performance.now();
  const cellIds: number[] = [];
  for (let c = 0; c < copies; c++) {
    for (const im of set.images) {
      const { cellIds: ids } = store.addImageWithCells(
        {
          path: im.path,
          name: `${c}-${path.basename(im.path)}`,
          sha256: `${c}-${im.path}`,
          width: 640,
          height: 480,
          format: 'jpeg',
        },
        im.cells.map((cell) => {
          const [x, y, w, h] = cell.bbox;
          const contour = new Float32Array(48);
          for (let i = 0; i < 24; i++) {
            contour[2 * i] = x + w / 2 + (w / 2) * Math.cos((Math.PI * i) / 12);
            contour[2 * i + 1] = y + h / 2 + (h / 2) * Math.sin((Math.PI * i) / 12);
          }
          return {
            kind: 'rbc' as const,
            origin: 'imported-annotation' as const,
            bbox: cell.bbox,
            centroid: [x + w / 2, y + h / 2] as [number, number],
            contour,
            area: (Math.PI * w * h) / 4,
          };
        }),
      );
      const byClass = new Map<string, number[]>();
      im.cells.forEach((cell, i) =>
        byClass.set(cell.className!, [...(byClass.get(cell.className!) ?? []), ids[i]]),
      );
      for (const [n, cls] of byClass) {
        let id = names.get(n);
        if (id === undefined) {
          id = (store.findClass(n) ?? store.addClass({ name: n }).cls).id;
          names.set(n, id);
        }
        store.applyLabels({ cellIds: cls, classId: id, source: 'imported', annotator: 'chula' });
      }
      cellIds.push(...ids);
    }
  }
  const dims = 384;
  const modelId = store.addModel({ name: 'bench', kind: 'vit-onnx', dims });
  const vectors = new Float32Array(cellIds.length * dims).map((_, i) => Math.sin(i));
  store.putEmbeddings(modelId, cellIds, vectors, dims);
  const labels = store.labelsFor(Int32Array.from(cellIds));
  store.putPredictionRun({
    modelId,
    classifier: 'bench',
    labeledCount: cellIds.length,
    classIds: [...new Set(labels)],
    cellIds: Int32Array.from(cellIds),
    predicted: labels,
    probability: new Float32Array(cellIds.length).fill(0.9),
    margin: new Float32Array(cellIds.length).fill(0.5),
  });
  const setupMs = performance.now() - t0;

  const formats: Record<string, { ms: number; cellsPerSecond: number; bytes: number; cells: number }> = {};
  for (const format of EXPORT_FORMATS) {
    const out = path.join(root, `out-${format}`);
    const t = performance.now();
    const r = await exportProject(store, { format, out, size: format === 'imagefolder' ? 224 : undefined });
    const ms = performance.now() - t;
    let bytes = 0;
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else bytes += fs.statSync(p).size;
      }
    };
    walk(out);
    formats[format] = {
      ms: Math.round(ms),
      cellsPerSecond: Math.round((r.cells / ms) * 1000),
      bytes,
      cells: r.cells,
    };
  }
  const result = {
    bench: 'export',
    cells: cellIds.length,
    images: copies * set.images.length,
    embeddingDims: dims,
    setupMs: Math.round(setupMs),
    formats,
    notes:
      'imagefolder at --size 224 (decode each 640x480 JPEG once, PNG crops); report = HTML + PDF + JSON; audit = one row per label event.',
    machine: {
      cpus: os.cpus().length,
      loadavg: os.loadavg().map((v) => Math.round(v * 100) / 100),
      node: process.version,
    },
    date: new Date().toISOString(),
  };
  const json = JSON.stringify(result, null, 2);
  process.stdout.write(json + '\n');
  if (write) {
    fs.mkdirSync('bench/results', { recursive: true });
    fs.writeFileSync('bench/results/export.json', json + '\n');
  }
  store.close();
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
