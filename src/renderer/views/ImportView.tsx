import { useState } from 'react';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText } from '../state/actions';
import { JobProgressLine } from '../components/JobProgressLine';

/** Paths of dropped files where the host exposes them (older Electron `File.path`); browsers expose none. */
export function droppedPaths(files: FileList | null): string[] {
  const out: string[] = [];
  for (const f of Array.from(files ?? [])) {
    const p = (f as File & { path?: unknown }).path;
    if (typeof p === 'string' && p) out.push(p);
  }
  return out;
}

/**
 * Import smear fields or cell crops by path. Paths come from the native picker (desktop), a drop onto the window
 * where the host tells file paths, or the text field (always: the browser host and sandboxed drops know no paths).
 */
export function ImportView({ initialPaths, onDone }: { initialPaths: string[]; onDone: () => void }) {
  const state = useProject();
  const api = getApi();
  const [text, setText] = useState(initialPaths.join('\n'));
  const [as, setAs] = useState<'fields' | 'crops'>('fields');
  const [cellsFrom, setCellsFrom] = useState<'segmentation' | 'annotations'>('segmentation');
  const [source, setSource] = useState('');
  const [subject, setSubject] = useState('');
  const [jobId, setJobId] = useState<number | null>(null);
  const [dropNote, setDropNote] = useState<string | null>(null);
  const paths = text
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  const job = jobId != null ? state.jobs.get(jobId) : undefined;
  const running = job != null && (job.state === 'running' || job.state === 'queued');

  const pick = async (directory: boolean) => {
    const picked = await api.pickPaths?.({ directory, title: directory ? 'Import folder' : 'Import images' });
    if (picked?.length) setText((t) => [t.trim(), ...picked].filter(Boolean).join('\n'));
  };
  const start = async () => {
    if (paths.length === 0) return state.setError('Enter at least one file or folder path to import.');
    try {
      const r = await api.call('ingest.start', {
        paths,
        as,
        cellsFrom,
        source: source.trim() || undefined,
        subject: subject.trim() || undefined,
      });
      setJobId(r.jobId);
    } catch (e) {
      state.setError(errorText(e));
    }
  };
  return (
    <main
      className="view import-view"
      data-testid="import-view"
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        const dropped = droppedPaths(e.dataTransfer.files);
        if (dropped.length) setText((t) => [t.trim(), ...dropped].filter(Boolean).join('\n'));
        else if (e.dataTransfer.files.length)
          setDropNote(
            'This window cannot read the location of dropped files: paste or type their folder path.',
          );
      }}
    >
      <h2>Import</h2>
      <p className="muted">
        One path per line: image files (JPEG, PNG, TIFF, BMP) or folders. Drop files here, paste paths, or use
        the picker.
      </p>
      <label className="field">
        Files and folders
        <textarea
          data-testid="import-paths"
          rows={5}
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="/data/smears/ward3"
        />
      </label>
      {dropNote && <p className="warn">{dropNote}</p>}
      <div className="row">
        {api.pickPaths && (
          <>
            <button type="button" onClick={() => void pick(false)}>
              Choose files…
            </button>
            <button type="button" onClick={() => void pick(true)}>
              Choose folder…
            </button>
          </>
        )}
      </div>
      <fieldset className="row">
        <legend>Images are</legend>
        <label>
          <input type="radio" name="as" checked={as === 'fields'} onChange={() => setAs('fields')} /> smear
          fields (find the cells)
        </label>
        <label>
          <input type="radio" name="as" checked={as === 'crops'} onChange={() => setAs('crops')} />{' '}
          single-cell crops
        </label>
      </fieldset>
      {as === 'fields' && (
        <fieldset className="row">
          <legend>Cells from</legend>
          <label>
            <input
              type="radio"
              name="cellsFrom"
              checked={cellsFrom === 'segmentation'}
              onChange={() => setCellsFrom('segmentation')}
            />{' '}
            segmentation
          </label>
          <label>
            <input
              type="radio"
              name="cellsFrom"
              checked={cellsFrom === 'annotations'}
              onChange={() => setCellsFrom('annotations')}
            />{' '}
            annotation files beside the images
          </label>
        </fieldset>
      )}
      <div className="row">
        <label className="field">
          Source (site, scanner)
          <input value={source} onChange={(e) => setSource(e.target.value)} data-testid="import-source" />
        </label>
        <label className="field">
          Subject / patient code
          <input value={subject} onChange={(e) => setSubject(e.target.value)} />
        </label>
      </div>
      <div className="row">
        <button
          type="button"
          className="primary"
          data-testid="import-start"
          disabled={running}
          onClick={() => void start()}
        >
          Import {paths.length > 0 ? `${paths.length} path${paths.length === 1 ? '' : 's'}` : ''}
        </button>
        {job && !running && (
          <button type="button" onClick={onDone} data-testid="import-done">
            Show slides
          </button>
        )}
      </div>
      {job && (
        <div className="job-panel" data-testid="import-progress">
          <JobProgressLine job={job} />
        </div>
      )}
    </main>
  );
}
