import type { JobProgress, ProjectStats } from '../../shared/domain';
import { formatCount } from '../state/format';
import { JobProgressLine } from './JobProgressLine';

const ACTIVE = new Set(['running', 'queued']);

export function StatusBar({
  stats,
  jobs,
  notice,
}: {
  stats: ProjectStats | null;
  jobs: Map<number, JobProgress>;
  notice: string | null;
}) {
  const all = [...jobs.values()];
  const active = all.filter((j) => ACTIVE.has(j.state));
  const finished = all.filter((j) => !ACTIVE.has(j.state)).slice(-1)[0];
  return (
    <footer className="status-bar" data-testid="status-bar">
      <span>
        {stats
          ? `${formatCount(stats.images)} slides · ${formatCount(stats.cells)} cells · ${formatCount(stats.labeled)} labeled`
          : 'No project open'}
      </span>
      <span className="notice" data-testid="notice" aria-live="polite">
        {notice}
      </span>
      <span className="status-jobs">
        {active.map((j) => (
          <JobProgressLine key={j.jobId} job={j} compact />
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
