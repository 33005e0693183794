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
import { runIngest, type IngestParams } from './ingest';

export interface EngineServices {
  ingest: { start(args: ApiParsedArgs<'ingest.start'>): number };
  models: { add(args: ApiParsedArgs<'models.add'>): Promise<ModelInfo> };
  embed: { start(modelId?: number): number };
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

const notYet = (what: string): never => {
  throw new ApiError('unavailable', `${what} is not available in this build yet.`);
};

export function services(engine: Engine): EngineServices {
  return {
    ingest: {
      start: (args) => {
        const params: IngestParams = { ...args, annotator: engine.annotator };
        return engine.jobs.start('ingest', params, (ctx) => runIngest(engine.project, params, ctx));
      },
    },
    models: { add: async () => notYet('Adding a model') },
    embed: { start: () => notYet('Embedding') },
    map: { get: () => null, start: () => notYet('The map') },
    learn: {
      latestRun: () => (engine.hasProject() ? engine.project.latestPredictionRun() : null),
      refresh: async () => null,
      scheduleRefresh: () => undefined,
      suggest: async () => notYet('Suggestions'),
      propagationPreview: async () => notYet('Propagation'),
    },
    resumeJob: (jobId) => {
      const job = engine.project.getJob(jobId);
      if (!job) throw new ApiError('not-found', `No job with id ${jobId}.`);
      if (engine.jobs.isRunning(jobId)) throw new ApiError('invalid', `Job ${jobId} is still running.`);
      if (job.state === 'done') throw new ApiError('invalid', `Job ${jobId} already finished.`);
      // Job bodies skip what an earlier attempt committed, so resuming is re-running with the same parameters.
      if (job.kind === 'ingest') {
        const params = job.params as IngestParams;
        return engine.jobs.start('ingest', params, (ctx) => runIngest(engine.project, params, ctx), jobId);
      }
      throw new ApiError('invalid', `Jobs of kind ${job.kind} are restarted, not resumed: start it again.`);
    },
    reset: () => undefined,
  };
}
