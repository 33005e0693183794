import path from 'node:path';
import type { ApiArgs, ApiMethod, ApiResults } from '../shared/api';
import type { Engine } from '../main/engine/engine';
import { parseCommand, parseIds, UsageError } from './args';
import { emit } from './output';

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
  name: 'class list',
  usage: 'class list --project P [--json]',
  summary: 'List label classes with colours and hotkeys',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, { project: { type: 'string' } });
    await ctx.openProject(values.project);
    const classes = await ctx.call('classes.list', {});
    emit(!!values.json, classes, () =>
      classes.map((c) => `${String(c.id).padStart(3)}  ${c.hotkey ?? ' '}  ${c.color}  ${c.name}`).join('\n'),
    );
  },
});

command({
  name: 'class add',
  usage: 'class add --project P NAME [--color #RRGGBB] [--key K] [--json]',
  summary: 'Add a label class (no error if it exists)',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      project: { type: 'string' },
      color: { type: 'string' },
      key: { type: 'string' },
    });
    if (positionals.length !== 1)
      throw new UsageError('class add takes exactly one class NAME (quote names with spaces)');
    await ctx.openProject(values.project);
    const r = await ctx.call('classes.add', {
      name: positionals[0],
      color: values.color,
      hotkey: values.key,
    });
    emit(!!values.json, r, () => `${r.created ? 'Added' : 'Exists:'} class ${r.cls.name} (id ${r.cls.id})`);
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
