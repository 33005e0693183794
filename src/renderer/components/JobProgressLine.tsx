import type { JobProgress } from '../../shared/domain';
import { getApi } from '../api';
import { formatEta } from '../state/format';

/** One job: kind, phase, done/total, a progress bar, the ETA and a cancel button while it runs. */
export function JobProgressLine({ job, compact = false }: { job: JobProgress; compact?: boolean }) {
  const running = job.state === 'running' || job.state === 'queued';
  const pct = job.total > 0 ? Math.round((100 * job.done) / job.total) : 0;
  return (
    <span className={`job job-${job.state}${compact ? ' compact' : ''}`} data-testid={`job-${job.kind}`}>
      <span className="job-text">
        {job.kind}
        {job.phase ? `: ${job.phase}` : ''} {job.total > 0 ? `${job.done}/${job.total} (${pct}%)` : ''}
      </span>
      {running ? (
        <>
          <progress
            value={job.total > 0 ? job.done : undefined}
            max={Math.max(1, job.total)}
            aria-label={`${job.kind} progress`}
          />
          <span className="eta">{formatEta(job.etaSeconds)}</span>
          <button
            type="button"
            data-testid={`cancel-${job.kind}`}
            onClick={() => void getApi().call('jobs.cancel', { jobId: job.jobId })}
          >
            Cancel
          </button>
        </>
      ) : (
        <span className="job-state">
          {job.state}
          {job.error ? `: ${job.error}` : ''}
        </span>
      )}
    </span>
  );
}
