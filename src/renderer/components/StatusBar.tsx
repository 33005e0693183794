import type { JobProgress, ProjectStats } from '../../shared/domain';
import { getApi } from '../api';

function formatEta(s: number | null): string {
  if (s == null) return '';
  if (s < 60) return `${Math.ceil(s)} s left`;
  return `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s left`;
}

export function StatusBar({ stats, jobs }: { stats: ProjectStats | null; jobs: Map<number, JobProgress> }) {
  const active = [...jobs.values()].filter((j) => j.state === 'running');
  const finished = [...jobs.values()].filter((j) => j.state !== 'running').slice(-1)[0];
  return (
    <footer className="status-bar" data-testid="status-bar">
      <span>
        {stats
          ? `${stats.images} slides · ${stats.cells} cells · ${stats.labeled} labeled`
          : 'No project open'}
      </span>
      <span className="status-jobs">
        {active.map((j) => (
          <span key={j.jobId} className="job" data-testid={`job-${j.kind}`}>
            {j.kind}: {j.phase} {j.done}/{j.total}
            <progress value={j.done} max={Math.max(1, j.total)} />
            <span className="eta">{formatEta(j.etaSeconds)}</span>
            <button type="button" onClick={() => void getApi().call('jobs.cancel', { jobId: j.jobId })}>
              Cancel
            </button>
          </span>
        ))}
        {active.length === 0 && finished && (
          <span data-testid="last-job" className={`job-${finished.state}`}>
            {finished.kind} {finished.state}
            {finished.error ? `: ${finished.error}` : ''}
          </span>
        )}
      </span>
    </footer>
  );
}
