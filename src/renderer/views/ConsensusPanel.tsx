import { useCallback, useEffect, useRef, useState } from 'react';
import type { ClassDef } from '../../shared/domain';
import type { Disagreement, ReaderAgreement } from '../../shared/review';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText, undoLabels } from '../state/actions';
import { classForKey, isTypingTarget } from '../state/keys';

const kappaText = (k: number | null) => (k == null ? 'undefined' : k.toFixed(3));

/**
 * Agreement between two readers of a session (Cohen's kappa overall and one-vs-rest per class) and the queue of
 * cells they decided differently. A selected disagreement is settled with one class key (N: none of the
 * classes); the consensus becomes the cell's label (source 'review'), so Ctrl+Z or Undo takes it back.
 * `onSettlingChange` tells the session view when class keys belong to this panel rather than to its own queue.
 */
export function ConsensusPanel(props: {
  sessionId: number;
  classes: ClassDef[];
  onSettlingChange: (settling: boolean) => void;
}) {
  const { sessionId, classes, onSettlingChange } = props;
  const state = useProject();
  const { labelsVersion, setError, notify } = state;
  const api = getApi();
  const [readers, setReaders] = useState({ a: '', b: '' });
  const [pair, setPair] = useState<{ a: string; b: string } | null>(null);
  const [agreement, setAgreement] = useState<ReaderAgreement | null>(null);
  const [queue, setQueue] = useState<Disagreement[]>([]);
  const [selected, setSelected] = useState<number | null>(null);
  const [lastBatch, setLastBatch] = useState<number | null>(null);
  // Set by "Compute": the next load selects the first unsettled disagreement.
  const selectFirst = useRef(false);

  const fail = useCallback((e: unknown) => setError(errorText(e)), [setError]);
  const fetchPair = useCallback(
    (p: { a: string; b: string }) => {
      const args = { sessionId, readerA: p.a, readerB: p.b };
      return Promise.all([api.call('review.agreement', args), api.call('review.disagreements', args)]);
    },
    [api, sessionId],
  );
  const load = useCallback(
    async (p: { a: string; b: string }) => {
      const [ag, q] = await fetchPair(p);
      setAgreement(ag);
      setQueue(q);
      return q;
    },
    [fetchPair],
  );

  // A new pair, or labels changed elsewhere (Ctrl+Z withdraws a consensus): refresh what is shown. The parent
  // keys this panel by session, so another session starts from a fresh panel.
  useEffect(() => {
    if (!pair) return;
    let live = true;
    void fetchPair(pair).then(([ag, q]) => {
      if (!live) return;
      setAgreement(ag);
      setQueue(q);
      const first = selectFirst.current ? (q.find((d) => !d.consensus)?.cellId ?? null) : null;
      selectFirst.current = false;
      setSelected((s) => (s != null && q.some((d) => d.cellId === s) ? s : first));
    }, fail);
    return () => {
      live = false;
    };
  }, [pair, labelsVersion, fetchPair, fail]);
  useEffect(() => {
    onSettlingChange(selected != null);
    // Unmounted (another session opened): class keys go back to the queue.
    return () => onSettlingChange(false);
  }, [selected, onSettlingChange]);

  const compute = () => {
    selectFirst.current = true;
    setSelected(null);
    setPair({ a: readers.a.trim(), b: readers.b.trim() });
  };

  const settle = useCallback(
    async (classId: number | null) => {
      if (selected == null || !pair) return;
      try {
        const r = await api.call('review.settle', { sessionId, cellId: selected, classId });
        setLastBatch(r.batchId);
        const at = queue.findIndex((d) => d.cellId === selected);
        const q = await load(pair);
        // Move on to the next unsettled cell after this one, wrapping round; none left: nothing selected.
        const order = [...q.slice(at + 1), ...q.slice(0, at + 1)];
        setSelected(order.find((d) => !d.consensus)?.cellId ?? null);
        const name = classId == null ? 'none of the classes' : classes.find((c) => c.id === classId)?.name;
        notify(`Consensus: ${name}.${r.batchId ? ' Ctrl+Z undoes.' : ' (The cell already had that label.)'}`);
      } catch (e) {
        fail(e);
      }
    },
    [api, sessionId, selected, pair, queue, load, classes, notify, fail],
  );

  useEffect(() => {
    if (selected == null) return;
    const onKey = (e: KeyboardEvent) => {
      if (isTypingTarget(e.target)) return;
      if (e.key === 'Escape') {
        setSelected(null);
        onSettlingChange(false);
        return;
      }
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const i = queue.findIndex((d) => d.cellId === selected);
        const j = Math.max(0, Math.min(queue.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
        setSelected(queue[j]?.cellId ?? null);
        return;
      }
      if (e.key.toUpperCase() === 'N' && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        void settle(null);
        return;
      }
      const cls = classForKey(classes, e);
      if (cls) {
        e.preventDefault();
        void settle(cls.id);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [selected, queue, classes, settle, onSettlingChange]);

  const cls = (id: number | null | undefined) => (id == null ? null : classes.find((c) => c.id === id));
  const label = (id: number | null | undefined) => (id == null ? 'none' : (cls(id)?.name ?? `class ${id}`));
  const swatch = (id: number | null | undefined) => (
    <span className="swatch" style={{ background: cls(id)?.color ?? 'transparent' }} />
  );
  const settled = queue.filter((d) => d.consensus).length;

  return (
    <section data-testid="consensus-panel">
      <h3>Agreement and consensus</h3>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          compute();
        }}
      >
        <input
          placeholder="first reader"
          data-testid="review-reader-a"
          value={readers.a}
          onChange={(e) => setReaders({ ...readers, a: e.target.value })}
        />
        <input
          placeholder="second reader"
          data-testid="review-reader-b"
          value={readers.b}
          onChange={(e) => setReaders({ ...readers, b: e.target.value })}
        />
        <button
          type="submit"
          data-testid="review-agreement"
          disabled={!readers.a.trim() || !readers.b.trim()}
        >
          Compute kappa
        </button>
      </form>
      {agreement && (
        <>
          <p data-testid="review-kappa">
            {agreement.n} cells, {agreement.disagreements} disagreements, Cohen&apos;s kappa{' '}
            {kappaText(agreement.overall.kappa)}
          </p>
          <table className="table" data-testid="kappa-table">
            <thead>
              <tr>
                <th>Class</th>
                <th>{agreement.readerA}</th>
                <th>{agreement.readerB}</th>
                <th>kappa (one vs rest)</th>
              </tr>
            </thead>
            <tbody>
              <tr data-testid="kappa-overall">
                <td>
                  <strong>Overall</strong> (observed {(agreement.overall.observed * 100).toFixed(1)}%, chance{' '}
                  {(agreement.overall.expected * 100).toFixed(1)}%)
                </td>
                <td>{agreement.n}</td>
                <td>{agreement.n}</td>
                <td>{kappaText(agreement.overall.kappa)}</td>
              </tr>
              {agreement.perClass.map((c) => (
                <tr key={c.classId} data-testid="kappa-class" data-class-id={c.classId}>
                  <td>
                    {swatch(c.classId)} {c.className}
                  </td>
                  <td>{c.countA}</td>
                  <td>{c.countB}</td>
                  <td>{kappaText(c.kappa)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h4>
            Disagreements — {settled} of {queue.length} settled
          </h4>
          {queue.length > 0 && (
            <p className="muted">
              Select a cell, then press a class key to settle it (<kbd>N</kbd> none of the classes, arrows
              move, <kbd>Esc</kbd> stops). <kbd>Ctrl</kbd>+<kbd>Z</kbd> undoes.{' '}
              <button
                type="button"
                data-testid="consensus-undo"
                disabled={lastBatch == null}
                onClick={() =>
                  void undoLabels(state).then(() => {
                    setLastBatch(null);
                    if (pair) return load(pair);
                  }, fail)
                }
              >
                Undo last consensus
              </button>
            </p>
          )}
          <ul className="disagreements" style={{ listStyle: 'none', padding: 0 }}>
            {queue.map((d) => (
              <li
                key={d.cellId}
                data-testid="disagreement"
                data-cell-id={d.cellId}
                data-settled={d.consensus ? 'yes' : 'no'}
                aria-selected={selected === d.cellId}
                className={selected === d.cellId ? 'selected' : undefined}
                onClick={() => setSelected(d.cellId)}
                style={{
                  display: 'flex',
                  gap: 12,
                  alignItems: 'center',
                  padding: 4,
                  cursor: 'pointer',
                  outline: selected === d.cellId ? '2px solid var(--focus)' : undefined,
                }}
              >
                <img src={api.mediaUrl('thumb', d.cellId)} alt={`cell ${d.cellId}`} width={64} height={64} />
                <span>
                  #{d.position + 1} · {agreement.readerA}: {swatch(d.decisionA)} {label(d.decisionA)} ·{' '}
                  {agreement.readerB}: {swatch(d.decisionB)} {label(d.decisionB)}
                  <br />
                  {d.consensus ? (
                    <span data-testid="consensus">
                      consensus: {swatch(d.consensus.classId)} <strong>{label(d.consensus.classId)}</strong>{' '}
                      by {d.consensus.decidedBy}
                    </span>
                  ) : (
                    <span className="muted">not settled</span>
                  )}
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
