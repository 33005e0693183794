import {
  ApiError,
  type ApiParsedArgs,
  type PropagationCandidate,
  type Suggestion,
} from '../../../shared/api';
import type { Engine } from '../engine';
import type { PredictionRun } from '../store/store';
import { predictAll, type CellPredictions } from '../learn/predict';
import { suggest as suggestCells, type SuggestionStrategy } from '../learn/suggest';
import { propagationPreview as preview } from '../learn/propagate';
import type { VectorCache } from './vectors';
import type { Worker } from 'node:worker_threads';
import type { LinearProbe } from '../learn/linear-probe';
import { startModuleWorker } from '../util/module-worker';

/** Delay after the last label change before predictions refresh, so a burst of hotkey labels costs one refit. */
const REFRESH_DEBOUNCE_MS = 400;

/**
 * Predictions, suggestions and propagation for the open project. Predictions are refreshed in the background
 * after label changes (debounced, never two at once) and stored per model and run.
 */
export class LearnService {
  private predictions: { modelId: number; runId: number; value: CellPredictions } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number | null> | null = null;
  private dirty = false;

  private readonly trainer = new ProbeTrainer();

  constructor(
    private readonly engine: Engine,
    private readonly vectors: VectorCache,
  ) {}

  latestRun(): PredictionRun | null {
    if (!this.engine.hasProject()) return null;
    try {
      return this.engine.project.latestPredictionRun(this.vectors.activeModel().id);
    } catch {
      return null;
    }
  }

  scheduleRefresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running) {
        this.dirty = true;
        return;
      }
      void this.refresh().catch(() => undefined);
    }, REFRESH_DEBOUNCE_MS);
  }

  /** Trains the linear probe on the current labels and predicts every cell; null when fewer than two classes. */
  refresh(modelId?: number): Promise<number | null> {
    if (this.running) return this.running.then(() => this.refresh(modelId));
    this.running = this.doRefresh(modelId).finally(() => {
      this.running = null;
      if (this.dirty) {
        this.dirty = false;
        this.scheduleRefresh();
      }
    });
    return this.running;
  }

  private async doRefresh(modelId?: number): Promise<number | null> {
    const store = this.engine.project;
    const model = this.vectors.activeModel(modelId);
    const { index } = await this.vectors.index(model.id);
    const ids = index.ids();
    const labels = store.labelsFor(ids);
    // One pass over the (up to millions of) cells; only the few labeled ones are kept.
    const classes = new Set<number>();
    const labeledIds: number[] = [];
    const labeledClasses: number[] = [];
    for (let i = 0; i < labels.length; i++) {
      const c = labels[i];
      if (c < 0) continue;
      classes.add(c);
      labeledIds.push(ids[i]);
      labeledClasses.push(c);
    }
    if (classes.size < 2) return null;
    const probe = await this.trainer.train(
      index.vectors(labeledIds),
      Int32Array.from(labeledClasses),
      index.dims,
      this.predictions?.modelId === model.id ? this.predictions.value.probe : undefined,
    );
    // The probe comes trained from the worker; here it is only applied (a matvec in the index's pool).
    const value = await predictAll(
      index,
      { ids: labeledIds, labels: labeledClasses },
      { method: 'linear', probe },
    );
    const runId = store.putPredictionRun({
      modelId: model.id,
      classifier: 'linear-probe',
      labeledCount: labeledIds.length,
      classIds: [...classes].sort((a, b) => a - b),
      cellIds: value.ids,
      predicted: value.predicted,
      probability: value.probability,
      margin: value.margin,
    });
    this.predictions = { modelId: model.id, runId, value };
    this.engine.emit({ type: 'predictions', runId });
    return runId;
  }

  private async currentPredictions(
    modelId: number,
  ): Promise<{ runId: number; value: CellPredictions } | null> {
    if (this.predictions?.modelId === modelId) return this.predictions;
    const runId = await this.refresh(modelId);
    return runId != null && this.predictions ? this.predictions : null;
  }

  async suggest(args: ApiParsedArgs<'suggest'>): Promise<Suggestion[]> {
    const store = this.engine.project;
    const model = this.vectors.activeModel(args.modelId);
    const { index } = await this.vectors.index(model.id);
    const ids = index.ids();
    const current = store.labelsFor(ids);
    const labels = new Map<number, number>();
    ids.forEach((id, i) => {
      if (current[i] >= 0) labels.set(id, current[i]);
    });
    const strategy: SuggestionStrategy = args.strategy === 'seed' ? 'coldstart' : args.strategy;
    const needsPredictions = strategy === 'mix' || strategy === 'margin' || strategy === 'entropy';
    const predictions = needsPredictions && labels.size > 0 ? await this.currentPredictions(model.id) : null;
    if ((strategy === 'margin' || strategy === 'entropy') && !predictions) {
      throw new ApiError(
        'invalid',
        'Uncertainty suggestions need labels in at least two classes; use "mix" or "seed" to start.',
      );
    }
    if (strategy === 'class' && args.classId == null)
      throw new ApiError('invalid', 'Strategy "class" needs a class (--class).');
    if (strategy === 'similar' && !args.seedCellIds?.length) {
      throw new ApiError('invalid', 'Strategy "similar" needs seed cells (--seed-cells).');
    }
    const names = new Map(store.listClasses().map((c) => [c.id, c.name]));
    const out = await suggestCells(
      { index, labels, predictions: predictions?.value, className: (c) => names.get(c) ?? `class ${c}` },
      { strategy, count: args.n, classId: args.classId, seedIds: args.seedCellIds },
    );
    const row = new Map<number, number>();
    if (predictions) predictions.value.ids.forEach((id, i) => row.set(id, i));
    return out.map((s) => {
      const i = row.get(s.cellId);
      const p = predictions?.value;
      return {
        cellId: s.cellId,
        reason: s.reason,
        strategy: s.strategy,
        predictedClassId:
          s.predicted ?? (p && i !== undefined && p.predicted[i] >= 0 ? p.predicted[i] : null),
        confidence: s.confidence ?? (p && i !== undefined ? p.probability[i] : null),
        runId: predictions?.runId ?? null,
      };
    });
  }

  async propagationPreview(args: ApiParsedArgs<'propagate.preview'>): Promise<PropagationCandidate[]> {
    const model = this.vectors.activeModel(args.modelId);
    const { index } = await this.vectors.index(model.id);
    const ids = index.ids();
    const current = this.engine.project.labelsFor(ids);
    const labeled = new Set<number>();
    ids.forEach((id, i) => {
      if (current[i] >= 0) labeled.add(id);
    });
    return preview(index, args.seedCellIds, { k: args.k, minSimilarity: args.minSimilarity, labeled });
  }

  reset(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.predictions = null;
    this.trainer.close();
  }
}

/** One long-lived worker thread that trains linear probes off the engine's event loop. */
class ProbeTrainer {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private nextId = 1;
  private pending = new Map<number, { resolve: (p: LinearProbe) => void; reject: (e: Error) => void }>();

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    const w = startModuleWorker(import.meta.url, 'probe-worker');
    w.unref();
    this.worker = w;
    this.ready = new Promise((resolve, reject) => {
      w.on('message', (m: { ready?: boolean; id?: number; probe?: LinearProbe; error?: string }) => {
        if (m.ready) return resolve();
        const p = this.pending.get(m.id!);
        this.pending.delete(m.id!);
        if (m.error) p?.reject(new Error(m.error));
        else p?.resolve(m.probe!);
      });
      w.on('error', (err) => {
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        this.worker = null;
        this.ready = null;
      });
    });
    return this.ready;
  }

  async train(x: Float32Array, y: Int32Array, dims: number, initial?: LinearProbe): Promise<LinearProbe> {
    await this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ id, x, y, dims, initial });
    });
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = null;
    this.ready = null;
  }
}
