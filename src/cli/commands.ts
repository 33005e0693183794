import path from 'node:path';
import type { ApiArgs, ApiMethod, ApiResults } from '../shared/api';
import type { Engine } from '../main/engine/engine';
import { parseCommand, parseIds, parsePositiveInt, UsageError } from './args';
import { emit, progressPrinter } from './output';
import type { IngestSummary } from '../main/engine/services/ingest';
import type { JobInfo } from '../shared/domain';

/** Starts a job through the API, shows its progress on stderr (people only), waits, and fails if it failed. */
export async function runJob(
  ctx: CliContext,
  human: boolean,
  start: () => Promise<{ jobId: number }>,
): Promise<JobInfo> {
  const print = progressPrinter(human);
  const off = ctx.engine.onEvent((e) => {
    if (e.type === 'job') print(e.progress.done, e.progress.total, e.progress.phase, e.progress.etaSeconds);
  });
  const { jobId } = await start();
  const onSigint = () => ctx.engine.jobs.cancel(jobId);
  process.once('SIGINT', onSigint);
  try {
    await ctx.engine.jobs.wait(jobId);
  } finally {
    off();
    process.off('SIGINT', onSigint);
  }
  const job = ctx.engine.project.getJob(jobId)!;
  if (job.state === 'failed') throw new Error(job.error ?? `${job.kind} failed`);
  if (job.state === 'cancelled')
    throw new Error(`${job.kind} cancelled; run the same command again to resume`);
  return job;
}

export interface CliContext {
  engine: Engine;
  call<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResults[M]>;
  openProject(p: string | undefined): Promise<void>;
}

export interface Command {
  name: string;
  usage: string;
  summary: string;
  details?: string;
  run(argv: string[], ctx: CliContext): Promise<number | void>;
}

export const commands: Command[] = [];

export function command(c: Command): void {
  commands.push(c);
}

command({
  name: 'init',
  usage: 'init <project> [--json]',
  summary: 'Create a new, empty project folder',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {});
    if (positionals.length !== 1) throw new UsageError('init takes exactly one project path');
    const info = await ctx.call('project.create', { path: positionals[0] });
    emit(!!values.json, info, () => `Created project ${info.path}`);
  },
});

command({
  name: 'info',
  usage: 'info <project> [--json]',
  summary: 'Counts of images, cells, labels per class, models',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, { project: { type: 'string' } });
    const p = positionals[0] ?? values.project;
    if (!p) throw new UsageError('info takes a project path');
    await ctx.openProject(p);
    const stats = await ctx.call('project.stats', {});
    const info = { project: path.resolve(p), ...stats };
    emit(!!values.json, info, () =>
      [
        `Project ${info.project}`,
        `  images: ${stats.images}`,
        `  cells:  ${stats.cells} (${
          Object.entries(stats.cellsByKind)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ') || 'none'
        })`,
        `  labeled: ${stats.labeled}`,
        ...Object.entries(stats.labelsPerClass).map(([c, n]) => `    ${c}: ${n}`),
        `  models: ${stats.models.map((m) => `${m.name} (${m.dims}d, ${m.embedded} embedded)`).join(', ') || 'none'}`,
      ].join('\n'),
    );
  },
});

command({
  name: 'label',
  usage: 'label --project P --cells 1,2,3 --class NAME [--annotator A] [--json]',
  summary: 'Label cells (one undoable action, recorded in the audit trail)',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      cells: { type: 'string' },
      class: { type: 'string' },
      annotator: { type: 'string' },
    });
    if (!values.cells) throw new UsageError('missing required option --cells');
    if (!values.class) throw new UsageError('missing required option --class');
    const cellIds = parseIds(values.cells, '--cells');
    await ctx.openProject(values.project);
    if (values.annotator) ctx.engine.settings.update({ annotator: values.annotator });
    const cls = ctx.engine.project.findClass(values.class);
    if (!cls) throw new UsageError(`no class named "${values.class}"; add it with "reddino class add"`);
    const r = await ctx.call('labels.apply', { cellIds, classId: cls.id, source: 'manual' });
    emit(
      !!values.json,
      { ...r, class: cls.name, cells: cellIds.length },
      () => `Labeled ${r.changed} cell(s) as ${cls.name}`,
    );
  },
});

command({
  name: 'cells',
  usage: 'cells --project P [--json]',
  summary: 'Every cell with id, image path, bbox, centroid, kind, current label',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, { project: { type: 'string' } });
    await ctx.openProject(values.project);
    const store = ctx.engine.project;
    const slides = new Map(store.listSlides().map((s) => [s.id, s]));
    const classes = new Map(store.listClasses().map((c) => [c.id, c.name]));
    const cells = store.queryCells({ sort: 'id' }).map((c) => ({
      id: c.id,
      image: slides.get(c.imageId)?.path ?? null,
      bbox: c.bbox,
      centroid: c.centroid,
      kind: c.kind,
      label: c.classId != null ? (classes.get(c.classId) ?? null) : null,
    }));
    emit(!!values.json, cells, () =>
      cells
        .map(
          (c) =>
            `${c.id}\t${c.kind}\t${c.label ?? '-'}\t${c.bbox.map((v) => Math.round(v)).join(',')}\t${c.image}`,
        )
        .join('\n'),
    );
  },
});

command({
  name: 'web',
  usage: 'web [--port N] [--project P]',
  summary: 'Serve the app and its API on 127.0.0.1 for a browser (and e2e tests)',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, { port: { type: 'string' }, project: { type: 'string' } });
    const port = values.port ? Number(values.port) : 5183;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port must be 0-65535, got ${values.port}`);
    const { startWebHost } = await import('../web/server');
    if (values.project) await ctx.openProject(values.project);
    const host = await startWebHost(ctx.engine, { port });
    process.stdout.write(`RedDino Studio web host: ${host.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await host.close();
  },
});

command({
  name: 'ingest',
  usage:
    'ingest <paths...> --project P [--as fields|crops] [--source S] [--subject ID] [--cells-from segmentation|annotations] [--max-pixels N] [--json]',
  summary:
    'Import smear fields (segmented into cells) or single-cell crops; bad files are reported and skipped',
  details:
    'Folders are read recursively. Re-importing a file adds nothing (sha256). With --as crops each file is one cell, and a\n' +
    'class-per-folder layout imports the folder names as labels. Annotation files beside fields (<stem>.txt Chula points or\n' +
    'YOLO, <stem>.xml Pascal VOC) label the segmented cells, or with --cells-from annotations become the cells.\n' +
    'Exit status 1 when any file could not be imported (the rest are imported; the summary lists each failure).',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      project: { type: 'string' },
      as: { type: 'string' },
      source: { type: 'string' },
      subject: { type: 'string' },
      'cells-from': { type: 'string' },
      'max-pixels': { type: 'string' },
    });
    if (positionals.length === 0) throw new UsageError('ingest needs at least one file or folder');
    const as = (values.as ?? 'fields') as 'fields' | 'crops';
    if (as !== 'fields' && as !== 'crops') throw new UsageError('--as takes fields or crops');
    const cellsFrom = (values['cells-from'] ?? 'segmentation') as 'segmentation' | 'annotations';
    if (cellsFrom !== 'segmentation' && cellsFrom !== 'annotations')
      throw new UsageError('--cells-from takes segmentation or annotations');
    const maxPixels =
      values['max-pixels'] !== undefined
        ? parsePositiveInt(values['max-pixels'], '--max-pixels', 0)
        : undefined;
    await ctx.openProject(values.project);
    const absolute = positionals.map((p) => path.resolve(p));
    const summary = await runJob(ctx, !values.json, () =>
      ctx.call('ingest.start', {
        paths: absolute,
        as,
        cellsFrom,
        source: values.source,
        subject: values.subject,
        maxPixels,
      }),
    );
    const result = summary.result as IngestSummary;
    emit(!!values.json, { project: ctx.engine.project.dir, ...result }, () =>
      [
        `Imported ${result.imported} of ${result.files} file(s): ${result.cells} cells (${result.labeled} labeled), ${result.duplicates} already present.`,
        `${result.seconds.toFixed(1)} s, ${Math.round(result.cellsPerSecond)} cells/s`,
        ...result.failed.map((f) => `  skipped ${f.path}: ${f.message}`),
      ].join('\n'),
    );
    if (result.failed.length > 0) {
      process.stderr.write(
        `reddino ingest: ${result.failed.length} file(s) could not be imported (listed in the summary)\n`,
      );
      return 1;
    }
  },
});
