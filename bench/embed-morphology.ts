// Morphology re-embedding of a whole project, as `reddino embed` and a model upgrade run it (runEmbed), on the
// engine thread and on the ingest worker pool (one worker per core, each decoding its own images):
// - chula: the first FIELDS chula-dev smear fields (640x480 JPEG), cells found by ingest's segmentation;
// - nih: every nih-dev single-cell crop (128x128 PNG), imported as crops: the largest cells per pixel budget.
// Each project is imported once, then re-embedded under a fresh model name per run, in ROUNDS alternating
// rounds (engine thread, warm pool, cold pool); the median run per mode is reported with every run's rate.
// Every run's vectors are compared byte for byte with the ones ingest stored.
//   node bin/run-ts.mjs bench/embed-morphology.ts [fields=120] [rounds=3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CellStore } from '../src/main/engine/store/store';
import { runEmbed } from '../src/main/engine/services/embed';
import { IngestPoolKeeper } from '../src/main/engine/ingest/warm-pool';
import { MORPHOLOGY_DIMS } from '../src/main/engine/embed/morphology';
import { machine, medianRun, writeResult } from './common';
import { copyFirstFields, importedProject } from './imported-project';

const FIELDS = Number(process.argv[2] ?? 120);
const ROUNDS = Number(process.argv[3] ?? 3);
const DATA = path.resolve('../shared/data');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-embed-'));
const never = new AbortController().signal;

const projects = {
  chula: await importedProject(
    path.join(tmp, 'chula.rdproj'),
    [copyFirstFields(path.join(DATA, 'chula-dev'), path.join(tmp, 'chula'), FIELDS)],
    'fields',
  ),
  nih: await importedProject(path.join(tmp, 'nih.rdproj'), [path.join(DATA, 'nih-dev')], 'crops'),
};

type Mode = 'engineThread' | 'warmPool' | 'coldPool';
const modes: Mode[] = ['engineThread', 'warmPool', 'coldPool'];
let runNo = 0;

async function measure(store: CellStore, mode: Mode) {
  const reference = store.getEmbeddings(store.listModels().find((m) => m.kind === 'morphology')!.id);
  const id = store.addModel({ name: `morph-run-${++runNo}`, kind: 'morphology', dims: MORPHOLOGY_DIMS });
  const model = store.getModel(id)!;
  let keeper: IngestPoolKeeper | undefined;
  if (mode === 'warmPool') {
    // A long-lived host's pool, started and warmed when the project opened (not timed).
    keeper = new IngestPoolKeeper({ keepWarm: true });
    keeper.warm();
    await keeper.whenReady();
  } else if (mode === 'coldPool') {
    // A one-shot CLI run: the job starts its own workers (timed).
    keeper = new IngestPoolKeeper({ keepWarm: false });
  }
  const cpu0 = process.cpuUsage();
  const summary = await runEmbed(
    store,
    model,
    { provider: 'cpu', ...(keeper ? { pool: () => keeper.acquire(), poolMinCells: 1 } : {}) },
    { signal: never, progress: () => {} },
  );
  const cpu = process.cpuUsage(cpu0);
  await keeper?.close();
  const got = store.getEmbeddings(id);
  const identical =
    got.cellIds.length === reference.cellIds.length &&
    Buffer.from(got.vectors.buffer).equals(Buffer.from(reference.vectors.buffer));
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    cells: summary.cells,
    seconds: Number(summary.seconds.toFixed(3)),
    cellsPerSecond: Math.round(summary.cellsPerSecond),
    cpuSeconds: Number(cpuSeconds.toFixed(2)),
    cellsPerCpuSecond: Math.round(summary.cells / cpuSeconds),
    identicalToIngest: identical,
  };
}

const runs: Record<string, Record<Mode, Array<Awaited<ReturnType<typeof measure>>>>> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, store] of Object.entries(projects)) {
    runs[name] ??= { engineThread: [], warmPool: [], coldPool: [] };
    for (const mode of modes) runs[name][mode].push(await measure(store, mode));
  }
}

const result: Record<string, unknown> = {
  bench: 'embed-morphology',
  note:
    'runEmbed re-embedding every cell of a project with the morphology model; wall cells/s over the whole job ' +
    '(image decode, crop, mask rasterization, features, SQLite commit), CPU seconds of the whole process ' +
    '(engine thread and workers); median of the rounds, every round listed',
  rounds: ROUNDS,
};
for (const [name, byMode] of Object.entries(runs)) {
  const out: Record<string, unknown> = {};
  for (const mode of modes) {
    const all = byMode[mode];
    out[mode] = {
      ...medianRun(all, (r) => r.cellsPerSecond),
      runs: all.map((x) => x.cellsPerSecond),
      identicalToIngest: all.every((x) => x.identicalToIngest),
    };
  }
  result[name] = { images: projects[name as keyof typeof projects].listSlides().length, ...out };
}
for (const store of Object.values(projects)) store.close();
fs.rmSync(tmp, { recursive: true, force: true });
writeResult('embed-morphology', { ...result, ...machine() });
