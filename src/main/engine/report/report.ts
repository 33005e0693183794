import fs from 'node:fs';
import path from 'node:path';
import type { ClassDef } from '../../../shared/domain';
import type { ExportCellFilter } from '../store/export-repo';
import { iterateExportCells } from '../store/export-repo';
import type { CellStore } from '../store/store';
import { featureForClass, gradeFor, ICSH_2015, loadGradingScheme, type GradingScheme } from './grading';
import { renderReportHtml } from './html';
import { renderReportPdf } from './pdf-report';
import { parasitemia, type Parasitemia, type ParasitemiaOptions } from './stats';

export interface ReportOptions {
  title?: string;
  /** A scheme object or the path of a scheme JSON; default ICSH 2015. */
  grading?: GradingScheme | string;
  /**
   * 'labels': count labeled cells only. 'labels+predictions': a cell without a label counts as its latest
   * prediction (the report says how many counts came from predictions).
   */
  counting?: 'labels' | 'labels+predictions';
  parasitemia?: ParasitemiaOptions & {
    /** Per-slide RBC counts in cells/uL, by slide id; overrides parasitemia.rbcPerMicroliter for that slide. */
    rbcPerMicroliterBySlide?: Record<number, number>;
  };
  /** Which files to write; default all three. */
  outputs?: Array<'html' | 'pdf' | 'json'>;
  /** Cell selection (set by exportProject from --classes/--slides/--reviewed-only). */
  filter?: ExportCellFilter;
}

export interface ClassCount {
  classId: number;
  name: string;
  color: string;
  isRbc: boolean;
  isInfected: boolean;
  count: number;
  /** Share of counted RBCs in percent (RBC classes only). */
  percentOfRbcs: number | null;
  feature: string | null;
  grade: string | null;
}

export interface CountSummary {
  cells: number;
  counted: number;
  fromPredictions: number;
  rbcsCounted: number;
  classes: ClassCount[];
  parasitemia: Parasitemia;
}

export interface SlideReport extends CountSummary {
  imageId: number;
  name: string;
  path: string;
}

export interface ConfusionMatrix {
  classIds: number[];
  classNames: string[];
  /** matrix[i][j]: cells labeled classIds[i] and predicted classIds[j]. */
  matrix: number[][];
  n: number;
  accuracy: number | null;
  predictionRunId: number;
}

export interface ReportData {
  title: string;
  project: string;
  generatedAt: string;
  grading: { id: string; name: string; citation: string };
  counting: 'labels' | 'labels+predictions';
  /** Parasitaemia options were given: count warnings apply even when no infected cell was found. */
  parasitemiaRequested: boolean;
  totals: CountSummary;
  slides: SlideReport[];
  confusion: ConfusionMatrix | null;
  warnings: string[];
}

function summarize(
  counts: Map<number, number>,
  cells: number,
  fromPredictions: number,
  classes: ClassDef[],
  scheme: GradingScheme,
  pOpts: ParasitemiaOptions,
): CountSummary {
  let rbcs = 0;
  let infected = 0;
  let counted = 0;
  for (const c of classes) {
    const n = counts.get(c.id) ?? 0;
    counted += n;
    if (c.isRbc) rbcs += n;
    if (c.isRbc && c.isInfected) infected += n;
  }
  const out: ClassCount[] = classes.map((c) => {
    const count = counts.get(c.id) ?? 0;
    const percent = c.isRbc && rbcs > 0 ? (100 * count) / rbcs : null;
    const feature = featureForClass(scheme, c.name);
    return {
      classId: c.id,
      name: c.name,
      color: c.color,
      isRbc: c.isRbc,
      isInfected: c.isInfected,
      count,
      percentOfRbcs: percent,
      feature: feature?.feature ?? null,
      grade: feature && percent != null ? gradeFor(feature, percent) : null,
    };
  });
  return {
    cells,
    counted,
    fromPredictions,
    rbcsCounted: rbcs,
    classes: out,
    parasitemia: parasitemia(infected, rbcs, pOpts),
  };
}

/** Counts, grades, parasitaemia per slide and for the project, and the label-vs-prediction confusion matrix. */
export function buildReportData(store: CellStore, opts: ReportOptions = {}): ReportData {
  const scheme =
    typeof opts.grading === 'string' ? loadGradingScheme(opts.grading) : (opts.grading ?? ICSH_2015);
  const counting = opts.counting ?? 'labels';
  const classes = store.listClasses();
  const run = store.latestPredictionRun();
  const predIndex = new Map<number, number>();
  if (run) for (let i = 0; i < run.cellIds.length; i++) predIndex.set(run.cellIds[i], i);
  const known = new Set(classes.map((c) => c.id));
  const slideInfo = new Map(store.listSlides().map((s) => [s.id, s]));

  const perSlide = new Map<number, { counts: Map<number, number>; cells: number; fromPred: number }>();
  const total = { counts: new Map<number, number>(), cells: 0, fromPred: 0 };
  const confusion = new Map<string, number>();
  for (const r of iterateExportCells(store, opts.filter ?? {})) {
    let s = perSlide.get(r.imageId);
    if (!s) {
      s = { counts: new Map(), cells: 0, fromPred: 0 };
      perSlide.set(r.imageId, s);
    }
    s.cells++;
    total.cells++;
    const pi = predIndex.get(r.id);
    const predicted = pi !== undefined && run ? run.predicted[pi] : null;
    let cls = r.classId;
    if (cls == null && counting === 'labels+predictions' && predicted != null) {
      cls = predicted;
      s.fromPred++;
      total.fromPred++;
    }
    if (r.classId != null && predicted != null) {
      const key = `${r.classId}:${predicted}`;
      confusion.set(key, (confusion.get(key) ?? 0) + 1);
    }
    if (cls == null || !known.has(cls)) continue;
    s.counts.set(cls, (s.counts.get(cls) ?? 0) + 1);
    total.counts.set(cls, (total.counts.get(cls) ?? 0) + 1);
  }

  const pOpts = opts.parasitemia ?? {};
  const slides: SlideReport[] = [...perSlide.entries()].map(([imageId, s]) => {
    const info = slideInfo.get(imageId);
    const rbcPerMicroliter = pOpts.rbcPerMicroliterBySlide?.[imageId] ?? pOpts.rbcPerMicroliter;
    return {
      imageId,
      name: info?.name ?? String(imageId),
      path: info?.path ?? '',
      ...summarize(s.counts, s.cells, s.fromPred, classes, scheme, { ...pOpts, rbcPerMicroliter }),
    };
  });
  const projectTotals = summarize(total.counts, total.cells, total.fromPred, classes, scheme, pOpts);

  let matrix: ConfusionMatrix | null = null;
  if (run && confusion.size > 0) {
    const used = new Set<number>();
    for (const k of confusion.keys()) k.split(':').forEach((v) => used.add(Number(v)));
    const ids = classes.map((c) => c.id).filter((id) => used.has(id));
    const m = ids.map((a) => ids.map((b) => confusion.get(`${a}:${b}`) ?? 0));
    const n = m.reduce((s, row) => s + row.reduce((t, v) => t + v, 0), 0);
    const diag = ids.reduce((s, _, i) => s + m[i][i], 0);
    matrix = {
      classIds: ids,
      classNames: ids.map((id) => classes.find((c) => c.id === id)!.name),
      matrix: m,
      n,
      accuracy: n > 0 ? diag / n : null,
      predictionRunId: run.id,
    };
  }
  // A count below the guideline minimum matters for a malaria read even when it found nothing (a negative from
  // too few cells is not a negative); in a project without malaria classes in use it would only be noise.
  const parasitemiaRequested = opts.parasitemia !== undefined;
  const warnings: string[] = [];
  const warnable = (p: Parasitemia) => p.warning && (p.infected > 0 || parasitemiaRequested);
  if (warnable(projectTotals.parasitemia)) warnings.push(`Project: ${projectTotals.parasitemia.warning}`);
  for (const s of slides) if (warnable(s.parasitemia)) warnings.push(`${s.name}: ${s.parasitemia.warning}`);
  if (projectTotals.fromPredictions > 0) {
    warnings.push(`${projectTotals.fromPredictions} of the counted cells are unreviewed model predictions.`);
  }
  return {
    title: opts.title ?? 'RBC morphology report',
    project: store.dir,
    generatedAt: new Date().toISOString(),
    grading: { id: scheme.id, name: scheme.name, citation: scheme.citation },
    counting,
    parasitemiaRequested,
    totals: projectTotals,
    slides,
    confusion: matrix,
    warnings,
  };
}

/** Writes report.json, report.html and report.pdf (as selected) into `dir`. */
export async function writeReport(
  store: CellStore,
  dir: string,
  opts: ReportOptions = {},
  progress: { signal?: AbortSignal; onProgress?: (done: number, total: number, phase: string) => void } = {},
): Promise<{ files: string[]; cells: number; images: number; warnings: string[]; data: ReportData }> {
  const outputs = opts.outputs ?? ['html', 'pdf', 'json'];
  progress.onProgress?.(0, outputs.length + 1, 'report');
  const data = buildReportData(store, opts);
  progress.signal?.throwIfAborted();
  const files: string[] = [];
  let done = 1;
  for (const o of outputs) {
    progress.onProgress?.(done++, outputs.length + 1, 'report');
    progress.signal?.throwIfAborted();
    const file = `report.${o}`;
    if (o === 'json') fs.writeFileSync(path.join(dir, file), JSON.stringify(data, null, 2));
    if (o === 'html') fs.writeFileSync(path.join(dir, file), renderReportHtml(data));
    if (o === 'pdf') fs.writeFileSync(path.join(dir, file), renderReportPdf(data));
    files.push(file);
  }
  progress.onProgress?.(outputs.length + 1, outputs.length + 1, 'report');
  return { files, cells: data.totals.cells, images: data.slides.length, warnings: data.warnings, data };
}
