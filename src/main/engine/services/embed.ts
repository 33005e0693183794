import os from 'node:os';
import type { Engine } from '../engine';
import type { JobContext } from '../jobs/jobs';
import type { CellStore, ModelRecord } from '../store/store';
import { decodeImage, type DecodedImage } from '../ingest/decode';
import { PoolStoppedError, type IngestPool } from '../ingest/pool';
import type { IngestPoolKeeper, IngestPoolLease } from '../ingest/warm-pool';
import { morphologyOfCells, packCells } from '../embed/morphology-cells';
import { openVitSession, type VitProvider, type VitSession } from '../embed/vit/session';
import { imageMeanColor, preprocessCellCropsInto, type Rgb } from '../embed/vit/preprocess';
import type { RgbImage } from '../ingest/segment/types';
import { ApiError } from '../../../shared/api';

export interface EmbedSummary {
  model: string;
  modelId: number;
  dims: number;
  cells: number;
  provider: string;
  seconds: number;
  cellsPerSecond: number;
}

/**
 * ViT batch: on the CPU 8 fills the cores without blowing the session's memory (about 300 MB for ViT-S); a GPU
 * provider gets 32, which keeps it busier per call (not measured here: no GPU machine could run onnxruntime-node's
 * CUDA provider, see the README).
 */
export function vitBatchSize(provider: string): number {
  return provider === 'cpu' ? 8 : 32;
}

/**
 * Morphology re-embedding of at least this many cells runs on the ingest workers (one per core, each decoding
 * its own images); fewer run on the engine thread, where starting workers would cost more than it saves.
 */
export const MORPHOLOGY_POOL_MIN_CELLS = 2000;

/** Images decoded ahead of the one being embedded on the engine thread. */
const DECODE_AHEAD = 4;

/**
 * Pixels of the images decoded ahead (engine thread) or sent to the workers and not yet done (pool), at most:
 * ~190 MB of RGB, so a project of very large fields holds a few of them at a time, not DECODE_AHEAD or
 * EMBED_DEPTH per worker. One image is always allowed, however large.
 */
const PIXELS_IN_FLIGHT = 64e6;

/** Path and pixel count of a stored image, read once for both. */
function imageFile(store: CellStore, imageId: number): { path: string; pixels: number } {
  const image = store.getImage(imageId)!;
  return { path: image.path, pixels: image.width * image.height };
}

export interface EmbedOptions {
  provider: VitProvider;
  dtype?: 'f32' | 'f16';
  /** Lends the worker pool for morphology embedding (MORPHOLOGY_POOL_MIN_CELLS or more cells). */
  pool?: () => IngestPoolLease;
  /** Default MORPHOLOGY_POOL_MIN_CELLS. */
  poolMinCells?: number;
}

/**
 * Embeds every cell that has no vector for the model yet. Images are decoded ahead of use, each once. ViT
 * batches are filled across images (a project of single-cell crops still runs full batches), with the next batch
 * prepared while one runs; morphology runs on the worker pool when one is lent and enough cells wait. Vectors
 * are committed as they come (per ViT batch, per image for morphology): a cancelled or crashed job resumes where
 * it stopped. Images that cannot be read are skipped; the job then fails naming them, with everything else stored.
 */
export async function runEmbed(
  store: CellStore,
  model: ModelRecord,
  opts: EmbedOptions,
  ctx: Pick<JobContext, 'signal' | 'progress'>,
): Promise<EmbedSummary> {
  const t0 = performance.now();
  const byImage = store.cellsMissingEmbeddingByImage(model.id);
  let total = 0;
  for (const ids of byImage.values()) total += ids.length;
  let session: VitSession | null = null;
  let provider = 'cpu';
  if (model.kind === 'vit-onnx') {
    if (!model.path) throw new ApiError('invalid', `Model ${model.name} has no ONNX file recorded.`);
    session = await openVitSession(model.path, {
      provider: opts.provider,
      threads: os.availableParallelism(),
    });
    provider = session.provider;
  }
  const lease =
    !session && opts.pool && total >= (opts.poolMinCells ?? MORPHOLOGY_POOL_MIN_CELLS) ? opts.pool() : null;
  try {
    let done = 0;
    const phase = `embedding with ${model.name}`;
    ctx.progress(0, total, phase);
    const committed = (n: number) => {
      done += n;
      ctx.progress(done, total, phase);
    };
    const dtype = opts.dtype ?? 'f32';
    // Images that cannot be read are skipped and reported at the end, when everything else is stored.
    const unreadable: Unreadable[] = [];
    const run: EmbedRun = { store, model, byImage, dtype, ctx, unreadable, committed };
    if (session) {
      await embedVit(session, run);
    } else if (lease) {
      await embedOnPool(lease.pool, run);
    } else {
      await embedMorphologyHere(run);
    }
    if (unreadable.length) throw unreadableError(unreadable);
  } finally {
    await session?.close();
    await lease?.release();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    model: model.name,
    modelId: model.id,
    dims: model.dims,
    cells: total,
    provider,
    seconds,
    cellsPerSecond: seconds > 0 ? total / seconds : 0,
  };
}

/** What one embed job's passes share. */
interface EmbedRun {
  store: CellStore;
  model: ModelRecord;
  /** Cell ids to embed, by image, in ascending id order. */
  byImage: Map<number, number[]>;
  dtype: 'f32' | 'f16';
  ctx: Pick<JobContext, 'signal' | 'progress'>;
  /** Images that could not be read (skipped; the job fails naming them at the end). */
  unreadable: Unreadable[];
  /** Reports that `cells` more vectors are stored. */
  committed: (cells: number) => void;
}

/**
 * The listed images, decoded in order with the next DECODE_AHEAD already decoding (on sharp's threads) while the
 * caller works on one; an image that cannot be read goes to `unreadable` and is skipped.
 */
async function* decodedImages(
  store: CellStore,
  byImage: Map<number, number[]>,
  signal: AbortSignal,
  unreadable: Unreadable[],
): AsyncGenerator<{ imageId: number; cellIds: number[]; rgb: RgbImage }> {
  const images = [...byImage];
  const decodes = new Map<number, { decoded: Promise<DecodedImage>; path: string; pixels: number }>();
  let pixelsAhead = 0;
  let next = 0;
  for (let k = 0; k < images.length; k++) {
    signal.throwIfAborted();
    while (next < images.length && next <= k + DECODE_AHEAD) {
      const { path, pixels } = imageFile(store, images[next][0]);
      if (decodes.size > 0 && pixelsAhead + pixels > PIXELS_IN_FLIGHT) break;
      const decoded = decodeImage(path);
      decoded.catch(() => undefined);
      decodes.set(next++, { decoded, path, pixels });
      pixelsAhead += pixels;
    }
    const [imageId, cellIds] = images[k];
    const { decoded: pending, path, pixels } = decodes.get(k)!;
    decodes.delete(k);
    pixelsAhead -= pixels;
    const decoded = await pending.catch((err: Error) => {
      unreadable.push({ path, message: err.message });
      return null;
    });
    if (decoded) {
      yield { imageId, cellIds, rgb: { data: decoded.data, width: decoded.width, height: decoded.height } };
    }
  }
}

/**
 * ViT vectors of every listed cell in batches (vitBatchSize) filled across images, so single-cell crop images still
 * make full batches. While one batch runs (on onnxruntime's threads or the GPU) the next is cut and normalized
 * here; each batch's vectors are committed when it returns. On cancel or failure the running batch still
 * finishes and commits.
 */
async function embedVit(session: VitSession, run: EmbedRun): Promise<void> {
  const { store, model, byImage, dtype, ctx, unreadable, committed } = run;
  const size = model.inputSize ?? 224;
  const per = 3 * size * size;
  const mean = (model.mean ?? [0.485, 0.456, 0.406]) as Rgb;
  const std = (model.std ?? [0.229, 0.224, 0.225]) as Rgb;
  const batchSize = vitBatchSize(session.provider);
  let batch = new Float32Array(batchSize * per);
  let ids: number[] = [];
  // In an object: TypeScript's flow analysis does not see flush() assign it.
  const inFlight: { running: Promise<void> | null } = { running: null };
  const flush = async () => {
    if (ids.length === 0) return;
    const n = ids.length;
    const input = n === batchSize ? batch : batch.subarray(0, n * per);
    const batchIds = ids;
    // The running batch keeps its buffer; the next one is cut into a fresh one.
    batch = new Float32Array(batchSize * per);
    ids = [];
    await inFlight.running;
    ctx.signal.throwIfAborted();
    const running = session.embed(input, n).then((vectors) => {
      store.putEmbeddings(model.id, batchIds, vectors, model.dims, dtype);
      committed(n);
    });
    // Handled here so a failure while the next batch is being cut is not an unhandled rejection; the next
    // flush (or the end) awaits it and raises it.
    running.catch(() => undefined);
    inFlight.running = running;
  };
  try {
    for await (const { imageId, cellIds, rgb } of decodedImages(store, byImage, ctx.signal, unreadable)) {
      const cells = storedCells(store, imageId, cellIds);
      const fill = imageMeanColor(rgb);
      for (let i = 0; i < cells.length;) {
        const take = Math.min(batchSize - ids.length, cells.length - i);
        const part = cells.slice(i, i + take);
        preprocessCellCropsInto(
          rgb,
          part.map((c) => ({ x: c.bbox[0], y: c.bbox[1], width: c.bbox[2], height: c.bbox[3] })),
          size,
          mean,
          std,
          batch,
          ids.length,
          { fill },
        );
        for (const c of part) ids.push(c.id);
        i += take;
        if (ids.length === batchSize) await flush();
      }
    }
    await flush();
    await inFlight.running;
  } finally {
    // A batch still running when the loop failed or was cancelled is committed before the job ends.
    await inFlight.running?.catch(() => undefined);
  }
}

interface StoredCell {
  id: number;
  bbox: [number, number, number, number];
  contour: Float32Array;
}

/**
 * Box and contour of the listed cells of one image, in ascending id order, read in one query; a cell deleted
 * since the job listed it is left out.
 */
function storedCells(store: CellStore, imageId: number, cellIds: readonly number[]): StoredCell[] {
  const want = new Set(cellIds);
  const out: StoredCell[] = [];
  for (const c of store.iterateCells({ imageId })) {
    if (want.has(c.id)) out.push({ id: c.id, bbox: c.bbox, contour: c.contour ?? NO_CONTOUR });
  }
  return out;
}

const NO_CONTOUR = new Float32Array(0);

/** Morphology vectors on this (the engine) thread, image by image, each image committed on its own. */
async function embedMorphologyHere(run: EmbedRun): Promise<void> {
  const { store, model, byImage, dtype, ctx, unreadable, committed } = run;
  for await (const { imageId, cellIds, rgb } of decodedImages(store, byImage, ctx.signal, unreadable)) {
    const cells = storedCells(store, imageId, cellIds);
    store.putEmbeddings(
      model.id,
      cells.map((c) => c.id),
      morphologyOfCells(rgb, packCells(cells)),
      model.dims,
      dtype,
    );
    committed(cellIds.length);
  }
}

/**
 * Morphology vectors of every listed image's cells on the pool's workers, as many images in flight as the pool
 * holds; each image is committed in its own transaction as its vectors arrive. Images that cannot be read are
 * listed in `unreadable`. On cancel the images already in flight still finish and commit (nothing computed is
 * thrown away), then the abort is raised.
 */
async function embedOnPool(pool: IngestPool, run: EmbedRun): Promise<void> {
  const { store, model, byImage, dtype, ctx, unreadable, committed } = run;
  const inFlight = new Set<Promise<void>>();
  let pixelsInFlight = 0;
  let stopped: PoolStoppedError | null = null;
  try {
    for (const [imageId, cellIds] of byImage) {
      ctx.signal.throwIfAborted();
      if (stopped) break;
      const { path, pixels } = imageFile(store, imageId);
      while (
        inFlight.size > 0 &&
        (inFlight.size >= pool.embedCapacity || pixelsInFlight + pixels > PIXELS_IN_FLIGHT)
      ) {
        await Promise.race(inFlight);
      }
      const cells = storedCells(store, imageId, cellIds);
      pixelsInFlight += pixels;
      const task: Promise<void> = pool
        .embedMorphology(path, packCells(cells))
        .then(
          (vectors) => {
            store.putEmbeddings(
              model.id,
              cells.map((c) => c.id),
              vectors,
              model.dims,
              dtype,
            );
            committed(cellIds.length);
          },
          (err: Error) => {
            if (err instanceof PoolStoppedError) stopped ??= err;
            else unreadable.push({ path, message: err.message });
          },
        )
        .finally(() => {
          inFlight.delete(task);
          pixelsInFlight -= pixels;
        });
      inFlight.add(task);
    }
  } finally {
    await Promise.all(inFlight);
  }
  if (stopped) {
    throw new ApiError(
      'interrupted',
      `The embedding workers stopped (${(stopped as PoolStoppedError).message}); what was done is stored: ` +
        'run the embedding again to finish.',
    );
  }
}

interface Unreadable {
  path: string;
  message: string;
}

function unreadableError(list: Unreadable[]): ApiError {
  const [first] = list;
  // Decode errors already name the file and say what to do about it; others get the path put in front.
  const what = first.message.includes(first.path)
    ? first.message.replace(/\.?$/, '.')
    : `Cannot read ${first.path} (${first.message}).`;
  const more = list.length > 1 ? ` ${list.length - 1} more image(s) could not be read either.` : '';
  return new ApiError(
    'image-missing',
    `${what}${more} Its cells have no vector yet; every other cell is embedded. Restore the file(s) (or remove ` +
      'their slides) and run the embedding again to finish.',
  );
}

export function startEmbed(engine: Engine, model: ModelRecord, pools: IngestPoolKeeper): number {
  return engine.jobs.start('embed', { modelId: model.id }, (ctx) =>
    runEmbed(
      engine.project,
      model,
      { provider: engine.settings.get().provider, pool: () => pools.acquire() },
      ctx,
    ),
  );
}
