import path from 'node:path';
import fs from 'node:fs';
import { command, runJob } from './commands';
import { parseCommand, parseIds, parsePositiveInt, UsageError } from './args';
import { emit } from './output';
import { suggestStrategies } from '../shared/api';
import type { EmbedSummary } from '../main/engine/services/embed';
import { csvRow } from '../main/engine/formats/csv';

command({
  name: 'detect',
  usage: 'detect <image...> [--json]',
  summary: 'Find the cells in images without a project: bbox, centroid, area, kind per cell',
  async run(argv) {
    const { values, positionals } = parseCommand(argv, {});
    if (positionals.length === 0) throw new UsageError('detect needs at least one image');
    const { detectImages } = await import('../main/engine/ingest/detect');
    const results = await detectImages(positionals.map((p) => path.resolve(p)));
    emit(!!values.json, results, () =>
      results
        .map((r) =>
          r.error
            ? `${r.image}: ${r.error.message}`
            : `${r.image}: ${r.cells.length} cells (${r.width}x${r.height})`,
        )
        .join('\n'),
    );
    return results.some((r) => r.error) ? 1 : 0;
  },
});

command({
  name: 'model list',
  usage: 'model list --project P [--json]',
  summary: 'Embedding models of the project and how many cells each has embedded',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, { project: { type: 'string' } });
    await ctx.openProject(values.project);
    const models = await ctx.call('models.list', {});
    emit(!!values.json, models, () =>
      models.map((m) => `${m.id}\t${m.name}\t${m.kind}\t${m.dims}d\t${m.embeddedCells} cells`).join('\n'),
    );
  },
});

command({
  name: 'model add',
  usage: 'model add <path> --project P [--name N] [--arch vit_small_patch14_dinov2] [--json]',
  summary:
    'Add RedDino / a DINOv2 ViT: timm folder (config.json + model.safetensors), .safetensors with --arch, or .onnx',
  details:
    'Safetensors weights are turned into an ONNX graph by the app itself and self-tested. Pickle checkpoints\n(.pth, .bin, .pt) are refused: loading them runs arbitrary code.',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      project: { type: 'string' },
      name: { type: 'string' },
      arch: { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('model add takes exactly one path');
    await ctx.openProject(values.project);
    const m = await ctx.call('models.add', {
      path: path.resolve(positionals[0]),
      name: values.name,
      arch: values.arch,
    });
    emit(
      !!values.json,
      m,
      () => `Added model ${m.name} (id ${m.id}, ${m.dims} dims). Run "reddino embed --model ${m.id}" next.`,
    );
  },
});

command({
  name: 'embed',
  usage: 'embed --project P [--model ID] [--json]',
  summary: 'Embed every cell that has no vector for the model yet (resumable)',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      model: { type: 'string' },
      provider: { type: 'string' },
    });
    await ctx.openProject(values.project);
    const modelId = values.model !== undefined ? resolveModel(ctx, values.model) : undefined;
    if (values.provider) ctx.engine.settings.update({ provider: values.provider as 'auto' });
    const job = await runJob(ctx, !values.json, () => ctx.call('embed.start', { modelId }));
    const r = job.result as EmbedSummary;
    const out = {
      model: r.model,
      dims: r.dims,
      cells: r.cells,
      provider: r.provider,
      seconds: r.seconds,
      cellsPerSecond: r.cellsPerSecond,
    };
    emit(
      !!values.json,
      out,
      () =>
        `Embedded ${r.cells} cells with ${r.model} (${r.dims}d) on ${r.provider}: ${r.seconds.toFixed(1)} s, ${Math.round(r.cellsPerSecond)} cells/s`,
    );
  },
});

function resolveModel(ctx: Parameters<Parameters<typeof command>[0]['run']>[1], value: string): number {
  const m = ctx.engine.project.getModel(/^\d+$/.test(value) ? Number(value) : value);
  if (!m) throw new UsageError(`no model "${value}"; see "reddino model list"`);
  return m.id;
}

command({
  name: 'embed-images',
  usage: 'embed-images <files or folders...> --model PATH.onnx --out vectors.npy [--json]',
  summary: 'Embed plain image files (sorted path order) with a ViT ONNX model into an N x D float32 .npy',
  async run(argv) {
    const { values, positionals } = parseCommand(argv, {
      model: { type: 'string' },
      out: { type: 'string' },
      provider: { type: 'string' },
    });
    if (positionals.length === 0) throw new UsageError('embed-images needs files or folders');
    if (!values.model) throw new UsageError('missing required option --model');
    if (!values.out) throw new UsageError('missing required option --out');
    if (!fs.existsSync(values.model)) throw new Error(`no model file at ${values.model}`);
    const { embedImageFiles } = await import('../main/engine/embed/vit/embed-images');
    const r = await embedImageFiles(
      positionals.map((p) => path.resolve(p)),
      path.resolve(values.model),
      path.resolve(values.out),
      {
        provider: (values.provider as 'auto' | undefined) ?? 'auto',
      },
    );
    const out = {
      out: path.resolve(values.out),
      count: r.count,
      dims: r.dims,
      provider: r.provider,
      seconds: r.seconds,
      files: r.files,
    };
    emit(
      !!values.json,
      out,
      () => `Wrote ${r.count} x ${r.dims} vectors to ${out.out} (${r.provider}, ${r.seconds.toFixed(1)} s)`,
    );
  },
});

command({
  name: 'suggest',
  usage: `suggest --project P [--strategy ${suggestStrategies.join('|')}] [--class NAME] [--seed-cells IDS] [--n 20] [--json]`,
  summary: 'The next most useful cells to label, each with the reason',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      strategy: { type: 'string' },
      class: { type: 'string' },
      'seed-cells': { type: 'string' },
      n: { type: 'string' },
      model: { type: 'string' },
    });
    const strategy = (values.strategy ?? 'mix') as (typeof suggestStrategies)[number];
    if (!suggestStrategies.includes(strategy))
      throw new UsageError(`--strategy takes ${suggestStrategies.join(', ')}`);
    await ctx.openProject(values.project);
    const cls = values.class ? ctx.engine.project.findClass(values.class) : null;
    if (values.class && !cls) throw new UsageError(`no class named "${values.class}"`);
    const seeds = values['seed-cells'] ? parseIds(values['seed-cells'], '--seed-cells') : undefined;
    const n = parsePositiveInt(values.n, '--n', 20);
    const modelId = values.model ? resolveModel(ctx, values.model) : undefined;
    const list = await ctx.call('suggest', { strategy, classId: cls?.id, seedCellIds: seeds, n, modelId });
    const names = new Map(ctx.engine.project.listClasses().map((c) => [c.id, c.name]));
    const cells = list.map((s) => ({
      id: s.cellId,
      reason: s.reason,
      predicted: s.predictedClassId != null ? (names.get(s.predictedClassId) ?? null) : null,
      confidence: s.confidence,
    }));
    emit(!!values.json, { strategy, cells }, () =>
      cells.map((c) => `${c.id}\t${c.predicted ?? '-'}\t${c.reason}`).join('\n'),
    );
  },
});

command({
  name: 'predict',
  usage: 'predict --project P [--out FILE.csv] [--model ID] [--json]',
  summary: 'Train the linear probe on current labels and predict every cell; counts per class, optional CSV',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string' },
    });
    await ctx.openProject(values.project);
    const modelId = values.model ? resolveModel(ctx, values.model) : undefined;
    const { runId } = await ctx.call('predict.refresh', { modelId });
    if (runId == null) throw new Error('predictions need labeled cells in at least two classes');
    const store = ctx.engine.project;
    const run = store.latestPredictionRun(modelId)!;
    const names = new Map(store.listClasses().map((c) => [c.id, c.name]));
    const counts: Record<string, number> = {};
    for (const c of run.predicted) {
      const name = names.get(c) ?? 'none';
      counts[name] = (counts[name] ?? 0) + 1;
    }
    if (values.out) {
      const lines = [csvRow(['cell_id', 'predicted', 'confidence', 'margin'])];
      for (let i = 0; i < run.cellIds.length; i++) {
        lines.push(
          csvRow([
            run.cellIds[i],
            names.get(run.predicted[i]) ?? '',
            run.probability[i].toFixed(6),
            run.margin[i].toFixed(6),
          ]),
        );
      }
      const tmp = `${values.out}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, lines.join(''));
      fs.renameSync(tmp, values.out);
    }
    const out = {
      runId,
      cells: run.cellIds.length,
      labeled: run.labeledCount,
      counts,
      ...(values.out ? { out: path.resolve(values.out) } : {}),
    };
    emit(!!values.json, out, () =>
      Object.entries(counts)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n'),
    );
  },
});

command({
  name: 'eval',
  usage:
    'eval --project P --protocol knn|linear [--k 20] [--split slide|source] [--test-groups A,B] [--json]',
  summary: 'Evaluate labels as in the RedDino paper: weighted F1, balanced accuracy, per class, confusion',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      protocol: { type: 'string' },
      k: { type: 'string' },
      split: { type: 'string' },
      'test-groups': { type: 'string' },
      model: { type: 'string' },
    });
    const protocol = values.protocol ?? 'linear';
    if (protocol !== 'knn' && protocol !== 'linear') throw new UsageError('--protocol takes knn or linear');
    const split = values.split ?? 'slide';
    if (split !== 'slide' && split !== 'source') throw new UsageError('--split takes slide or source');
    const k = parsePositiveInt(values.k, '--k', 20);
    await ctx.openProject(values.project);
    const { evaluateProject } = await import('../main/engine/services/evaluate');
    const r = await evaluateProject(ctx.engine, {
      protocol,
      k,
      split,
      testGroups: values['test-groups']?.split(',').map((s) => s.trim()),
      modelId: values.model ? resolveModel(ctx, values.model) : undefined,
    });
    emit(!!values.json, r, () =>
      [
        `${protocol} on ${r.model}: weighted F1 ${r.weightedF1.toFixed(3)}, balanced accuracy ${r.balancedAccuracy.toFixed(3)}, accuracy ${r.accuracy.toFixed(3)}`,
        `train ${r.train.cells} cells (${r.train.groups.join(', ')}), test ${r.test.cells} cells (${r.test.groups.join(', ')})`,
        ...r.perClass.map(
          (c) =>
            `  ${c.class}: P ${c.precision.toFixed(2)} R ${c.recall.toFixed(2)} F1 ${c.f1.toFixed(2)} (n=${c.support})`,
        ),
      ].join('\n'),
    );
  },
});
