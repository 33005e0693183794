import type { ClassDef } from '../shared/domain';
import { parseCommand, UsageError } from './args';
import { command, type CliContext } from './commands';
import { emit } from './output';

/** Checked here so a malformed flag is a usage error (exit 2), not a failure from the contract (exit 1). */
function colorOption(value: string | undefined): string | undefined {
  if (value !== undefined && !/^#[0-9a-fA-F]{6}$/.test(value))
    throw new UsageError(`--color takes #RRGGBB, got "${value}"`);
  return value;
}

function keyOption(value: string | undefined): string | undefined {
  if (value !== undefined && [...value].length !== 1)
    throw new UsageError(`--key takes a single key, got "${value}"`);
  return value;
}

/** A class by name (case-insensitive, hidden ones too), else by numeric id; a missing one is a failure. */
function resolveClass(ctx: CliContext, value: string): ClassDef {
  const store = ctx.engine.project;
  const c = store.findClass(value) ?? (/^\d+$/.test(value) ? store.findClass(Number(value)) : null);
  if (!c) throw new Error(`no class named "${value}" (see "reddino class list --all")`);
  return c;
}

function classLine(c: ClassDef): string {
  return `${String(c.id).padStart(3)}  ${c.hotkey ?? ' '}  ${c.color}  ${c.name}${c.hidden ? '  (hidden)' : ''}`;
}

command({
  name: 'class list',
  usage: 'class list --project P [--all] [--json]',
  summary: 'List label classes with colours and hotkeys (--all: hidden ones too)',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, { project: { type: 'string' }, all: { type: 'boolean' } });
    await ctx.openProject(values.project);
    const classes = await ctx.call('classes.list', { includeHidden: !!values.all });
    emit(!!values.json, classes, () => classes.map(classLine).join('\n'));
  },
});

command({
  name: 'class add',
  usage: 'class add --project P NAME [--color #RRGGBB] [--key K] [--json]',
  summary: 'Add a label class (no error if it exists; a hidden one is shown again)',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      project: { type: 'string' },
      color: { type: 'string' },
      key: { type: 'string' },
    });
    if (positionals.length !== 1)
      throw new UsageError('class add takes exactly one class NAME (quote names with spaces)');
    const color = colorOption(values.color);
    const hotkey = keyOption(values.key);
    await ctx.openProject(values.project);
    const r = await ctx.call('classes.add', { name: positionals[0], color, hotkey });
    emit(!!values.json, r, () => `${r.created ? 'Added' : 'Exists:'} class ${r.cls.name} (id ${r.cls.id})`);
  },
});

command({
  name: 'class rename',
  usage: 'class rename --project P OLD NEW [--json]',
  summary: 'Rename a class in place (its cells and history follow)',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, { project: { type: 'string' } });
    if (positionals.length !== 2)
      throw new UsageError('class rename takes OLD and NEW names (quote names with spaces)');
    await ctx.openProject(values.project);
    const c = resolveClass(ctx, positionals[0]);
    const r = await ctx.call('classes.update', { id: c.id, name: positionals[1] });
    emit(!!values.json, { ...r, previousName: c.name }, () => `Renamed ${c.name} to ${r.name} (id ${r.id})`);
  },
});

command({
  name: 'class set',
  usage: 'class set --project P NAME [--color #RRGGBB] [--key K | --no-key] [--show] [--json]',
  summary: 'Recolour or re-key a class; --show brings a hidden class back',
  details:
    'Keys already used by another class and the reserved keys (accept/reject/undo) are refused.\n' +
    'A class shown again gets its old key back unless another class took it meanwhile.',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      project: { type: 'string' },
      color: { type: 'string' },
      key: { type: 'string' },
      'no-key': { type: 'boolean' },
      show: { type: 'boolean' },
    });
    if (positionals.length !== 1)
      throw new UsageError('class set takes exactly one class NAME (quote names with spaces)');
    if (values.key !== undefined && values['no-key'])
      throw new UsageError('give --key or --no-key, not both');
    if (values.color === undefined && values.key === undefined && !values['no-key'] && !values.show)
      throw new UsageError('nothing to change: give --color, --key, --no-key or --show');
    const color = colorOption(values.color);
    const key = keyOption(values.key);
    await ctx.openProject(values.project);
    const c = resolveClass(ctx, positionals[0]);
    const r = await ctx.call('classes.update', {
      id: c.id,
      color,
      hotkey: values['no-key'] ? null : key,
      ...(values.show ? { hidden: false } : {}),
    });
    emit(!!values.json, r, () => classLine(r));
  },
});

command({
  name: 'class merge',
  usage: 'class merge --project P FROM INTO [--annotator A] [--json]',
  summary: "Relabel every cell of FROM as INTO (one undoable step) and retire FROM's name",
  details:
    'The relabelling is one bulk action in the audit trail; "reddino undo" reverts it and brings FROM back.',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      project: { type: 'string' },
      annotator: { type: 'string' },
    });
    if (positionals.length !== 2)
      throw new UsageError('class merge takes FROM and INTO class names (quote names with spaces)');
    await ctx.openProject(values.project);
    if (values.annotator) ctx.engine.settings.update({ annotator: values.annotator });
    const from = resolveClass(ctx, positionals[0]);
    const into = resolveClass(ctx, positionals[1]);
    const r = await ctx.call('classes.merge', { fromId: from.id, intoId: into.id });
    emit(
      !!values.json,
      { from: from.name, into: into.name, batchId: r.batchId || null, relabeled: r.relabeled },
      () => `Merged ${from.name} into ${into.name}: ${r.relabeled} cell(s) relabelled`,
    );
  },
});

command({
  name: 'class remove',
  usage: 'class remove --project P NAME [--json]',
  summary: 'Delete a class nothing used, or hide one the label history names; refused while cells carry it',
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, { project: { type: 'string' } });
    if (positionals.length !== 1)
      throw new UsageError('class remove takes exactly one class NAME (quote names with spaces)');
    await ctx.openProject(values.project);
    const c = resolveClass(ctx, positionals[0]);
    const n = ctx.engine.project.classCellCount(c.id);
    if (n > 0) {
      throw new Error(
        `"${c.name}" still labels ${n} cell${n === 1 ? '' : 's'}: relabel them, or merge the class into another ` +
          `with "reddino class merge"`,
      );
    }
    const r = await ctx.call('classes.remove', { id: c.id });
    emit(!!values.json, { id: c.id, name: c.name, ...r }, () =>
      r.removed === 'deleted'
        ? `Deleted class ${c.name}`
        : `Hid class ${c.name}: the label history names it (show it with "reddino class set --show")`,
    );
  },
});

for (const direction of ['undo', 'redo'] as const) {
  command({
    name: direction,
    usage: `${direction} --project P [--annotator A] [--json]`,
    summary:
      direction === 'undo'
        ? 'Revert the latest label action (a label, a merge, ...), recorded in the audit trail'
        : 'Re-apply the action the latest undo reverted',
    async run(argv, ctx) {
      const { values } = parseCommand(argv, {
        project: { type: 'string' },
        annotator: { type: 'string' },
      });
      await ctx.openProject(values.project);
      if (values.annotator) ctx.engine.settings.update({ annotator: values.annotator });
      const r = await ctx.call(direction === 'undo' ? 'labels.undo' : 'labels.redo', {});
      if (!r) throw new Error(`nothing to ${direction}`);
      emit(
        !!values.json,
        { batchId: r.batchId, cells: r.cellIds.length },
        () => `${direction === 'undo' ? 'Undid' : 'Redid'} an action on ${r.cellIds.length} cell(s)`,
      );
    },
  });
}
