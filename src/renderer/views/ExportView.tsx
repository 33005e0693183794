import { useCallback, useState } from 'react';
import type { EngineEvent } from '../../shared/api';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText } from '../state/actions';
import { useEngineEvents } from '../state/useEngine';

const FORMATS = [
  { id: 'imagefolder', label: 'ImageFolder (one folder of crops per class + metadata.csv)' },
  { id: 'csv', label: 'CSV (one row per cell)' },
  { id: 'coco', label: 'COCO JSON (boxes and polygons)' },
  { id: 'npy', label: 'Embeddings (.npy + cells.csv)' },
  { id: 'geojson', label: 'GeoJSON for QuPath' },
  { id: 'report', label: 'Report (HTML, PDF, JSON)' },
  { id: 'audit', label: 'Audit trail (CSV)' },
] as const;
type Format = (typeof FORMATS)[number]['id'];

interface ExportResultView {
  out: string;
  files: string[];
  cells: number;
  warnings: string[];
}

/** Export the project as a job: progress, ETA and cancel appear in the status bar like any long job. */
export function ExportView() {
  const state = useProject();
  const [format, setFormat] = useState<Format>('csv');
  const [out, setOut] = useState('');
  const [classes, setClasses] = useState('');
  const [reviewedOnly, setReviewedOnly] = useState(false);
  const [size, setSize] = useState('');
  const [rbc, setRbc] = useState('');
  const [jobId, setJobId] = useState<number | null>(null);
  const [result, setResult] = useState<ExportResultView | null>(null);

  const showResult = useCallback(async (id: number) => {
    const job = (await getApi().call('jobs.list', {})).find((j) => j.id === id);
    if (!job || job.state === 'running' || job.state === 'queued') return false;
    setJobId(null);
    setResult(job.state === 'done' ? (job.result as ExportResultView) : null);
    return true;
  }, []);

  // A small export can finish before export.start has even answered, so the end is read from the job list
  // both on the job's final event and right after starting.
  const onEvent = useCallback(
    (e: EngineEvent) => {
      if (e.type === 'job' && e.progress.kind === 'export' && e.progress.state !== 'running') {
        void showResult(e.progress.jobId);
      }
    },
    [showResult],
  );
  useEngineEvents(onEvent);

  const start = async () => {
    if (!out.trim())
      return state.setError(
        'Enter the folder to export into (it is created, or replaced if it holds an earlier export).',
      );
    setResult(null);
    try {
      const list = classes
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean);
      const r = await getApi().call('export.start', {
        format,
        out: out.trim(),
        classes: list.length ? list : undefined,
        reviewedOnly: reviewedOnly || undefined,
        size: format === 'imagefolder' && size ? Number(size) : undefined,
        rbcPerMicroliter: format === 'report' && rbc ? Number(rbc) : undefined,
      });
      setJobId(r.jobId);
      await showResult(r.jobId);
    } catch (e) {
      state.setError(errorText(e));
    }
  };

  return (
    <main className="view export-view" data-testid="export-view">
      <h2>Export</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <label className="field">
          Format
          <select
            data-testid="export-format"
            value={format}
            onChange={(e) => setFormat(e.target.value as Format)}
          >
            {FORMATS.map((f) => (
              <option key={f.id} value={f.id}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Output folder
          <input
            data-testid="export-out"
            value={out}
            onChange={(e) => setOut(e.target.value)}
            placeholder="/exports/ward3-csv"
          />
        </label>
        <label className="field">
          Only these classes (comma-separated, empty for all)
          <input data-testid="export-classes" value={classes} onChange={(e) => setClasses(e.target.value)} />
        </label>
        <label>
          <input type="checkbox" checked={reviewedOnly} onChange={(e) => setReviewedOnly(e.target.checked)} />{' '}
          Only cells confirmed in review
        </label>
        {format === 'imagefolder' && (
          <label className="field">
            Crop size in px (empty for native size)
            <input
              value={size}
              onChange={(e) => setSize(e.target.value)}
              placeholder="224"
              inputMode="numeric"
            />
          </label>
        )}
        {format === 'report' && (
          <label className="field">
            Patient RBC count per µL (for parasites/µL; optional)
            <input
              value={rbc}
              onChange={(e) => setRbc(e.target.value)}
              placeholder="4500000"
              inputMode="numeric"
            />
          </label>
        )}
        <button type="submit" data-testid="export-start" disabled={jobId != null}>
          {jobId != null ? 'Exporting…' : 'Export'}
        </button>
      </form>
      {result && (
        <section data-testid="export-result">
          <p>
            Wrote {result.files.length} file(s) for {result.cells} cells to {result.out}
          </p>
          <ul>
            {result.files.slice(0, 12).map((f) => (
              <li key={f}>{f}</li>
            ))}
          </ul>
          {result.warnings.map((w) => (
            <p key={w} className="warning">
              {w}
            </p>
          ))}
        </section>
      )}
    </main>
  );
}
