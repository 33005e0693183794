import fs from 'node:fs';
import path from 'node:path';
import { decodeImage, type DecodedImage } from '../ingest/decode';
import { csvRow } from '../formats/csv';
import { safeFileName } from '../formats/filenames';
import { buildQuPathGeoJson, GEOJSON_MANIFEST } from '../formats/geojson';
import { IMAGEFOLDER_METADATA_COLUMNS } from '../formats/imagefolder';
import { writeReport } from '../report/report';
import { writeAuditCsv } from '../review/audit';
import { StoreError } from '../store/errors';
import { EXPORT_PAGE, embeddingsPage, iterateExportCells, type ExportCellRow } from '../store/export-repo';
import type { CellStore } from '../store/store';
import { writeDirAtomic } from './atomic';
import { cellCsvLine, cellsCsvHeader } from './cells-csv';
import { cropBox, cropPng } from './crops';
import { CocoStreamWriter, NpyFloat32Writer } from './stream';
import { EXPORT_FORMATS, type ExportOptions, type ExportProgress, type ExportResult } from './options';
import { cellsByImage, countCells, predictionLookup, resolveFilter } from './selection';

export const UNLABELED_CLASS = 'unlabeled';

const CROP_CONCURRENCY = 8;

/**
 * Exports a project (or a filtered part) in one format into `opts.out`. The folder is built beside the target and
 * swapped in only when complete, so a cancelled export (signal) or a crash never leaves a partial dataset.
 */
export async function exportProject(
  store: CellStore,
  opts: ExportOptions,
  progress: ExportProgress = {},
): Promise<ExportResult> {
  if (!EXPORT_FORMATS.includes(opts.format)) {
    throw new StoreError(
      'invalid',
      `Unknown export format "${String(opts.format)}"; use one of ${EXPORT_FORMATS.join(', ')}.`,
    );
  }
  if (opts.size !== undefined && (!Number.isInteger(opts.size) || opts.size < 8 || opts.size > 4096)) {
    throw new StoreError(
      'invalid',
      `--size must be a whole number of pixels between 8 and 4096, got ${opts.size}.`,
    );
  }
  const out = path.resolve(opts.out);
  refuseForeignTarget(out);
  const ctx = { store, opts, progress, warnings: [] as string[], files: [] as string[], cells: 0, images: 0 };
  const writeFormat = async (tmp: string): Promise<void> => {
    switch (opts.format) {
      case 'imagefolder':
        return exportImageFolder(ctx, tmp, out);
      case 'csv':
        return exportCsv(ctx, tmp);
      case 'coco':
        return exportCoco(ctx, tmp, out);
      case 'npy':
        return exportNpy(ctx, tmp);
      case 'geojson':
        return exportGeoJson(ctx, tmp, out);
      case 'report': {
        const r = await writeReport(
          store,
          tmp,
          { ...opts.report, filter: resolveFilter(store, opts) },
          progress,
        );
        ctx.files.push(...r.files);
        ctx.cells = r.cells;
        ctx.images = r.images;
        ctx.warnings.push(...r.warnings);
        return;
      }
      case 'audit': {
        ctx.cells = writeAuditCsv(store, path.join(tmp, 'audit.csv'), opts.audit ?? {}, progress);
        ctx.files.push('audit.csv');
        return;
      }
    }
  };
  await writeDirAtomic(out, async (tmp) => {
    await writeFormat(tmp);
    fs.writeFileSync(
      path.join(tmp, EXPORT_MARKER),
      JSON.stringify(
        { format: opts.format, project: store.dir, exportedAt: new Date().toISOString() },
        null,
        2,
      ),
    );
  });
  return {
    format: opts.format,
    out,
    files: ctx.files,
    cells: ctx.cells,
    images: ctx.images,
    warnings: ctx.warnings,
  };
}

/** Written into every export folder; an existing folder is only ever replaced when it carries this file. */
export const EXPORT_MARKER = '.reddino-export.json';

/**
 * The swap replaces the whole target folder, so a user pointing --out at a folder with other files (their
 * Desktop) must be stopped before anything is moved.
 */
function refuseForeignTarget(out: string): void {
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) {
    throw new StoreError('exists', `${out} is a file; choose a folder name for the export.`);
  }
  const entries = fs.readdirSync(out);
  if (entries.length > 0 && !entries.includes(EXPORT_MARKER)) {
    throw new StoreError(
      'exists',
      `${out} already contains files that are not a RedDino export; choose a new or empty folder (it would be replaced).`,
    );
  }
}

interface Ctx {
  store: CellStore;
  opts: ExportOptions;
  progress: ExportProgress;
  warnings: string[];
  files: string[];
  cells: number;
  images: number;
}

function step(ctx: Ctx, done: number, total: number, phase: string): void {
  ctx.progress.signal?.throwIfAborted();
  ctx.progress.onProgress?.(done, total, phase);
}

/** Paths inside the dataset use '/', whatever the OS, so the files read the same everywhere. */
function relPath(from: string, to: string): string {
  return path.relative(from, to).split(path.sep).join('/');
}

async function decodeOrWarn(ctx: Ctx, row: ExportCellRow): Promise<DecodedImage | null> {
  try {
    return await decodeImage(row.imagePath);
  } catch (err) {
    ctx.warnings.push(`image ${row.imageName} skipped: ${(err as Error).message}`);
    return null;
  }
}

async function exportImageFolder(ctx: Ctx, tmp: string, out: string): Promise<void> {
  const filter = resolveFilter(ctx.store, ctx.opts);
  if (!ctx.opts.includeUnlabeled) filter.labeledOnly = true;
  const total = countCells(ctx.store, filter);
  const meta: string[] = [csvRow(IMAGEFOLDER_METADATA_COLUMNS)];
  const folders = new Map<string, string>();
  const folderFor = (className: string): string => {
    let f = folders.get(className);
    if (!f) {
      // Two class names can sanitise to the same folder ("a/b", "a_b"): suffix keeps them apart.
      const base = safeFileName(className);
      f = base;
      for (let k = 2; [...folders.values()].includes(f); k++) f = `${base}_${k}`;
      folders.set(className, f);
      fs.mkdirSync(path.join(tmp, f), { recursive: true });
    }
    return f;
  };
  let done = 0;
  step(ctx, 0, total, 'crops');
  for (const { rows } of cellsByImage(ctx.store, filter)) {
    const img = await decodeOrWarn(ctx, rows[0]);
    if (img) ctx.images++;
    const stem = safeFileName(path.parse(rows[0].imageName).name);
    // Crops of one field are encoded a few at a time: sharp runs them on its worker threads.
    const pngs = new Map<number, Promise<Buffer>>();
    const boxes = new Map<number, ReturnType<typeof cropBox>>();
    const encode = (i: number) => {
      if (!img || i >= rows.length) return;
      const box = cropBox(rows[i].bbox, img.width, img.height, ctx.opts.size !== undefined);
      boxes.set(i, box);
      const png = cropPng(img, box, ctx.opts.size);
      // Awaited below; this only keeps a crop still in flight when the export is cancelled from being reported
      // as an unhandled rejection.
      png.catch(() => undefined);
      pngs.set(i, png);
    };
    for (let i = 0; i < CROP_CONCURRENCY; i++) encode(i);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (img) {
        const className = r.className ?? UNLABELED_CLASS;
        const folder = folderFor(className);
        const box = boxes.get(i)!;
        const file = `${folder}/${stem}_${r.id}.png`;
        const png = await pngs.get(i)!;
        pngs.delete(i);
        encode(i + CROP_CONCURRENCY);
        fs.writeFileSync(path.join(tmp, file), png);
        meta.push(
          csvRow([
            file,
            className,
            r.id,
            r.imageId,
            relPath(out, r.imagePath),
            r.bbox[0],
            r.bbox[1],
            r.bbox[2],
            r.bbox[3],
            box.left,
            box.top,
            box.width,
            box.height,
            r.annotator,
            r.labelSource,
          ]),
        );
        ctx.cells++;
      }
      if (++done % 64 === 0) step(ctx, done, total, 'crops');
    }
  }
  fs.writeFileSync(path.join(tmp, 'metadata.csv'), meta.join(''));
  ctx.files.push('metadata.csv', ...[...folders.values()].map((f) => `${f}/`));
  step(ctx, total, total, 'crops');
}

async function exportCsv(ctx: Ctx, tmp: string): Promise<void> {
  const filter = resolveFilter(ctx.store, ctx.opts);
  const total = countCells(ctx.store, filter);
  const names = new Map(ctx.store.listClasses().map((c) => [c.id, c.name]));
  const pred = predictionLookup(ctx.store.latestPredictionRun());
  const fd = fs.openSync(path.join(tmp, 'cells.csv'), 'w');
  try {
    fs.writeSync(fd, cellsCsvHeader());
    let buf: string[] = [];
    for (const { rows } of cellsByImage(ctx.store, filter)) {
      ctx.images++;
      for (const r of rows) {
        buf.push(cellCsvLine(r, names, pred));
        ctx.cells++;
      }
      if (buf.length > 4096) {
        fs.writeSync(fd, buf.join(''));
        buf = [];
        step(ctx, ctx.cells, total, 'csv');
        await yieldToLoop();
      }
    }
    fs.writeSync(fd, buf.join(''));
  } finally {
    fs.closeSync(fd);
  }
  ctx.files.push('cells.csv');
  step(ctx, total, total, 'csv');
}

/** Lets progress events and a Cancel through between pages of a long synchronous export. */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** COCO streamed to disk: one pass over the cells in image order, memory bounded by a page of rows. */
async function exportCoco(ctx: Ctx, tmp: string, out: string): Promise<void> {
  const filter = resolveFilter(ctx.store, ctx.opts);
  if (!ctx.opts.includeUnlabeled) filter.labeledOnly = true;
  const total = countCells(ctx.store, filter);
  // Every project class keeps a stable category id (its order in the class list), used or not, so two exports of
  // the same project agree on ids; "unlabeled" comes after them and is listed only when used.
  const classNames = ctx.store.listClasses().map((c) => c.name);
  const unlabeledExtra = !classNames.some((c) => c.toLowerCase() === UNLABELED_CLASS);
  const categories = unlabeledExtra ? [...classNames, UNLABELED_CLASS] : classNames;
  const coco = new CocoStreamWriter(
    path.join(tmp, 'annotations.json'),
    path.join(tmp, '.images.part'),
    categories,
  );
  const copiedNames = new Set<string>();
  let done = 0;
  let imageId = 0;
  let lastImage = -1;
  try {
    for (const r of iterateExportCells(ctx.store, filter)) {
      if (r.imageId !== lastImage) {
        lastImage = r.imageId;
        let fileName = relPath(out, r.imagePath);
        if (ctx.opts.copyImages) {
          const base = safeFileName(r.imageName);
          let name = base;
          for (let k = 2; copiedNames.has(name.toLowerCase()); k++)
            name = `${path.parse(base).name}_${k}${path.extname(base)}`;
          copiedNames.add(name.toLowerCase());
          fs.mkdirSync(path.join(tmp, 'images'), { recursive: true });
          try {
            fs.copyFileSync(r.imagePath, path.join(tmp, 'images', name));
            fileName = `images/${name}`;
          } catch (err) {
            ctx.warnings.push(`image ${r.imageName} not copied: ${(err as Error).message}`);
          }
        }
        imageId = coco.addImage(fileName, r.imageWidth, r.imageHeight);
      }
      coco.addCell(imageId, {
        bbox: r.bbox,
        contour: r.contour ? Array.from(r.contour) : undefined,
        className: r.className ?? UNLABELED_CLASS,
        attributes: { cell_id: r.id, kind: r.kind, annotator: r.annotator, label_source: r.labelSource },
      });
      ctx.cells++;
      if (++done % EXPORT_PAGE === 0) {
        step(ctx, done, total, 'coco');
        await yieldToLoop();
      }
    }
    const listed = unlabeledExtra && !coco.used.has(UNLABELED_CLASS) ? classNames : categories;
    coco.finish(listed.map((name, i) => ({ id: i + 1, name, supercategory: 'cell' })));
  } catch (err) {
    coco.abort();
    throw err;
  }
  ctx.images = coco.imageCount;
  step(ctx, total, total, 'coco');
  ctx.files.push('annotations.json');
  if (ctx.opts.copyImages) ctx.files.push('images/');
}

function pickModel(store: CellStore, wanted: string | undefined) {
  const models = store.listModels();
  if (wanted) {
    const m = store.getModel(/^\d+$/.test(wanted) ? Number(wanted) : wanted);
    if (!m) throw new StoreError('not-found', `No model "${wanted}" in this project.`);
    return m;
  }
  const best = models.filter((m) => m.embeddedCells > 0).sort((a, b) => b.embeddedCells - a.embeddedCells)[0];
  if (!best) throw new StoreError('invalid', 'No embeddings in this project yet: run "reddino embed" first.');
  return best;
}

/**
 * Embeddings streamed to disk: cells are read in keyset pages, each page's vectors fetched by cell id and appended
 * to the .npy and its rows to cells.csv in the same order, so memory holds one page, not the N x D matrix.
 */
async function exportNpy(ctx: Ctx, tmp: string): Promise<void> {
  const model = pickModel(ctx.store, ctx.opts.model);
  const dims = model.dims;
  const filter = resolveFilter(ctx.store, ctx.opts);
  const total = countCells(ctx.store, filter);
  const names = new Map(ctx.store.listClasses().map((c) => [c.id, c.name]));
  const pred = predictionLookup(ctx.store.latestPredictionRun());
  const npy = new NpyFloat32Writer(path.join(tmp, 'embeddings.npy'), dims);
  const csv = fs.openSync(path.join(tmp, 'cells.csv'), 'w');
  const vectors = new Float32Array(EXPORT_PAGE * dims);
  let page: ExportCellRow[] = [];
  let seen = 0;
  let lastImage = -1;
  const flush = () => {
    const has = embeddingsPage(
      ctx.store,
      model.id,
      page.map((r) => r.id),
      dims,
      vectors,
    );
    const lines: string[] = [];
    let k = 0;
    page.forEach((r, i) => {
      if (!has[i]) return;
      if (k !== i) vectors.copyWithin(k * dims, i * dims, (i + 1) * dims);
      lines.push(cellCsvLine(r, names, pred));
      k++;
    });
    npy.append(vectors.subarray(0, k * dims));
    fs.writeSync(csv, lines.join(''));
    ctx.cells += k;
    page = [];
  };
  try {
    fs.writeSync(csv, cellsCsvHeader());
    for (const r of iterateExportCells(ctx.store, filter)) {
      if (r.imageId !== lastImage) {
        lastImage = r.imageId;
        ctx.images++;
      }
      page.push({ ...r, contour: null });
      seen++;
      if (page.length === EXPORT_PAGE) {
        flush();
        step(ctx, seen, total, 'npy');
        await yieldToLoop();
      }
    }
    flush();
    npy.finish();
  } catch (err) {
    npy.abort();
    throw err;
  } finally {
    fs.closeSync(csv);
  }
  if (ctx.cells < seen) {
    ctx.warnings.push(`${seen - ctx.cells} cell(s) have no ${model.name} embedding and were left out`);
  }
  fs.writeFileSync(
    path.join(tmp, 'model.json'),
    JSON.stringify({ id: model.id, name: model.name, kind: model.kind, dims, arch: model.arch }, null, 2),
  );
  step(ctx, total, total, 'npy');
  ctx.files.push('embeddings.npy', 'cells.csv', 'model.json');
}

/** A cell's morphometrics as QuPath measurements (an object of numbers; pixel units, as QuPath names them). */
function qupathMeasurements(r: ExportCellRow): Record<string, number> | undefined {
  const m: Record<string, number> = {};
  const put = (name: string, v: number | null) => {
    if (v !== null && Number.isFinite(v)) m[name] = Math.round(v * 1e4) / 1e4;
  };
  put('Area px^2', r.area);
  put('Perimeter px', r.perimeter);
  put('Circularity', r.circularity);
  put('Convexity', r.convexity);
  put('Eccentricity', r.eccentricity);
  return Object.keys(m).length ? m : undefined;
}

/** Who and what a cell is, as QuPath 0.5+ object metadata (string values; QuPath drops null ones). */
function qupathMetadata(r: ExportCellRow): Record<string, string> {
  const m: Record<string, string> = { reddinoCellId: String(r.id), kind: r.kind };
  if (r.annotator !== null) m.annotator = r.annotator;
  if (r.labelSource !== null) m.labelSource = r.labelSource;
  return m;
}

async function exportGeoJson(ctx: Ctx, tmp: string, out: string): Promise<void> {
  const filter = resolveFilter(ctx.store, ctx.opts);
  const total = countCells(ctx.store, filter);
  const colors = new Map(ctx.store.listClasses().map((c) => [c.id, c.color]));
  const manifest: string[] = [csvRow(['file', 'image_path', 'image_id', 'width', 'height', 'cells'])];
  const usedNames = new Set<string>();
  let done = 0;
  for (const { rows } of cellsByImage(ctx.store, filter)) {
    const first = rows[0];
    const stem = safeFileName(path.parse(first.imageName).name);
    let file = `${stem}.geojson`;
    if (usedNames.has(file.toLowerCase())) file = `${stem}_${first.imageId}.geojson`;
    usedNames.add(file.toLowerCase());
    const fc = buildQuPathGeoJson(
      rows.map((r) => ({
        bbox: r.bbox,
        contour: r.contour ? Array.from(r.contour) : undefined,
        className: r.className ?? undefined,
        color: r.classId != null ? colors.get(r.classId) : undefined,
        measurements: qupathMeasurements(r),
        metadata: qupathMetadata(r),
      })),
    );
    fs.writeFileSync(path.join(tmp, file), JSON.stringify(fc));
    manifest.push(
      csvRow([
        file,
        relPath(out, first.imagePath),
        first.imageId,
        first.imageWidth,
        first.imageHeight,
        rows.length,
      ]),
    );
    ctx.files.push(file);
    ctx.images++;
    ctx.cells += rows.length;
    done += rows.length;
    step(ctx, done, total, 'geojson');
  }
  fs.writeFileSync(path.join(tmp, GEOJSON_MANIFEST), manifest.join(''));
  ctx.files.push(GEOJSON_MANIFEST);
}
