// Ingest throughput: 640x480 Chula fields, decode to stored thumbnail (+ morphology vectors), on all cores.
// node bin/run-ts.mjs bench/ingest.ts [fieldCount=60] [--runs 3]
//
// Two figures, each measured in a fresh process (no JIT or module state carried from one to the other):
// - coldStart: the import starts its own worker pool (module load, detector session, scale search and JIT
//   warm-up all inside the timed import), as a one-shot `reddino ingest` does;
// - warmPool: the pool is started when the project opens (IngestPoolKeeper.warm(), as the desktop and web hosts
//   do) and the timer starts when the import starts, once the pool is warm: what a user sees importing into an
//   open project. The warm-up's own time and CPU are reported beside it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CellStore } from '../src/main/engine/store/store';
import { runIngest } from '../src/main/engine/services/ingest';
import { IngestPoolKeeper } from '../src/main/engine/ingest/warm-pool';
import { machine, medianRun, writeResult } from './common';

const count = Number(process.argv[2] ?? 60);
const runs = process.argv.includes('--runs') ? Number(process.argv[process.argv.indexOf('--runs') + 1]) : 3;
const scenario = process.argv.includes('--scenario')
  ? process.argv[process.argv.indexOf('--scenario') + 1]
  : null;

if (scenario === 'cold' || scenario === 'warm') {
  console.log(JSON.stringify(await measure(scenario)));
} else {
  const run = (s: string) => {
    const out = execFileSync(
      process.execPath,
      ['bin/run-ts.mjs', 'bench/ingest.ts', String(count), '--scenario', s],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      },
    );
    return JSON.parse(out.trim().split('\n').pop()!);
  };
  // This machine's speed drifts by 10-20% over minutes (a shared host): each scenario runs `runs` times,
  // alternating, and the run with the median whole-import rate is reported with every run's rate beside it.
  const cold: Array<Record<string, unknown>> = [];
  const warm: Array<Record<string, unknown>> = [];
  for (let i = 0; i < runs; i++) {
    cold.push(run('cold'));
    warm.push(run('warm'));
  }
  const median = (all: Array<Record<string, unknown>>) => {
    return {
      ...medianRun(all, (r) => r.cellsPerSecond as number),
      runs: all.map((r) => r.cellsPerSecond),
      peakRssMBMax: Math.max(...all.map((r) => r.peakRssMB as number)),
    };
  };
  const coldStart = median(cold);
  const warmPool = median(warm);
  writeResult('ingest', {
    bench: 'ingest',
    fields: count,
    coldStart,
    warmPool,
    ...machine(),
  });
}

async function measure(kind: 'cold' | 'warm') {
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
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
  const store = CellStore.create(path.join(tmp, 'bench.rdproj'));
  // The project opens: a long-lived host starts the pool and lets it warm up in the background.
  let keeper: IngestPoolKeeper | undefined;
  let warmUp: { seconds: number; cpuSeconds: number } | null = null;
  if (kind === 'warm') {
    const w0 = performance.now();
    const c0 = process.cpuUsage();
    keeper = new IngestPoolKeeper({ keepWarm: true });
    keeper.warm();
    await keeper.whenReady();
    const c = process.cpuUsage(c0);
    warmUp = {
      seconds: Number(((performance.now() - w0) / 1000).toFixed(2)),
      cpuSeconds: Number(((c.user + c.system) / 1e6).toFixed(2)),
    };
  }
  // CPU time of the whole process (engine thread and ingest workers): on a loaded machine wall-clock throughput
  // mostly measures the other load, CPU seconds per cell much less so.
  const cpu0 = process.cpuUsage();
  // Worker start-up (module load, detector session, scale search, JIT warm-up) costs a cold pool's first fields
  // several times a warm field; the rate after the first WARM fields is reported too.
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
      signal: new AbortController().signal,
      progress: (done) => {
        if (done === WARM && !marks.warm) {
          const cells = store.listSlides().reduce((a, sl) => a + sl.cellCount, 0);
          marks.warm = { t: performance.now(), cells, cpu: process.cpuUsage() };
        }
      },
    },
    keeper,
  );
  const tEnd = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const warm = marks.warm;
  const warmCpu = warm ? process.cpuUsage(warm.cpu) : null;
  await keeper?.close();
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  return {
    fields: summary.imported,
    cells: summary.cells,
    seconds: Number(summary.seconds.toFixed(2)),
    cellsPerSecond: Math.round(summary.cellsPerSecond),
    cpuSeconds: Number(cpuSeconds.toFixed(2)),
    cellsPerCpuSecond: Math.round(summary.cells / cpuSeconds),
    afterFirstSixFields: warm && {
      cells: summary.cells - warm.cells,
      cellsPerSecond: Math.round((summary.cells - warm.cells) / ((tEnd - warm.t) / 1000)),
      cellsPerCpuSecond: Math.round((summary.cells - warm.cells) / ((warmCpu!.user + warmCpu!.system) / 1e6)),
    },
    ...(warmUp ? { poolWarmUpAtOpen: warmUp } : {}),
    peakRssMB: Math.round(peakRss / 2 ** 20),
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}
