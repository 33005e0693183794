import path from 'node:path';
import fs from 'node:fs';
import {
  ApiError,
  parseCall,
  type ApiMethod,
  type ApiParsedArgs,
  type ApiResults,
  type EngineEvent,
} from '../../shared/api';
import type { ProjectInfo } from '../../shared/domain';
import { CellStore } from './store/store';
import { StoreError } from './store/errors';
import { backgroundIntegrityCheck, SYNC_CHECK_MAX_BYTES } from './store/db';
import { JobManager } from './jobs/jobs';
import { SettingsFile } from './settings';
import { services, type EngineServices } from './services/index';
import { exportProject } from './export/project';
import {
  createReviewSession,
  decideReviewItem,
  listSessions,
  nextReviewItem,
  reviewProgress,
} from './review/sessions';
import { disagreementQueue, readerAgreement, settleConsensus } from './review/agreement';
import { signSlide, slideSignoffStatus } from './review/signoff';
import { auditTrail } from './review/audit';

type Handlers = { [M in ApiMethod]: (args: ApiParsedArgs<M>) => Promise<ApiResults[M]> | ApiResults[M] };

/**
 * The engine: every domain operation behind the API contract. Hosted in-process by the CLI and the web host, and
 * in a utility process by the desktop app. It holds at most one open project.
 */
export class Engine {
  private store: CellStore | null = null;
  private jobManager: JobManager | null = null;
  private listeners = new Set<(e: EngineEvent) => void>();
  readonly settings: SettingsFile;
  private readonly svc: EngineServices;

  /**
   * upgradeModels: on open, start re-embedding with the current built-in morphology model when the project's
   * vectors come from an older one (the long-lived hosts set it; one-shot CLI commands do not).
   */
  constructor(opts: { settings?: SettingsFile; upgradeModels?: boolean; warmIngest?: boolean } = {}) {
    this.settings = opts.settings ?? new SettingsFile();
    this.upgradeModels = opts.upgradeModels ?? false;
    this.warmIngest = opts.warmIngest ?? this.upgradeModels;
    this.svc = services(this);
  }

  /**
   * warmIngest: keep the ingest workers warm while a project is open (started on open, reused by every import,
   * stopped on close or after 10 idle minutes). Default: as upgradeModels (the long-lived hosts).
   */
  readonly warmIngest: boolean;

  private readonly upgradeModels: boolean;

  onEvent(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }

  get project(): CellStore {
    if (!this.store) throw new ApiError('no-project', 'No project is open. Create or open a project first.');
    return this.store;
  }

  get jobs(): JobManager {
    if (!this.jobManager)
      throw new ApiError('no-project', 'No project is open. Create or open a project first.');
    return this.jobManager;
  }

  get annotator(): string {
    return this.settings.get().annotator;
  }

  /** The ingest worker pool: stopped, warming or ready, its thread ids, and pools started (diagnostics). */
  ingestPoolStatus() {
    return this.svc.ingest.status();
  }

  hasProject(): boolean {
    return this.store !== null;
  }

  async openProject(dir: string, create: boolean): Promise<ProjectInfo> {
    const abs = path.resolve(dir);
    if (create && fs.existsSync(path.join(abs, 'cells.db'))) {
      throw new StoreError('exists', `A project already exists at ${abs}. Open it instead.`);
    }
    const store = create ? CellStore.create(abs) : CellStore.open(abs);
    await this.closeProject();
    this.store = store;
    store.markInterruptedJobs();
    this.jobManager = new JobManager(store, (progress) => this.emit({ type: 'job', progress }));
    this.settings.addRecent(abs);
    this.svc.ingest.warm();
    const info = this.projectInfo();
    this.emit({ type: 'project', project: info });
    if (this.upgradeModels) this.svc.embed.upgradeMorphology();
    if (fs.statSync(path.join(abs, 'cells.db')).size > SYNC_CHECK_MAX_BYTES) {
      void backgroundIntegrityCheck(abs).then((problems) => {
        if (this.store === store)
          this.emit({ type: 'integrity', ok: problems.length === 0, problems: problems.slice(0, 5) });
      });
    }
    return info;
  }

  async closeProject(): Promise<void> {
    if (this.jobManager) await this.jobManager.cancelAll();
    await this.svc.ingest.close();
    this.svc.reset();
    this.store?.close();
    this.store = null;
    this.jobManager = null;
  }

  projectInfo(): ProjectInfo {
    const s = this.project;
    return {
      path: s.dir,
      name: path.basename(s.dir).replace(/\.rdproj$/, ''),
      schemaVersion: s.schemaVersion,
    };
  }

  /** Validates and dispatches one API call: the single entry point for every host. */
  async call(method: unknown, rawArgs: unknown): Promise<unknown> {
    const { method: m, args } = parseCall(method, rawArgs);
    const handler = this.handlers[m] as (a: unknown) => unknown;
    return await handler(args);
  }

  private readonly handlers: Handlers = {
    'project.create': (a) => this.openProject(a.path, true),
    'project.open': (a) => this.openProject(a.path, false),
    'project.close': async () => {
      await this.closeProject();
      this.emit({ type: 'project', project: null });
      return null;
    },
    'project.current': () => (this.store ? this.projectInfo() : null),
    'project.stats': () => this.project.stats(),
    'project.recent': () =>
      this.settings.get().recentProjects.filter((p) => fs.existsSync(path.join(p, 'cells.db'))),
    'settings.get': () => {
      const s = this.settings.get();
      return { annotator: s.annotator, provider: s.provider, theme: s.theme };
    },
    'settings.set': (a) => {
      const s = this.settings.update(a);
      return { annotator: s.annotator, provider: s.provider, theme: s.theme };
    },
    'classes.list': (a) => this.project.listClasses(a),
    'classes.add': (a) => this.project.addClass(a),
    'classes.update': (a) => {
      this.project.updateClass(a.id, {
        name: a.name,
        color: a.color,
        hotkey: a.hotkey?.toUpperCase() ?? a.hotkey,
        hidden: a.hidden,
      });
      return this.project.findClass(a.id)!;
    },
    'classes.merge': (a) => {
      const batchId = this.project.mergeClass(a.fromId, a.intoId, this.annotator);
      // An empty cell list tells the renderer the class list changed too.
      this.emit({ type: 'labels', cellIds: [] });
      if (batchId) this.svc.learn.scheduleRefresh();
      return { batchId, relabeled: batchId ? this.project.batchSize(batchId) : 0 };
    },
    'classes.remove': (a) => ({ removed: this.project.removeClass(a.id) }),
    'slides.list': () => this.project.listSlides(),
    'cells.query': (a) => this.project.queryCells(a, this.svc.learn.latestRun()),
    'cells.count': (a) => this.project.countCells(a),
    'cells.outlines': (a) => this.project.cellOutlines(a.imageId),
    'cells.get': (a) => {
      const c = this.project.getCell(a.id, this.svc.learn.latestRun());
      if (!c) throw new ApiError('not-found', `No cell with id ${a.id}.`);
      return c;
    },
    'cells.history': (a) => this.project.cellHistory(a.id),
    'labels.apply': (a) => {
      const batchId = this.project.applyLabels({
        cellIds: a.cellIds,
        classId: a.classId,
        source: a.source,
        annotator: this.annotator,
        runId: a.runId ?? null,
        modelId: a.runId ? (this.project.latestPredictionRun()?.modelId ?? null) : null,
      });
      const changed = batchId ? this.project.batchSize(batchId) : 0;
      this.afterLabelChange(a.cellIds);
      return { batchId, changed };
    },
    'labels.undo': () => {
      const r = this.project.undo(this.annotator);
      if (r) this.afterLabelChange(r.cellIds);
      if (r?.classesChanged) this.emit({ type: 'labels', cellIds: [] });
      return r && { batchId: r.batchId, cellIds: r.cellIds };
    },
    'labels.redo': () => {
      const r = this.project.redo(this.annotator);
      if (r) this.afterLabelChange(r.cellIds);
      if (r?.classesChanged) this.emit({ type: 'labels', cellIds: [] });
      return r && { batchId: r.batchId, cellIds: r.cellIds };
    },
    'jobs.list': () => this.project.listJobs().map(({ params: _p, ...j }) => j),
    'jobs.cancel': (a) => ({ cancelled: this.jobs.cancel(a.jobId) }),
    'jobs.resume': (a) => ({ jobId: this.svc.resumeJob(a.jobId) }),
    'ingest.start': (a) => ({ jobId: this.svc.ingest.start(a) }),
    'models.list': () => this.project.listModels(),
    'models.add': (a) => this.svc.models.add(a),
    'models.setActive': (a) => {
      if (!this.project.getModel(a.modelId))
        throw new ApiError('not-found', `No model with id ${a.modelId}.`);
      this.project.setSetting('activeModel', String(a.modelId));
      this.svc.reset();
      return { modelId: a.modelId };
    },
    'embed.start': (a) => ({ jobId: this.svc.embed.start(a.modelId) }),
    'map.get': (a) => this.svc.map.get(a.modelId),
    'map.start': (a) => ({ jobId: this.svc.map.start(a.modelId) }),
    'predict.refresh': async (a) => ({ runId: await this.svc.learn.refresh(a.modelId) }),
    suggest: (a) => this.svc.learn.suggest(a),
    'propagate.preview': (a) => this.svc.learn.propagationPreview(a),
    'export.start': (a) => {
      const { rbcPerMicroliter, ...opts } = a;
      const params = {
        ...opts,
        report: rbcPerMicroliter ? { parasitemia: { rbcPerMicroliter } } : undefined,
      };
      const jobId = this.jobs.start('export', params, (ctx) =>
        exportProject(this.project, params, { signal: ctx.signal, onProgress: ctx.progress }),
      );
      return { jobId };
    },
    'review.create': (a) =>
      createReviewSession(this.project, {
        name: a.name,
        mode: a.mode,
        filter: a.filter,
        createdBy: this.annotator,
      }),
    'review.list': () => listSessions(this.project),
    'review.progress': (a) => reviewProgress(this.project, a.sessionId, this.annotator),
    'review.next': (a) => nextReviewItem(this.project, a.sessionId, this.annotator, a.fromPosition),
    'review.decide': (a) => ({
      decisionId: decideReviewItem(this.project, {
        sessionId: a.sessionId,
        cellId: a.cellId,
        reader: this.annotator,
        classId: a.classId,
      }),
    }),
    'review.agreement': (a) =>
      readerAgreement(this.project, a.sessionId, a.readerA, a.readerB, this.annotator),
    'review.disagreements': (a) =>
      disagreementQueue(this.project, a.sessionId, a.readerA, a.readerB, { viewer: this.annotator }),
    'review.settle': (a) => {
      const r = settleConsensus(this.project, {
        sessionId: a.sessionId,
        cellId: a.cellId,
        classId: a.classId,
        decidedBy: this.annotator,
      });
      if (r.batchId) this.afterLabelChange([a.cellId]);
      return r;
    },
    'slides.signoff': (a) => slideSignoffStatus(this.project, a.imageId),
    'slides.sign': (a) =>
      signSlide(this.project, { imageId: a.imageId, signedBy: this.annotator, note: a.note ?? null }),
    'audit.list': (a) => auditTrail(this.project, a),
  };

  private afterLabelChange(cellIds: number[]): void {
    this.emit({ type: 'labels', cellIds });
    this.svc.learn.scheduleRefresh();
  }

  async dispose(): Promise<void> {
    await this.closeProject();
    this.listeners.clear();
  }
}

/** Typed in-process client (CLI, tests) over the same validated entry point. */
export function engineClient(engine: Engine) {
  return {
    call<M extends ApiMethod>(
      method: M,
      args: import('../../shared/api').ApiArgs<M>,
    ): Promise<ApiResults[M]> {
      return engine.call(method, args) as Promise<ApiResults[M]>;
    },
  };
}
