import { useEffect, useMemo, useState } from 'react';
import type { PropagationCandidate } from '../../shared/api';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText, labelCells } from '../state/actions';

/** Lowest similarity fetched; the slider filters within it without another round trip. */
const FLOOR = 0.5;

/**
 * Label propagation from seed cells: their nearest neighbours above a similarity threshold, shown as thumbnails
 * to untick before one `labels.apply` (source 'propagated') labels them all as a single undo step.
 */
export function PropagatePanel({
  seedCellIds,
  activeModelId,
  onClose,
}: {
  seedCellIds: number[];
  activeModelId: number | null;
  onClose: () => void;
}) {
  const state = useProject();
  const { classes, setError } = state;
  const [k, setK] = useState(50);
  const [threshold, setThreshold] = useState(0.9);
  const [candidates, setCandidates] = useState<PropagationCandidate[] | null>(null);
  const [excluded, setExcluded] = useState<ReadonlySet<number>>(new Set());
  const [classId, setClassId] = useState<number | null>(null);
  const [seedClassId, setSeedClassId] = useState<number | null>(null);

  useEffect(() => {
    let live = true;
    const api = getApi();
    api
      .call('propagate.preview', {
        seedCellIds,
        k,
        minSimilarity: FLOOR,
        modelId: activeModelId ?? undefined,
      })
      .then((c) => live && setCandidates(c))
      .catch((e: unknown) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [seedCellIds, k, activeModelId, setError]);
  useEffect(() => {
    let live = true;
    void getApi()
      .call('cells.query', { cellIds: seedCellIds.slice(0, 1000), limit: 1000 })
      .then((cells) => {
        // Default target class: the most common label among the seeds.
        const counts = new Map<number, number>();
        for (const c of cells) if (c.classId != null) counts.set(c.classId, (counts.get(c.classId) ?? 0) + 1);
        const best = [...counts].sort((a, b) => b[1] - a[1])[0];
        if (live) setSeedClassId(best ? best[0] : null);
      });
    return () => {
      live = false;
    };
  }, [seedCellIds]);

  const target = classId ?? seedClassId;
  const shown = useMemo(
    () => (candidates ?? []).filter((c) => c.similarity >= threshold),
    [candidates, threshold],
  );
  const chosen = shown.filter((c) => !excluded.has(c.cellId)).map((c) => c.cellId);

  const commit = async () => {
    if (target == null) return state.notify('Choose the class to propagate.');
    if (await labelCells(state, chosen, target, 'propagated')) onClose();
  };

  return (
    <aside
      className="detail-panel propagate-panel"
      data-testid="propagate-panel"
      aria-label="Label propagation"
    >
      <h3>
        Propagate from {seedCellIds.length} cell{seedCellIds.length === 1 ? '' : 's'}
      </h3>
      <label className="field">
        Class
        <select
          data-testid="propagate-class"
          value={target ?? ''}
          onChange={(e) => setClassId(e.target.value ? Number(e.target.value) : null)}
        >
          <option value="">choose…</option>
          {classes.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        Min. similarity {threshold.toFixed(2)}
        <input
          type="range"
          min={FLOOR}
          max={1}
          step={0.01}
          value={threshold}
          data-testid="propagate-threshold"
          onChange={(e) => setThreshold(Number(e.target.value))}
        />
      </label>
      <label className="field">
        Neighbours per search (k)
        <select value={k} onChange={(e) => setK(Number(e.target.value))}>
          {[20, 50, 100, 200, 500].map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      </label>
      {candidates == null ? (
        <p className="muted">Searching…</p>
      ) : (
        <p data-testid="propagate-count">
          {chosen.length} cells chosen at similarity ≥ {threshold.toFixed(2)}
          {candidates.length > shown.length && (
            <span className="muted">
              {' '}
              ({candidates.length - shown.length} more between {FLOOR.toFixed(2)} and {threshold.toFixed(2)}:
              lower the threshold to see them)
            </span>
          )}
        </p>
      )}
      <div className="candidate-grid">
        {shown.map((c) => (
          <button
            type="button"
            key={c.cellId}
            className={`candidate${excluded.has(c.cellId) ? ' excluded' : ''}`}
            data-testid="propagate-candidate"
            aria-pressed={!excluded.has(c.cellId)}
            title={`Cell ${c.cellId}: similarity ${c.similarity.toFixed(3)}; click to ${excluded.has(c.cellId) ? 'include' : 'exclude'}`}
            onClick={() =>
              setExcluded((s) => {
                const n = new Set(s);
                if (n.has(c.cellId)) n.delete(c.cellId);
                else n.add(c.cellId);
                return n;
              })
            }
          >
            <img src={getApi().mediaUrl('thumb', c.cellId)} alt="" />
            <span>{c.similarity.toFixed(2)}</span>
          </button>
        ))}
      </div>
      <div className="row">
        <button
          type="button"
          className="primary"
          data-testid="propagate-commit"
          disabled={chosen.length === 0 || target == null}
          onClick={() => void commit()}
        >
          Label {chosen.length} cells
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </aside>
  );
}
