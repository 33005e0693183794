// The ViT embed job (runEmbed, as `reddino embed --model ID` runs it) with the ViT-S/14 of .cache/vit-s (random
// weights in timm format, see vit-cpu.ts) on the CPU, 2 threads: a project of single-cell crops (the fixture's
// 200 NIH crops: one cell per image) and one of smear fields (FIELDS Chula fixture fields). Cells per second over
// the whole job: decode, crop, resize, normalize, inference, SQLite. ROUNDS runs each, median reported.
//   node bin/run-ts.mjs bench/embed-vit.ts [fields=2] [rounds=2]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runEmbed } from '../src/main/engine/services/embed';
import { importVitModel } from '../src/main/engine/embed/vit/build';
import { machine, medianRun, writeResult } from './common';
import { copyFirstFields, importedProject } from './imported-project';

const FIELDS = Number(process.argv[2] ?? 2);
const ROUNDS = Number(process.argv[3] ?? 2);
const DATA = path.resolve('../shared/data/fixture');
const CHECKPOINT = path.resolve('.cache/vit-s');
if (!fs.existsSync(path.join(CHECKPOINT, 'model.safetensors'))) {
  throw new Error(
    'no .cache/vit-s: run `node bin/run-ts.mjs bench/vit-cpu.ts` first (it generates the weights)',
  );
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-embed-vit-'));
const never = new AbortController().signal;
const record = await importVitModel(CHECKPOINT, { name: 'vit-s', modelsDir: path.join(tmp, 'models') });

const projects = {
  nihCrops: await importedProject(path.join(tmp, 'crops.rdproj'), [path.join(DATA, 'nih_cells')], 'crops'),
  chulaFields: await importedProject(
    path.join(tmp, 'fields.rdproj'),
    [copyFirstFields(path.join(DATA, 'chula_fields'), path.join(tmp, 'fields'), FIELDS)],
    'fields',
  ),
};

const out: Record<string, unknown> = {
  bench: 'embed-vit',
  model: 'vit_small_patch14_dinov2 (random weights), fp32, CPU, batch 8, 2 threads',
  rounds: ROUNDS,
};
for (const [name, store] of Object.entries(projects)) {
  const runs: Array<{ cells: number; seconds: number; cellsPerSecond: number }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const id = store.addModel({
      name: `vit-s-${r}`,
      kind: 'vit-onnx',
      path: record.onnxPath,
      dims: record.dims,
      inputSize: record.inputSize,
      mean: record.mean,
      std: record.std,
      arch: record.arch,
    });
    const s = await runEmbed(
      store,
      store.getModel(id)!,
      { provider: 'cpu' },
      { signal: never, progress: () => {} },
    );
    runs.push({
      cells: s.cells,
      seconds: Number(s.seconds.toFixed(2)),
      cellsPerSecond: Number(s.cellsPerSecond.toFixed(2)),
    });
  }

  out[name] = {
    images: store.listSlides().length,
    ...medianRun(runs, (r) => r.cellsPerSecond),
    runs: runs.map((r) => r.cellsPerSecond),
  };
  store.close();
}
fs.rmSync(tmp, { recursive: true, force: true });
writeResult('embed-vit', { ...out, ...machine() });
