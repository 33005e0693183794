import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ApiParsedArgs } from '../../../shared/api';
import type { CellStore, NewCell } from '../store/store';
import type { JobContext } from '../jobs/jobs';
import { throwIfCancelled } from '../jobs/jobs';
import { LARGE_FIELD_PIXELS, listIngestFiles, type IngestFile } from '../ingest/files';
import { imageSize, type ImageSize } from '../ingest/decode';
import { IngestPool } from '../ingest/pool';
import type { IngestPoolKeeper, IngestPoolLease } from '../ingest/warm-pool';
import type { ProcessOptions, ProcessResult } from '../ingest/process-image';
import { fieldScaleOf, type FieldScale } from '../ingest/scale';
import { MORPHOLOGY_DIMS, MORPHOLOGY_MODEL_NAME } from '../embed/morphology';
import { findAnnotations, type AnnotatedCell, type SiblingAnnotations } from '../ingest/annotations';

export type IngestParams = ApiParsedArgs<'ingest.start'> & { annotator: string; maxPixels?: number };

export interface IngestFailure {
  path: string;
  reason: string;
  message: string;
}

export interface IngestSummary {
  files: number;
  imported: number;
  duplicates: number;
  failed: IngestFailure[];
  cells: number;
  labeled: number;
  seconds: number;
  cellsPerSecond: number;
}

export function ensureMorphologyModel(store: CellStore): number {
  return store.addModel({ name: MORPHOLOGY_MODEL_NAME, kind: 'morphology', dims: MORPHOLOGY_DIMS });
}

async function sha256File(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A size's first field's result, reported back to ImportScales. */
type ScaleReport = (r: ProcessResult) => void;

/**
 * One scale per image size for a whole import. The first field of each size (in import order) searches its
 * scale; the import's later fields of that size wait until it is done and are segmented at the diameter it
 * found, so which worker takes which field no longer changes the cells (a re-import stores the same ones). If
 * that field fails or finds too few cells to measure, the next field of its size searches instead. Fields too
 * large to decode whole (their own tiled path) and files whose header cannot be read search their own.
 */
class ImportScales {
  private bySize = new Map<string, Promise<FieldScale | null>>();

  /** The scale to give this file's task, or (its size's first field) a report to call with its result. */
  async scaleFor(size: ImageSize | null): Promise<{ scale?: FieldScale; report?: ScaleReport } | null> {
    if (!size || size.width * size.height > LARGE_FIELD_PIXELS) return null;
    const { width, height } = size;
    const key = `${width}x${height}`;
    for (;;) {
      const pending = this.bySize.get(key);
      if (!pending) break;
      const scale = await pending;
      if (scale) return { scale };
      // Its first field failed or measured no scale: the next field of this size takes its place.
      if (this.bySize.get(key) === pending) this.bySize.delete(key);
    }
    let settle!: (s: FieldScale | null) => void;
    this.bySize.set(key, new Promise((r) => (settle = r)));
    return {
      report: (r) => {
        const scale = fieldScaleOf(r);
        settle(scale && scale.width === width && scale.height === height ? scale : null);
      },
    };
  }
}

/** A pool of our own for this import, stopped when it ends (no keeper given). */
function ownPool(): IngestPoolLease {
  const pool = new IngestPool();
  return { pool, release: () => pool.close() };
}

/**
 * The ingest job body. Resumable by construction: each image is committed with its cells, imported labels and
 * morphology vectors in one transaction, and a file whose sha256 is already stored is skipped, so re-running the
 * same job after a crash or cancel adds only what is missing. With `pools`, the import runs on the project's
 * kept-warm workers (waiting for their warm-up if need be); otherwise it starts and stops its own.
 */
export async function runIngest(
  store: CellStore,
  params: IngestParams,
  ctx: Pick<JobContext, 'signal' | 'progress'>,
  pools?: IngestPoolKeeper,
): Promise<IngestSummary> {
  const t0 = performance.now();
  const crops = params.as === 'crops';
  // Workers start (module load, detector session) or finish warming while the files are listed here.
  const lease = pools ? pools.acquire() : ownPool();
  let listing;
  let modelId: number;
  try {
    listing = listIngestFiles(params.paths, { classFolders: crops });
    modelId = ensureMorphologyModel(store);
  } catch (err) {
    await lease.release();
    throw err;
  }
  const pool = lease.pool;
  const failed: IngestFailure[] = listing.missing.map((m) => ({
    path: m.path,
    reason: 'unreadable',
    message: m.message,
  }));
  const files = listing.files;
  const summary: IngestSummary = {
    files: files.length,
    imported: 0,
    duplicates: 0,
    failed,
    cells: 0,
    labeled: 0,
    seconds: 0,
    cellsPerSecond: 0,
  };
  ctx.progress(0, files.length, 'importing');
  if (files.length === 0) {
    await lease.release();
    return finish();
  }

  const inFlight = new Set<Promise<void>>();
  const scales = new ImportScales();
  let done = 0;
  const seen = new Set<string>();
  try {
    for (const file of files) {
      throwIfCancelled(ctx.signal);
      let sha: string;
      try {
        sha = await sha256File(file.path);
      } catch (err) {
        failed.push({
          path: file.path,
          reason: 'unreadable',
          message: `${file.path}: ${(err as Error).message}`,
        });
        ctx.progress(++done, files.length, 'importing');
        continue;
      }
      if (seen.has(sha) || store.findImageBySha(sha) != null) {
        summary.duplicates++;
        ctx.progress(++done, files.length, 'importing');
        continue;
      }
      seen.add(sha);
      // One header read per field serves the annotation reader and the scale sharing.
      const size = crops ? null : await imageSize(file.path);
      const sibling = crops ? null : await readSiblingAnnotations(file.path, size);
      if (sibling?.error)
        failed.push({ path: sibling.error.path, reason: 'bad-annotation', message: sibling.error.message });
      const annotations = sibling?.annotations ?? null;
      const opts: ProcessOptions = { mode: crops ? 'crop' : 'field', maxPixels: params.maxPixels };
      if (annotations && params.cellsFrom === 'annotations')
        opts.boxes = annotations.cells.map((c) => c.bbox);
      const scouting = !crops && !opts.boxes ? await scales.scaleFor(size) : null;
      throwIfCancelled(ctx.signal);
      if (scouting?.scale) opts.scale = scouting.scale;
      const task = pool.process(file.path, opts).then((r) => {
        scouting?.report?.(r);
        if (!ctx.signal.aborted) commit(file, r, annotations?.cells ?? null);
        ctx.progress(++done, files.length, 'importing');
      });
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
      if (inFlight.size >= pool.capacity) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    throwIfCancelled(ctx.signal);
  } finally {
    await Promise.allSettled(inFlight);
    await lease.release();
  }
  return finish();

  function finish(): IngestSummary {
    summary.seconds = (performance.now() - t0) / 1000;
    summary.cellsPerSecond = summary.seconds > 0 ? summary.cells / summary.seconds : 0;
    return summary;
  }

  function commit(file: IngestFile, r: ProcessResult, annotated: AnnotatedCell[] | null): void {
    if (!r.ok) {
      failed.push({ path: r.path, reason: r.reason, message: r.message });
      return;
    }
    const cells: NewCell[] = r.cells.map((c) => ({
      kind: c.kind,
      origin: crops
        ? 'imported-crop'
        : params.cellsFrom === 'annotations' && annotated
          ? 'imported-annotation'
          : 'segmented',
      bbox: c.bbox,
      centroid: c.centroid,
      touchesBorder: c.touchesBorder,
      contour: c.contour,
      area: c.area,
      perimeter: c.perimeter,
      circularity: c.circularity,
      convexity: c.convexity,
      eccentricity: c.eccentricity,
      meanColor: c.meanColor,
      thumbnail: Buffer.from(c.thumbnail.buffer, c.thumbnail.byteOffset, c.thumbnail.byteLength),
    }));
    store.transaction(() => {
      const { cellIds } = store.addImageWithCells(
        {
          path: r.path,
          name: path.basename(r.path),
          sha256: r.sha256,
          width: r.width,
          height: r.height,
          format: r.format,
          bitDepth: r.bitDepth,
          kind: crops ? 'crop' : 'field',
          source: params.source ?? null,
          subject: params.subject ?? null,
        },
        cells,
      );
      store.putEmbeddings(modelId, cellIds, r.morphology, MORPHOLOGY_DIMS);
      const byClass = new Map<string, number[]>();
      if (crops && file.className) byClass.set(file.className, cellIds);
      if (annotated) {
        const matched =
          params.cellsFrom === 'annotations' && r.cells.length === annotated.length
            ? annotated.map((_, i) => i)
            : matchAnnotations(r.cells, annotated);
        matched.forEach((ai, ci) => {
          const name = ai >= 0 ? annotated[ai]?.className : null;
          if (name == null || ci >= cellIds.length) return;
          byClass.set(name, [...(byClass.get(name) ?? []), cellIds[ci]]);
        });
      }
      for (const [name, ids] of byClass) {
        const { cls } = store.addClass({ name });
        store.applyLabels({
          cellIds: ids,
          classId: cls.id,
          source: 'imported',
          annotator: params.annotator,
          note: `import ${path.basename(r.path)}`,
        });
        summary.labeled += ids.length;
      }
      summary.imported++;
      summary.cells += cellIds.length;
    });
  }
}

async function readSiblingAnnotations(
  imagePath: string,
  size: ImageSize | null,
): Promise<{ annotations: SiblingAnnotations | null; error?: { path: string; message: string } }> {
  const stem = imagePath.slice(0, imagePath.length - path.extname(imagePath).length);
  if (!fs.existsSync(`${stem}.xml`) && !fs.existsSync(`${stem}.txt`)) return { annotations: null };
  // An image sharp cannot read is reported by the worker with its own clear reason.
  if (!size?.stored) return { annotations: null };
  try {
    return { annotations: await findAnnotations(imagePath, size.stored.width, size.stored.height) };
  } catch (err) {
    // The image is still imported (segmented, unlabeled); the annotation file is reported on its own.
    const e = err as Error & { file?: string };
    return {
      annotations: null,
      error: {
        path: e.file ?? imagePath,
        message: `${e.message}. The image was imported without its labels; fix the file and import it again.`,
      },
    };
  }
}

/**
 * For each segmented cell, the index of the annotation matched to it (-1 for none): an annotation point (or box
 * centre) must fall inside the cell's box, and each annotation goes to the nearest such cell only once.
 */
export function matchAnnotations(
  cells: Array<{ bbox: [number, number, number, number]; centroid: [number, number] }>,
  annotations: AnnotatedCell[],
): number[] {
  const out = new Array<number>(cells.length).fill(-1);
  const bestDist = new Array<number>(cells.length).fill(Infinity);
  annotations.forEach((a, ai) => {
    const px = a.bbox[0] + a.bbox[2] / 2;
    const py = a.bbox[1] + a.bbox[3] / 2;
    let best = -1;
    let bd = Infinity;
    cells.forEach((c, ci) => {
      const [x, y, w, h] = c.bbox;
      if (px < x || py < y || px > x + w || py > y + h) return;
      const d = (px - c.centroid[0]) ** 2 + (py - c.centroid[1]) ** 2;
      if (d < bd) {
        bd = d;
        best = ci;
      }
    });
    if (best >= 0 && bd < bestDist[best]) {
      out[best] = ai;
      bestDist[best] = bd;
    }
  });
  return out;
}
