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
    ingest: { start: () => notYet('Import') },
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
    resumeJob: () => notYet('Resuming jobs'),
    reset: () => undefined,
  };
}
