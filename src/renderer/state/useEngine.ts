import { useCallback, useEffect, useState } from 'react';
import type { EngineEvent } from '../../shared/api';
import type { JobProgress, ProjectInfo, ProjectStats } from '../../shared/domain';
import { getApi } from '../api';

/** Subscribes to engine events for the component's lifetime. */
export function useEngineEvents(listener: (e: EngineEvent) => void): void {
  useEffect(() => getApi().onEvent(listener), [listener]);
}

export interface ProjectState {
  project: ProjectInfo | null;
  stats: ProjectStats | null;
  jobs: Map<number, JobProgress>;
  error: string | null;
  setError(msg: string | null): void;
  refreshStats(): Promise<void>;
  setProject(p: ProjectInfo | null): void;
}

export function useProjectState(): ProjectState {
  const [project, setProject] = useState<ProjectInfo | null>(null);
  const [stats, setStats] = useState<ProjectStats | null>(null);
  const [jobs, setJobs] = useState<Map<number, JobProgress>>(new Map());
  const [error, setError] = useState<string | null>(null);

  const refreshStats = useCallback(async () => {
    try {
      setStats(await getApi().call('project.stats', {}));
    } catch {
      setStats(null);
    }
  }, []);

  const applyProject = useCallback(
    (p: ProjectInfo | null) => {
      setProject(p);
      if (p) void refreshStats();
      else setStats(null);
    },
    [refreshStats],
  );

  useEffect(() => {
    void getApi().call('project.current', {}).then(applyProject);
  }, [applyProject]);

  const onEvent = useCallback(
    (e: EngineEvent) => {
      if (e.type === 'project') applyProject(e.project);
      if (e.type === 'labels') void refreshStats();
      if (e.type === 'job') {
        setJobs((prev) => {
          const next = new Map(prev);
          next.set(e.progress.jobId, e.progress);
          return next;
        });
        if (e.progress.state !== 'running') void refreshStats();
        if (e.progress.state === 'failed' && e.progress.error)
          setError(`${e.progress.kind} failed: ${e.progress.error}`);
      }
    },
    [refreshStats, applyProject],
  );
  useEngineEvents(onEvent);

  return { project, stats, jobs, error, setError, refreshStats, setProject: applyProject };
}
