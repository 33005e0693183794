import os from 'node:os';
import type { Engine } from '../engine';
import type { JobContext } from '../jobs/jobs';
import type { CellStore, ModelRecord } from '../store/store';
import { decodeImage } from '../ingest/decode';
import { cropRgb } from '../ingest/process-image';
import { rasterizeContour } from '../ingest/segment/contour';
import { maskFromCrop, writeMorphologyFeatures, MORPHOLOGY_DIMS } from '../embed/morphology';
import { openVitSession, type VitProvider, type VitSession } from '../embed/vit/session';
import { preprocessCellCrops, type Rgb } from '../embed/vit/preprocess';
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

/** ViT batch: 8 fills both CPU cores without blowing the session's memory (about 300 MB for ViT-S). */
const VIT_BATCH = 8;

/**
 * Embeds every cell that has no vector for the model yet, image by image (each image decoded once), committing
 * each image's vectors in one transaction: a cancelled or crashed job resumes where it stopped.
 */
export async function runEmbed(
  store: CellStore,
  model: ModelRecord,
  opts: { provider: VitProvider; dtype?: 'f32' | 'f16' },
  ctx: Pick<JobContext, 'signal' | 'progress'>,
): Promise<EmbedSummary> {
  const t0 = performance.now();
  const missing = store.cellsMissingEmbedding(model.id);
  const total = missing.length;
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
  try {
    const byImage = new Map<number, number[]>();
    const want = new Set(missing);
    for (const c of store.iterateCells()) {
      if (!want.has(c.id)) continue;
      const list = byImage.get(c.imageId);
      if (list) list.push(c.id);
      else byImage.set(c.imageId, [c.id]);
    }
    let done = 0;
    ctx.progress(0, total, `embedding with ${model.name}`);
    for (const [imageId, cellIds] of byImage) {
      ctx.signal.throwIfAborted();
      const image = store.getImage(imageId)!;
      const decoded = await decodeImage(image.path).catch((err: Error) => {
        throw new ApiError(
          'image-missing',
          `Cannot read ${image.path} to embed its cells (${err.message}). Restore the file or remove the slide.`,
        );
      });
      const rgb = { data: decoded.data, width: decoded.width, height: decoded.height };
      const cells = cellIds.map((id) => store.getCell(id)!);
      const vectors = new Float32Array(cells.length * model.dims);
      if (session) {
        const boxes = cells.map((c) => ({ x: c.bbox[0], y: c.bbox[1], width: c.bbox[2], height: c.bbox[3] }));
        const size = model.inputSize ?? 224;
        for (let i = 0; i < boxes.length; i += VIT_BATCH) {
          ctx.signal.throwIfAborted();
          const part = boxes.slice(i, i + VIT_BATCH);
          const batch = preprocessCellCrops(
            rgb,
            part,
            size,
            (model.mean ?? [0.485, 0.456, 0.406]) as Rgb,
            (model.std ?? [0.229, 0.224, 0.225]) as Rgb,
          );
          vectors.set(await session.embed(batch, part.length), i * model.dims);
          ctx.progress(done + Math.min(i + VIT_BATCH, boxes.length), total, `embedding with ${model.name}`);
        }
      } else {
        cells.forEach((c, i) => {
          const box = c.bbox.map(Math.round) as [number, number, number, number];
          const crop = cropRgb(rgb, box);
          const mask =
            c.contour.length >= 6
              ? rasterizeContour(Float32Array.from(c.contour), box)
              : maskFromCrop({ rgb: crop.data, width: crop.width, height: crop.height });
          writeMorphologyFeatures(
            { rgb: crop.data, width: crop.width, height: crop.height, mask },
            vectors,
            i * MORPHOLOGY_DIMS,
          );
        });
      }
      store.putEmbeddings(model.id, cellIds, vectors, model.dims, opts.dtype ?? 'f32');
      done += cellIds.length;
      ctx.progress(done, total, `embedding with ${model.name}`);
    }
  } finally {
    await session?.close();
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

export function startEmbed(engine: Engine, model: ModelRecord): number {
  return engine.jobs.start('embed', { modelId: model.id }, (ctx) =>
    runEmbed(engine.project, model, { provider: engine.settings.get().provider }, ctx),
  );
}
