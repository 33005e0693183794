import path from 'node:path';
import { exportProject } from '../main/engine/export/project';
import { EXPORT_FORMATS, type ExportFormat, type ExportOptions } from '../main/engine/export/options';
import { readerAgreement } from '../main/engine/review/agreement';
import { auditTrail, writeAuditCsv, type AuditFilter } from '../main/engine/review/audit';
import {
  createReviewSession,
  listSessions,
  reviewProgress,
  type ReviewFilter,
} from '../main/engine/review/sessions';
import { signSlide, slideSignoffStatus } from '../main/engine/review/signoff';
import type { LabelSource } from '../shared/domain';
import type { CellStore } from '../main/engine/store/store';
import { parseCommand, parsePositiveInt, requireString, UsageError } from './args';
import { command } from './commands';
import { emit, progressPrinter } from './output';

const LABEL_SOURCES: LabelSource[] = ['manual', 'suggestion', 'bulk', 'propagated', 'imported', 'review'];

/** A comma-separated list plus repeated single flags (for names that contain commas). */
function listOption(csv: string | undefined, repeated: string[] | undefined): string[] | undefined {
  const items = [...(csv ? csv.split(',') : []), ...(repeated ?? [])].map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

function positiveNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag} must be a positive number, got "${value}"`);
  return n;
}

function classIds(store: CellStore, names: string[] | undefined, flag: string): number[] | undefined {
  return names?.map((n) => {
    const c = /^\d+$/.test(n) ? store.findClass(Number(n)) : store.findClass(n);
    if (!c) throw new UsageError(`${flag}: no class named "${n}"`);
    return c.id;
  });
}

function slideIds(store: CellStore, names: string[] | undefined): number[] | undefined {
  if (!names) return undefined;
  const slides = store.listSlides();
  return names.map((n) => {
    const s = /^\d+$/.test(n) ? slides.find((x) => x.id === Number(n)) : slides.find((x) => x.name === n);
    if (!s) throw new UsageError(`--slides: no slide "${n}" (give its id or file name)`);
    return s.id;
  });
}

command({
  name: 'export',
  usage:
    'export --project P --format F --out DIR [--classes a,b] [--slides 1,2] [--reviewed-only] [--size 224]',
  summary: 'Export cells: imagefolder, csv, coco, npy, geojson, report (HTML+PDF), audit',
  details: [
    'Formats:',
    '  imagefolder  one folder per class of PNG crops cut from the field images, plus metadata.csv',
    '  csv          cells.csv: ids, image, bbox, morphometrics, label, annotator, source, prediction',
    '  coco         annotations.json (boxes + polygons); --copy-images puts the fields in images/',
    '  npy          embeddings.npy (float32 N x D) + cells.csv in the same order; --model picks the model',
    '  geojson      one QuPath-importable .geojson per image + images.csv',
    '  report       report.html, report.pdf, report.json: counts, % of RBCs, ICSH grades, parasitaemia',
    '  audit        audit.csv: every label event (who, when, source, model/run)',
    'Options: --class NAME (repeatable, for names with commas), --include-unlabeled, --grading FILE.json,',
    '  --counting labels|labels+predictions, --min-rbcs N, --rbc-per-ul N (patient RBC count, cells/uL).',
    'The output folder is written beside DIR and swapped in when complete.',
  ].join('\n'),
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      classes: { type: 'string' },
      class: { type: 'string', multiple: true },
      slides: { type: 'string' },
      'reviewed-only': { type: 'boolean' },
      'include-unlabeled': { type: 'boolean' },
      size: { type: 'string' },
      'copy-images': { type: 'boolean' },
      model: { type: 'string' },
      grading: { type: 'string' },
      counting: { type: 'string' },
      'min-rbcs': { type: 'string' },
      'rbc-per-ul': { type: 'string' },
      title: { type: 'string' },
    });
    const format = requireString(values.format, '--format');
    if (!EXPORT_FORMATS.includes(format as ExportFormat)) {
      throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}; got "${format}"`);
    }
    const out = path.resolve(requireString(values.out, '--out'));
    if (values.counting && values.counting !== 'labels' && values.counting !== 'labels+predictions') {
      throw new UsageError('--counting must be "labels" or "labels+predictions"');
    }
    await ctx.openProject(values.project);
    const opts: ExportOptions = {
      format: format as ExportFormat,
      out,
      classes: listOption(values.classes, values.class),
      slides: listOption(values.slides, undefined),
      reviewedOnly: !!values['reviewed-only'],
      includeUnlabeled: !!values['include-unlabeled'],
      size: values.size !== undefined ? parsePositiveInt(values.size, '--size', 224) : undefined,
      copyImages: !!values['copy-images'],
      model: values.model,
      report: {
        title: values.title,
        grading: values.grading ? path.resolve(values.grading) : undefined,
        counting: values.counting as 'labels' | 'labels+predictions' | undefined,
        parasitemia:
          values['min-rbcs'] || values['rbc-per-ul']
            ? {
                minRbcs: values['min-rbcs']
                  ? parsePositiveInt(values['min-rbcs'], '--min-rbcs', 500)
                  : undefined,
                rbcPerMicroliter: positiveNumber(values['rbc-per-ul'], '--rbc-per-ul'),
              }
            : undefined,
      },
    };
    const print = progressPrinter(!values.json);
    const started = Date.now();
    const r = await exportProject(ctx.engine.project, opts, {
      onProgress: (done, total, phase) => {
        const elapsed = (Date.now() - started) / 1000;
        print(done, total, phase, total > 0 && done > 0 ? (elapsed / done) * (total - done) : null);
      },
    });
    emit(!!values.json, r, () =>
      [
        `Exported ${r.cells} cell(s) from ${r.images} image(s) as ${r.format} to ${r.out}`,
        ...r.files.slice(0, 12).map((f) => `  ${f}`),
        ...(r.files.length > 12 ? [`  ... ${r.files.length - 12} more`] : []),
        ...r.warnings.map((w) => `warning: ${w}`),
      ].join('\n'),
    );
  },
});

command({
  name: 'audit',
  usage: 'audit --project P [--annotator A,B] [--source manual,review] [--since T] [--until T] [--out FILE]',
  summary: 'Label events (who, when, source, model/run): print them or write audit CSV',
  details:
    'Times are ISO 8601 (2026-01-31 or 2026-01-31T12:00:00Z); --since is inclusive, --until exclusive.',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      annotator: { type: 'string' },
      source: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      cells: { type: 'string' },
      out: { type: 'string' },
      limit: { type: 'string' },
    });
    const sources = listOption(values.source, undefined);
    const bad = sources?.find((s) => !LABEL_SOURCES.includes(s as LabelSource));
    if (bad) throw new UsageError(`--source: "${bad}" is not one of ${LABEL_SOURCES.join(', ')}`);
    for (const [flag, v] of [
      ['--since', values.since],
      ['--until', values.until],
    ] as const) {
      if (v !== undefined && Number.isNaN(Date.parse(v)))
        throw new UsageError(`${flag} must be an ISO date/time, got "${v}"`);
    }
    const toIso = (v: string | undefined) =>
      v === undefined ? undefined : new Date(Date.parse(v)).toISOString();
    const filter: AuditFilter = {
      annotators: listOption(values.annotator, undefined),
      sources: sources as LabelSource[] | undefined,
      since: toIso(values.since),
      until: toIso(values.until),
      cellIds: values.cells
        ? values.cells.split(',').map((s) => parsePositiveInt(s.trim(), '--cells', 1))
        : undefined,
      limit: values.limit ? parsePositiveInt(values.limit, '--limit', 1000) : undefined,
    };
    await ctx.openProject(values.project);
    if (values.out) {
      const file = path.resolve(values.out);
      const n = writeAuditCsv(ctx.engine.project, file, filter);
      emit(!!values.json, { file, events: n }, () => `Wrote ${n} label event(s) to ${file}`);
      return;
    }
    const events = auditTrail(ctx.engine.project, filter);
    emit(
      !!values.json,
      events,
      () =>
        events
          .map(
            (e) =>
              `${e.createdAt}  ${e.annotator.padEnd(12)} ${e.source.padEnd(10)} ${e.action.padEnd(5)} cell ${e.cellId}: ` +
              `${e.previousClassName ?? '-'} -> ${e.className ?? '-'}${e.modelName ? ` (model ${e.modelName}, run ${e.runId})` : ''}`,
          )
          .join('\n') || 'No label events match.',
    );
  },
});

command({
  name: 'review create',
  usage:
    'review create --project P --name N --filter predicted|unlabeled|qc [--classes ..] [--slides ..] [--n N --seed S] [--blind]',
  summary: 'Create a review queue from predictions, unlabeled cells or a seeded random QC sample',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      name: { type: 'string' },
      filter: { type: 'string' },
      classes: { type: 'string' },
      slides: { type: 'string' },
      n: { type: 'string' },
      seed: { type: 'string' },
      'min-confidence': { type: 'string' },
      'unlabeled-only': { type: 'boolean' },
      blind: { type: 'boolean' },
      by: { type: 'string' },
    });
    const name = requireString(values.name, '--name');
    const kind = requireString(values.filter, '--filter');
    await ctx.openProject(values.project);
    const store = ctx.engine.project;
    const imageIds = slideIds(store, listOption(values.slides, undefined));
    const cls = classIds(store, listOption(values.classes, undefined), '--classes');
    let filter: ReviewFilter;
    if (kind === 'predicted') {
      if (!cls) throw new UsageError('--filter predicted needs --classes');
      filter = {
        kind,
        classIds: cls,
        imageIds,
        unlabeledOnly: !!values['unlabeled-only'],
        minConfidence: values['min-confidence'] !== undefined ? Number(values['min-confidence']) : undefined,
      };
    } else if (kind === 'unlabeled') filter = { kind, imageIds };
    else if (kind === 'qc') {
      filter = {
        kind: 'qc-sample',
        n: parsePositiveInt(values.n, '--n', 100),
        seed: values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31,
        imageIds,
        classIds: cls,
      };
      if (!Number.isInteger(filter.seed)) throw new UsageError('--seed must be a whole number');
    } else throw new UsageError('--filter must be predicted, unlabeled or qc');
    const s = createReviewSession(store, {
      name,
      createdBy: values.by ?? ctx.engine.annotator,
      mode: values.blind ? 'blind' : 'single',
      filter,
    });
    emit(
      !!values.json,
      s,
      () => `Created review session ${s.id} "${s.name}" (${s.mode}) with ${s.itemCount} cell(s)`,
    );
  },
});

command({
  name: 'review list',
  usage: 'review list --project P [--json]',
  summary: 'List review sessions with their size and state',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, { project: { type: 'string' } });
    await ctx.openProject(values.project);
    const sessions = listSessions(ctx.engine.project);
    emit(
      !!values.json,
      sessions,
      () =>
        sessions
          .map(
            (s) =>
              `${String(s.id).padStart(4)}  ${s.state.padEnd(6)} ${s.mode.padEnd(6)} ${String(s.itemCount).padStart(6)}  ${s.name}`,
          )
          .join('\n') || 'No review sessions.',
    );
  },
});

command({
  name: 'review status',
  usage: 'review status --project P --session ID [--reader R] [--versus R2]',
  summary: "A reader's progress; with --versus, Cohen's kappa between two readers",
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      session: { type: 'string' },
      reader: { type: 'string' },
      versus: { type: 'string' },
    });
    const sessionId = parsePositiveInt(requireString(values.session, '--session'), '--session', 0);
    await ctx.openProject(values.project);
    const store = ctx.engine.project;
    const reader = values.reader ?? ctx.engine.annotator;
    const progress = reviewProgress(store, sessionId, reader);
    const agreement = values.versus ? readerAgreement(store, sessionId, reader, values.versus) : null;
    emit(!!values.json, { progress, agreement }, () =>
      [
        `${reader}: ${progress.decided}/${progress.total} decided${progress.nextPosition != null ? `, next at position ${progress.nextPosition}` : ', done'}`,
        ...(agreement
          ? [
              `agreement with ${agreement.readerB} on ${agreement.n} cell(s): kappa ${agreement.overall.kappa?.toFixed(3) ?? 'undefined'}, ${agreement.disagreements} disagreement(s)`,
              ...agreement.perClass.map(
                (c) => `  ${c.className}: kappa ${c.kappa?.toFixed(3) ?? 'undefined'}`,
              ),
            ]
          : []),
      ].join('\n'),
    );
  },
});

command({
  name: 'slide sign',
  usage: 'slide sign --project P --slide ID --by NAME [--note TEXT]',
  summary: 'Sign a slide off (refused while cells in needs-review classes are unreviewed)',
  async run(argv, ctx) {
    const { values } = parseCommand(argv, {
      project: { type: 'string' },
      slide: { type: 'string' },
      by: { type: 'string' },
      note: { type: 'string' },
      check: { type: 'boolean' },
    });
    const imageId = parsePositiveInt(requireString(values.slide, '--slide'), '--slide', 0);
    await ctx.openProject(values.project);
    const store = ctx.engine.project;
    if (values.check) {
      const st = slideSignoffStatus(store, imageId);
      emit(!!values.json, st, () =>
        st.canSign
          ? `Slide ${imageId} can be signed (${st.flaggedCellIds.length} flagged cell(s), all reviewed)`
          : `Slide ${imageId}: ${st.unreviewedCellIds.length} flagged cell(s) unreviewed`,
      );
      return;
    }
    const sig = signSlide(store, { imageId, signedBy: requireString(values.by, '--by'), note: values.note });
    emit(!!values.json, sig, () => `Slide ${imageId} signed by ${sig.signedBy} at ${sig.signedAt}`);
  },
});
