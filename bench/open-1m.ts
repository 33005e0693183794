// A project of 1M cells: time from opening the project to having the map's typed arrays (what the UI draws).
// node bin/run-ts.mjs bench/open-1m.ts [cells=1000000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../src/main/engine/engine';
import { SettingsFile } from '../src/main/engine/settings';
import type { MapData } from '../src/shared/api';
import { writeResult } from './common';
import { buildSyntheticProject } from './synthetic-project';

const n = Number(process.argv[2] ?? 1_000_000);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-open-'));
const dir = path.join(tmp, 'big.rdproj');

const tBuild = performance.now();
buildSyntheticProject(dir, n);
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
