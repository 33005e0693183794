// A project of 1M cells: time from opening the project to having the map's typed arrays (what the UI draws).
// node bin/run-ts.mjs bench/open-1m.ts [cells=1000000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CellStore } from '../src/main/engine/store/store';
import { Engine } from '../src/main/engine/engine';
import { SettingsFile } from '../src/main/engine/settings';
import type { MapData } from '../src/shared/api';
import { writeResult } from './common';

const n = Number(process.argv[2] ?? 1_000_000);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-open-'));
const dir = path.join(tmp, 'big.rdproj');

const tBuild = performance.now();
const store = CellStore.create(dir);
const fields = Math.ceil(n / 100);
store.transaction(() => {
  for (let f = 0; f < fields; f++) {
    const imageId = store.addImage({
      path: `/slides/f${f}.jpg`,
      name: `f${f}.jpg`,
      sha256: `sha${f}`,
      width: 640,
      height: 480,
      format: 'jpeg',
    });
    for (let i = 0; i < 100 && f * 100 + i < n; i++) {
      const x = (i % 10) * 60;
      const y = Math.floor(i / 10) * 45;
      store.addCell(imageId, {
        kind: 'rbc',
        origin: 'segmented',
        bbox: [x, y, 40, 40],
        centroid: [x + 20, y + 20],
        area: 1200,
      });
    }
  }
});
const ids = store.allCellIds();
const model = store.addModel({ name: 'morphology-v1', kind: 'morphology', dims: 2 });
const xy = new Float32Array(n * 2);
for (let i = 0; i < n; i++) {
  xy[2 * i] = Math.cos(i) * (i % 1000);
  xy[2 * i + 1] = Math.sin(i) * (i % 997);
}
store.putMapLayout(model, 'umap', ids, xy);
const normal = store.findClass('normal')!.id;
store.applyLabels({
  cellIds: Array.from(ids.subarray(0, 10_000)),
  classId: normal,
  source: 'bulk',
  annotator: 'bench',
});
store.putPredictionRun({
  modelId: model,
  classifier: 'linear-probe',
  labeledCount: 10_000,
  classIds: [normal],
  cellIds: ids,
  predicted: new Int32Array(n).fill(normal),
  probability: new Float32Array(n).fill(0.9),
  margin: new Float32Array(n).fill(0.8),
});
store.close();
const buildSeconds = (performance.now() - tBuild) / 1000;
const dbBytes = fs.statSync(path.join(dir, 'cells.db')).size;

const engine = new Engine({ settings: new SettingsFile(path.join(tmp, 'config')) });
const t0 = performance.now();
await engine.call('project.open', { path: dir });
const tOpen = performance.now();
const map = (await engine.call('map.get', {})) as MapData;
const tMap = performance.now();
await engine.call('project.stats', {});
const tStats = performance.now();
const result = {
  bench: 'open-1m',
  cells: map.cellIds.length,
  dbMB: Math.round(dbBytes / 2 ** 20),
  openSeconds: Number(((tOpen - t0) / 1000).toFixed(3)),
  mapGetSeconds: Number(((tMap - tOpen) / 1000).toFixed(3)),
  openToMapSeconds: Number(((tMap - t0) / 1000).toFixed(3)),
  statsSeconds: Number(((tStats - tMap) / 1000).toFixed(3)),
  goalSeconds: 3,
  buildSeconds: Number(buildSeconds.toFixed(1)),
  note: 'typed arrays only; the UI draws them with one deck.gl ScatterplotLayer (frame time needs a GPU machine)',
  loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  date: new Date().toISOString(),
};
await engine.dispose();
fs.rmSync(tmp, { recursive: true, force: true });
writeResult('open-1m', result);
