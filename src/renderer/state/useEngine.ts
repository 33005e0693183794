import { useCallback, useEffect, useRef, useState } from 'react';
import type { EngineEvent } from '../../shared/api';
import type { ClassDef, JobProgress, ProjectInfo, ProjectStats } from '../../shared/domain';
import { getApi } from '../api';

/** Subscribes to engine events for the component's lifetime. */
export function useEngineEvents(listener: (e: EngineEvent) => void): void {
  useEffect(() => getApi().onEvent(listener), [listener]);
}

const PROGRESS_FLUSH_MS = 200;

export interface ProjectState {
  project: ProjectInfo | null;
  stats: ProjectStats | null;
  classes: ClassDef[];
  jobs: Map<number, JobProgress>;
  /** Bumped on every `labels` event: views refetch what they show. */
  labelsVersion: number;
  /** Bumped on every `predictions` event and when a job finishes (new cells, embeddings, map). */
  predictionsVersion: number;
  /** Bumped when an ingest, embed or map job ends. */
  dataVersion: number;
  error: string | null;
  notice: string | null;
  setError(msg: string | null): void;
  notify(msg: string | null): void;
  refreshStats(): Promise<void>;
  refreshClasses(): Promise<void>;
  setProject(p: ProjectInfo | null): void;
}

export function useProjectState(): ProjectState {
  const [project, setProject] = useState<ProjectInfo | null>(null);
  const [stats, setStats] = useState<ProjectStats | null>(null);
  const [classes, setClasses] = useState<ClassDef[]>([]);
  const [jobs, setJobs] = useState<Map<number, JobProgress>>(new Map());
  const [labelsVersion, setLabelsVersion] = useState(0);
  const [predictionsVersion, setPredictionsVersion] = useState(0);
  const [dataVersion, setDataVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const refreshStats = useCallback(async () => {
    try {
      setStats(await getApi().call('project.stats', {}));
    } catch {
      setStats(null);
    }
  }, []);

  const refreshClasses = useCallback(async () => {
    try {
      setClasses(await getApi().call('classes.list', {}));
    } catch {
      setClasses([]);
    }
  }, []);

  const applyProject = useCallback(
    (p: ProjectInfo | null) => {
      setProject(p);
      setJobs(new Map());
      if (p) {
        void refreshStats();
        void refreshClasses();
        void getApi()
          .call('jobs.list', {})
          .then((list) => {
            // Jobs still running when the renderer (re)loads: show them in the status bar at once.
            const running = list.filter((j) => j.state === 'running' || j.state === 'queued');
            if (running.length === 0) return;
            setJobs((prev) => {
              const next = new Map(prev);
              for (const j of running) {
                if (!next.has(j.id))
                  next.set(j.id, {
                    jobId: j.id,
                    kind: j.kind,
                    state: j.state,
                    done: j.done,
                    total: j.total,
                    phase: j.phase,
                    etaSeconds: null,
                  });
              }
              return next;
            });
          })
          .catch(() => undefined);
      } else {
        setStats(null);
        setClasses([]);
      }
    },
    [refreshStats, refreshClasses],
  );

  useEffect(() => {
    void getApi().call('project.current', {}).then(applyProject);
  }, [applyProject]);

  // Progress events can arrive hundreds of times a second; the whole tree re-renders on each, so they are
  // coalesced to at most one update per PROGRESS_FLUSH_MS. State changes (done, failed) still flush at once.
  const pendingJobs = useRef(new Map<number, JobProgress>());
  const flushTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const flushJobs = useCallback(() => {
    if (flushTimer.current) clearTimeout(flushTimer.current);
    flushTimer.current = null;
    const batch = pendingJobs.current;
    if (batch.size === 0) return;
    pendingJobs.current = new Map();
    setJobs((prev) => {
      const next = new Map(prev);
      for (const [id, p] of batch) next.set(id, p);
      return next;
    });
  }, []);
  useEffect(
    () => () => {
      if (flushTimer.current) clearTimeout(flushTimer.current);
    },
    [],
  );

  const onEvent = useCallback(
    (e: EngineEvent) => {
      if (e.type === 'project') applyProject(e.project);
      if (e.type === 'labels') {
        setLabelsVersion((v) => v + 1);
        void refreshStats();
        // A merge emits an empty list and may have removed a class.
        if (e.cellIds.length === 0) void refreshClasses();
      }
      if (e.type === 'predictions') setPredictionsVersion((v) => v + 1);
      if (e.type === 'job') {
        pendingJobs.current.set(e.progress.jobId, e.progress);
        const ended = e.progress.state !== 'running' && e.progress.state !== 'queued';
        if (ended) flushJobs();
        else if (!flushTimer.current) flushTimer.current = setTimeout(flushJobs, PROGRESS_FLUSH_MS);
        if (ended) {
          void refreshStats();
          setDataVersion((v) => v + 1);
        }
        if (e.progress.state === 'failed' && e.progress.error)
          setError(`${e.progress.kind} failed: ${e.progress.error}`);
      }
    },
    [refreshStats, refreshClasses, applyProject, flushJobs],
  );
  useEngineEvents(onEvent);

  return {
    project,
    stats,
    classes,
    jobs,
    labelsVersion,
    predictionsVersion,
    dataVersion,
    error,
    notice,
    setError,
    notify: setNotice,
    refreshStats,
    refreshClasses,
    setProject: applyProject,
  };
}
