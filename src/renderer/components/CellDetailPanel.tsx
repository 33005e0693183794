import { useEffect, useState } from 'react';
import type { AnnotationEvent, CellDetail, ClassDef } from '../../shared/domain';
import { getApi } from '../api';
import { formatPercent, formatTime } from '../state/format';
import { errorText } from '../state/actions';

/** The focused cell: large crop, label, prediction, morphometrics and the full labeling history. */
export function CellDetailPanel({
  cellId,
  classes,
  version,
}: {
  cellId: number | null;
  classes: ClassDef[];
  version: number;
}) {
  const [detail, setDetail] = useState<{ cell: CellDetail; history: AnnotationEvent[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (cellId == null) return;
    let live = true;
    const api = getApi();
    Promise.all([api.call('cells.get', { id: cellId }), api.call('cells.history', { id: cellId })])
      .then(([cell, history]) => {
        if (!live) return;
        setDetail({ cell, history });
        setError(null);
      })
      .catch((e: unknown) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [cellId, version]);
  if (cellId == null) {
    return (
      <aside className="detail-panel empty-detail" data-testid="cell-detail">
        Focus a cell to see its details and history.
      </aside>
    );
  }
  if (error)
    return (
      <aside className="detail-panel" data-testid="cell-detail">
        {error}
      </aside>
    );
  if (!detail || detail.cell.id !== cellId)
    return <aside className="detail-panel" data-testid="cell-detail" />;
  const { cell, history } = detail;
  const cls = (id: number | null) => classes.find((c) => c.id === id);
  const label = cls(cell.classId);
  const pred = cls(cell.predictedClassId);
  return (
    <aside
      className="detail-panel"
      data-testid="cell-detail"
      data-cell-id={cell.id}
      aria-label={`Cell ${cell.id}`}
    >
      <img className="detail-crop" src={getApi().mediaUrl('thumb', cell.id)} alt={`Cell ${cell.id}`} />
      <h3>Cell {cell.id}</h3>
      <dl>
        <dt>Slide</dt>
        <dd>{cell.imageName}</dd>
        <dt>Label</dt>
        <dd data-testid="detail-label">
          {label ? (
            <>
              <span className="swatch" style={{ background: label.color }} /> {label.name}
            </>
          ) : (
            'unlabeled'
          )}
        </dd>
        <dt>Prediction</dt>
        <dd>{pred ? `${pred.name} (${formatPercent(cell.confidence)})` : '–'}</dd>
        <dt>Kind</dt>
        <dd>
          {cell.kind} · {cell.origin}
          {cell.touchesBorder ? ' · at border' : ''}
        </dd>
        <dt>Area</dt>
        <dd>{cell.morph.area.toFixed(0)} px²</dd>
        <dt>Circularity</dt>
        <dd>{cell.morph.circularity.toFixed(2)}</dd>
        <dt>Box</dt>
        <dd>{cell.bbox.map((v) => Math.round(v)).join(', ')}</dd>
      </dl>
      <h4>History</h4>
      {history.length === 0 ? (
        <p className="muted">Never labeled.</p>
      ) : (
        <ol className="history" data-testid="cell-history">
          {history.map((h) => (
            <li key={h.id}>
              <span className="history-what">
                {h.action === 'apply' ? '' : `${h.action}: `}
                {h.className ?? 'unlabeled'}
              </span>{' '}
              <span className="muted">
                by {h.annotator} · {h.source} · {formatTime(h.createdAt)}
              </span>
            </li>
          ))}
        </ol>
      )}
    </aside>
  );
}
