/**
 * Export throughput on real Chula fields, scaled up by registering each field several times (distinct image rows,
 * same pixels), with 384-d embeddings (RedDino small) and a prediction run.
 *   node bin/run-ts.mjs bench/export.ts [--copies 10] [--no-write]
 * Prints one JSON object and writes bench/results/export.json.
 *
 * Synthetic scale: `--cells 1000000` builds a project of that many cells (the Chula cells repeated over as many
 * image rows as needed, 384-d f32 vectors, labels, a prediction run), then runs the csv, coco and npy exports
 * each in a child process of its own and reports its peak RSS (getrusage maxrss), next to a child that only
 * opens the project: memory of a streaming export should not grow with the number of cells.
 *   node bin/run-ts.mjs bench/export.ts --cells 1000000 [--formats csv,coco,npy] [--no-write]
 * Writes bench/results/export-<cells>.json.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readChulaDir } from '../src/main/engine/formats/chula';
import { exportProject } from '../src/main/engine/export/project';
import { EXPORT_FORMATS } from '../src/main/engine/export/options';
import { CellStore } from '../src/main/engine/store/store';
import type { AnnotatedCell } from '../src/main/engine/formats/types';
import { dataPath } from '../test/helpers/data';

const args = process.argv.slice(2);
const copies = Number(args[args.indexOf('--copies') + 1]) || 10;
const write = !args.includes('--no-write');
const scale = args.includes('--cells') ? Number(args[args.indexOf('--cells') + 1]) : 0;

/** Copy `c` of a Chula field with its annotated cells (elliptic outlines from their boxes); returns the cell ids. */
function addCopy(store: CellStore, file: string, c: number, cells: AnnotatedCell[]): number[] {
  return store.addImageWithCells(
    {
      path: file,
      name: `${c}-${path.basename(file)}`,
      sha256: `${c}-${file}`,
      width: 640,
      height: 480,
      format: 'jpeg',
    },
    cells.map((cell) => {
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
  ).cellIds;
}

/** Adds the machine and date, prints the result, and (unless --no-write) writes bench/results/<name>.json. */
function report(name: string, fields: object): void {
  const result = {
    ...fields,
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
    fs.writeFileSync(`bench/results/${name}.json`, json + '\n');
  }
}

if (args[0] === '--child') {
  await child(args[1], args[2], args[3]);
  process.exit(0);
}
if (scale > 0) {
  await synthetic(scale);
  process.exit(0);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-export-'));
try {
  const store = CellStore.create(path.join(root, 'p.rdproj'));
  const set = readChulaDir(dataPath('fixture', 'chula_fields'), { width: 640, height: 480, boxSize: 30 });
  const names = new Map<string, number>();
  const t0 = performance.now();
  const cellIds: number[] = [];
  for (let c = 0; c < copies; c++) {
    for (const im of set.images) {
      const ids = addCopy(store, im.path, c, im.cells);
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
  };
  report('export', result);
  store.close();
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}

/** One export in this process; prints its time and this process's peak RSS. */
async function child(dir: string, format: string, out: string): Promise<void> {
  const t = performance.now();
  const store = CellStore.open(dir);
  let cells = 0;
  if (format !== 'none') {
    const r = await exportProject(store, { format: format as (typeof EXPORT_FORMATS)[number], out });
    cells = r.cells;
  }
  const ms = performance.now() - t;
  store.close();
  process.stdout.write(
    JSON.stringify({
      ms: Math.round(ms),
      cells,
      maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    }) + '\n',
  );
}

async function synthetic(target: number): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-export-'));
  const dir = path.join(root, 'p.rdproj');
  try {
    const store = CellStore.create(dir);
    const set = readChulaDir(dataPath('fixture', 'chula_fields'), { width: 640, height: 480, boxSize: 30 });
    const t0 = performance.now();
    const dims = 384;
    const modelId = store.addModel({ name: 'bench', kind: 'vit-onnx', dims });
    const classOf = new Map<string, number>();
    const perClass = new Map<number, number[]>();
    let n = 0;
    // Cells and vectors go in image by image, so setup memory stays small too.
    for (let c = 0; n < target; c++) {
      const im = set.images[c % set.images.length];
      const cells = im.cells.slice(0, Math.min(im.cells.length, target - n));
      const ids = addCopy(store, im.path, c, cells);
      cells.forEach((cell, i) => {
        let id = classOf.get(cell.className!);
        if (id === undefined) {
          id = (store.findClass(cell.className!) ?? store.addClass({ name: cell.className! }).cls).id;
          classOf.set(cell.className!, id);
        }
        const list = perClass.get(id);
        if (list) list.push(ids[i]);
        else perClass.set(id, [ids[i]]);
      });
      const vectors = new Float32Array(ids.length * dims).map((_, i) => Math.sin(i + n));
      store.putEmbeddings(modelId, ids, vectors, dims);
      n += ids.length;
    }
    for (const [classId, ids] of perClass) {
      store.applyLabels({ cellIds: ids, classId, source: 'imported', annotator: 'chula' });
    }
    const all = Int32Array.from([...perClass.values()].flat()).sort();
    const labels = store.labelsFor(all);
    store.putPredictionRun({
      modelId,
      classifier: 'bench',
      labeledCount: all.length,
      classIds: [...new Set(labels)],
      cellIds: all,
      predicted: labels,
      probability: new Float32Array(all.length).fill(0.9),
      margin: new Float32Array(all.length).fill(0.5),
    });
    store.close();
    const setupMs = performance.now() - t0;
    const run = (format: string) => {
      const out = path.join(root, `out-${format}`);
      const line = execFileSync(
        process.execPath,
        ['bin/run-ts.mjs', 'bench/export.ts', '--child', dir, format, out],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      const r = JSON.parse(line.trim().split('\n').at(-1)!) as {
        ms: number;
        cells: number;
        maxRssMB: number;
      };
      let bytes = 0;
      if (fs.existsSync(out))
        for (const f of fs.readdirSync(out)) bytes += fs.statSync(path.join(out, f)).size;
      fs.rmSync(out, { recursive: true, force: true });
      return { ...r, cellsPerSecond: r.cells ? Math.round((r.cells / r.ms) * 1000) : 0, bytes };
    };
    const formats = (args.includes('--formats') ? args[args.indexOf('--formats') + 1] : 'csv,coco,npy').split(
      ',',
    );
    const openOnly = run('none');
    const results: Record<string, ReturnType<typeof run>> = {};
    for (const f of formats) results[f] = run(f);
    const result = {
      bench: 'export-scale',
      cells: n,
      embeddingDims: dims,
      dbBytes: fs.statSync(path.join(dir, 'cells.db')).size,
      setupMs: Math.round(setupMs),
      openOnly,
      formats: results,
      notes:
        "each export in a child process; maxRssMB = that process's peak RSS (getrusage), openOnly = a child that opens the project and exits; ms includes opening the project.",
    };
    report(`export-${target}`, result);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
