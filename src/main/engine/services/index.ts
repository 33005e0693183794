import {
  ApiError,
  type ApiParsedArgs,
  type MapData,
  type PropagationCandidate,
  type Suggestion,
} from '../../../shared/api';
import type { ModelInfo } from '../../../shared/domain';
import type { PredictionRun } from '../store/store';
import type { Engine } from '../engine';
import { ensureMorphologyModel, runIngest, type IngestParams } from './ingest';
import { outdatedMorphology, VectorCache } from './vectors';
import { LearnService } from './learn';
import { MapService } from './map';
import { startEmbed } from './embed';
import { importVitModel } from '../embed/vit/build';
import { modelsDir } from '../settings';
import { IngestPoolKeeper, type IngestPoolStatus } from '../ingest/warm-pool';

export interface EngineServices {
  ingest: {
    start(args: ApiParsedArgs<'ingest.start'>): number;
    /** Starts the ingest workers in the background (project opened, long-lived hosts). */
    warm(): void;
    status(): IngestPoolStatus;
    /** Stops the ingest workers (project closed). */
    close(): Promise<void>;
  };
  models: { add(args: ApiParsedArgs<'models.add'>): Promise<ModelInfo> };
  embed: {
    start(modelId?: number): number;
    /** Starts embedding with the current morphology model where an older one holds more vectors; job id or null. */
    upgradeMorphology(): number | null;
  };
  map: { get(modelId?: number): MapData | null; start(modelId?: number): number };
  learn: {
    latestRun(): PredictionRun | null;
    refresh(modelId?: number): Promise<number | null>;
    scheduleRefresh(): void;
    suggest(args: ApiParsedArgs<'suggest'>): Promise<Suggestion[]>;
    propagationPreview(args: ApiParsedArgs<'propagate.preview'>): Promise<PropagationCandidate[]>;
  };
  resumeJob(jobId: number): number;
  /** Drops caches tied to the open project. */
  reset(): void;
}

export function services(engine: Engine): EngineServices {
  const vectors = new VectorCache(() => engine.project);
  const learn = new LearnService(engine, vectors);
  const map = new MapService(engine, vectors);
  const ingestPools = new IngestPoolKeeper({ keepWarm: engine.warmIngest });
  const ingest = (params: IngestParams, existingId?: number) =>
    engine.jobs.start(
      'ingest',
      params,
      (ctx) => runIngest(engine.project, params, ctx, ingestPools),
      existingId,
    );
  const upgradeMorphology = (): number | null => {
    const store = engine.project;
    if (!outdatedMorphology(store.listModels())) return null;
    return startEmbed(engine, store.getModel(ensureMorphologyModel(store))!, ingestPools);
  };
  return {
    ingest: {
      start: (args) => ingest({ ...args, annotator: engine.annotator }),
      warm: () => ingestPools.warm(),
      status: () => ingestPools.status(),
      close: () => ingestPools.close(),
    },
    models: {
      add: async (args) => {
        const record = await importVitModel(args.path, {
          name: args.name,
          arch: args.arch,
          modelsDir: modelsDir(),
        });
        const store = engine.project;
        if (store.getModel(record.name)) {
          throw new ApiError(
            'exists',
            `A model named "${record.name}" already exists in this project; pass another name.`,
          );
        }
        const id = store.addModel({
          name: record.name,
          kind: 'vit-onnx',
          path: record.onnxPath,
          fileSha256: record.fileSha256,
          dims: record.dims,
          inputSize: record.inputSize,
          mean: record.mean,
          std: record.std,
          arch: record.arch,
        });
        return store.listModels().find((m) => m.id === id)!;
      },
    },
    embed: {
      // No model named and the vectors come from an older morphology version: embed with the current one.
      start: (modelId) =>
        (modelId == null ? upgradeMorphology() : null) ??
        startEmbed(engine, vectors.activeModel(modelId), ingestPools),
      upgradeMorphology,
    },
    map: { get: (modelId) => map.get(modelId), start: (modelId) => map.start(modelId) },
    learn: {
      latestRun: () => learn.latestRun(),
      refresh: (modelId) => learn.refresh(modelId),
      scheduleRefresh: () => learn.scheduleRefresh(),
      suggest: (args) => learn.suggest(args),
      propagationPreview: (args) => learn.propagationPreview(args),
    },
    resumeJob: (jobId) => {
      const job = engine.project.getJob(jobId);
      if (!job) throw new ApiError('not-found', `No job with id ${jobId}.`);
      if (engine.jobs.isRunning(jobId)) throw new ApiError('invalid', `Job ${jobId} is still running.`);
      if (job.state === 'done') throw new ApiError('invalid', `Job ${jobId} already finished.`);
      // Job bodies skip what an earlier attempt committed, so resuming is re-running with the same parameters.
      if (job.kind === 'ingest') return ingest(job.params as IngestParams, jobId);
      if (job.kind === 'embed') {
        const { modelId } = job.params as { modelId: number };
        return startEmbed(engine, vectors.activeModel(modelId), ingestPools);
      }
      if (job.kind === 'map') return map.start((job.params as { modelId: number }).modelId);
      throw new ApiError('invalid', `Jobs of kind ${job.kind} cannot be resumed; start it again.`);
    },
    reset: () => {
      learn.reset();
      void vectors.reset();
    },
  };
}
