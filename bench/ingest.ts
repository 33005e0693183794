// Ingest throughput: 640x480 Chula fields, decode to stored thumbnail (+ morphology vectors), on all cores.
// node bin/run-ts.mjs bench/ingest.ts [fieldCount=60]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CellStore } from '../src/main/engine/store/store';
import { runIngest } from '../src/main/engine/services/ingest';
import { machine, writeResult } from './common';

const count = Number(process.argv[2] ?? 60);
const src = path.resolve('../shared/data/chula-dev');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-ingest-'));
const fields = path.join(tmp, 'fields');
fs.mkdirSync(fields);
// Images only: the point annotations would add label matching, which is not what this measures.
for (const f of fs
  .readdirSync(src)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, count)) {
  fs.copyFileSync(path.join(src, f), path.join(fields, f));
}
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const store = CellStore.create(path.join(tmp, 'bench.rdproj'));
// CPU time of the whole process (engine thread and ingest workers): on a loaded machine wall-clock throughput
// mostly measures the other load, CPU seconds per cell much less so.
const cpu0 = process.cpuUsage();
const controller = new AbortController();
// Worker start-up (module load, detector session, scale search, JIT warm-up) costs the first fields several
// times a warm field; a long import amortises it, so the rate after the first WARM fields is reported too.
const WARM = 6;
interface WarmMark {
  t: number;
  cells: number;
  cpu: NodeJS.CpuUsage;
}
// Set from the progress callback, which TypeScript's flow analysis cannot see: read it through `marks`.
const marks: { warm: WarmMark | null } = { warm: null };
const summary = await runIngest(
  store,
  { paths: [fields], as: 'fields', cellsFrom: 'segmentation', annotator: 'bench' },
  {
    signal: controller.signal,
    progress: (done) => {
      if (done === WARM && !marks.warm) {
        const cells = store.listSlides().reduce((a, sl) => a + sl.cellCount, 0);
        marks.warm = { t: performance.now(), cells, cpu: process.cpuUsage() };
      }
    },
  },
);
clearInterval(sampler);
const tEnd = performance.now();
const warm = marks.warm;
const warmCpu = warm ? process.cpuUsage(warm.cpu) : null;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const result = {
  bench: 'ingest',
  fields: summary.imported,
  cells: summary.cells,
  seconds: Number(summary.seconds.toFixed(2)),
  cellsPerSecond: Math.round(summary.cellsPerSecond),
  fieldsPerSecond: Number((summary.imported / summary.seconds).toFixed(2)),
  cpuSeconds: Number(cpuSeconds.toFixed(2)),
  cellsPerCpuSecond: Math.round(summary.cells / cpuSeconds),
  afterWarmUp: warm && {
    fields: summary.imported - WARM,
    cells: summary.cells - warm.cells,
    cellsPerSecond: Math.round((summary.cells - warm.cells) / ((tEnd - warm.t) / 1000)),
    cellsPerCpuSecond: Math.round((summary.cells - warm.cells) / ((warmCpu!.user + warmCpu!.system) / 1e6)),
  },
  peakRssMB: Math.round(peakRss / 2 ** 20),
  ...machine(),
};
store.close();
fs.rmSync(tmp, { recursive: true, force: true });
writeResult('ingest', result);
