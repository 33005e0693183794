import { useCallback, useEffect, useRef, useState } from 'react';
import { suggestStrategies, type Suggestion } from '../../shared/api';
import type { ClassDef } from '../../shared/domain';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText, labelCells } from '../state/actions';
import { classForKey, isTypingTarget } from '../state/keys';
import { formatPercent } from '../state/format';
import { ClassBar } from '../components/ClassBar';
import { CellDetailPanel } from '../components/CellDetailPanel';

type Strategy = (typeof suggestStrategies)[number];
const STRATEGY_LABEL: Record<Strategy, string> = {
  mix: 'mix (recommended)',
  margin: 'uncertain: smallest margin',
  entropy: 'uncertain: highest entropy',
  diversity: 'diverse (k-center)',
  class: 'hunt one class',
  similar: 'more like the last accepted',
  seed: 'cold start seeds',
};
/** Fetch more when fewer than this many remain, so the queue never runs dry mid-session. */
const LOW_WATER = 5;

/**
 * The review queue. A accepts the prediction, X rejects it (remembered for the session), a class key reassigns,
 * space skips. Handled cells never come back in this session even if the engine suggests them again.
 */
export function SuggestionsView({ activeModelId }: { activeModelId: number | null }) {
  const state = useProject();
  const { classes, labelsVersion, predictionsVersion, setError } = state;
  const [strategy, setStrategy] = useState<Strategy>('mix');
  const [huntClassId, setHuntClassId] = useState<number | null>(null);
  const [mode, setMode] = useState<'one' | 'page'>('one');
  const [queue, setQueue] = useState<Suggestion[]>([]);
  const [fetched, setFetched] = useState(false);
  const [counts, setCounts] = useState({ accepted: 0, rejected: 0, reassigned: 0, skipped: 0 });
  const [lastAccepted, setLastAccepted] = useState<number[]>([]);
  const handled = useRef(new Set<number>());
  const root = useRef<HTMLElement>(null);

  const fetchMore = useCallback(
    () =>
      getApi()
        .call('suggest', {
          strategy,
          n: 40,
          classId: strategy === 'class' ? (huntClassId ?? undefined) : undefined,
          seedCellIds: strategy === 'similar' && lastAccepted.length ? lastAccepted.slice(-20) : undefined,
          modelId: activeModelId ?? undefined,
        })
        .then(
          (got) => setQueue(got.filter((s) => !handled.current.has(s.cellId))),
          (e: unknown) => {
            setQueue([]);
            setError(errorText(e));
          },
        )
        .finally(() => setFetched(true)),
    [strategy, huntClassId, lastAccepted, activeModelId, setError],
  );

  // New predictions re-rank the queue; so does a changed strategy.
  useEffect(() => {
    void fetchMore();
    // lastAccepted is read at fetch time; a new accept alone must not reshuffle the queue under the user.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [strategy, huntClassId, activeModelId, predictionsVersion]);
  // Labels from elsewhere (gallery, another window) drop those cells from the queue.
  useEffect(() => {
    if (queue.length < LOW_WATER && labelsVersion > 0) void fetchMore();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labelsVersion]);

  const current = queue[0];
  const page = mode === 'page' ? queue.slice(0, 12) : current ? [current] : [];
  const classById = new Map(classes.map((c) => [c.id, c]));

  const done = (cellIds: number[], what: keyof typeof counts) => {
    for (const id of cellIds) handled.current.add(id);
    setCounts((c) => ({ ...c, [what]: c[what] + cellIds.length }));
    const rest = queue.filter((s) => !handled.current.has(s.cellId));
    setQueue(rest);
    if (rest.length < LOW_WATER) void fetchMore();
  };

  const accept = async (items: Suggestion[]) => {
    const withPred = items.filter((s) => s.predictedClassId != null);
    if (withPred.length === 0)
      return state.notify('No prediction to accept yet: press a class key to label.');
    // One labels.apply per predicted class: each class is one undo step.
    const byClass = new Map<number, number[]>();
    for (const s of withPred)
      byClass.set(s.predictedClassId!, [...(byClass.get(s.predictedClassId!) ?? []), s.cellId]);
    for (const [classId, ids] of byClass) {
      const runId = (withPred[0] as Suggestion & { runId?: number | null }).runId ?? undefined;
      if (!(await labelCells(state, ids, classId, 'suggestion', runId))) return;
    }
    setLastAccepted((l) => [...l, ...withPred.map((s) => s.cellId)].slice(-50));
    done(
      withPred.map((s) => s.cellId),
      'accepted',
    );
  };
  const reassign = async (items: Suggestion[], cls: ClassDef) => {
    const ids = items.map((s) => s.cellId);
    if (await labelCells(state, ids, cls.id, 'manual')) done(ids, 'reassigned');
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (isTypingTarget(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (page.length === 0) return;
    const k = e.key.toLowerCase();
    if (k === 'a') {
      e.preventDefault();
      void accept(page);
    } else if (k === 'x') {
      e.preventDefault();
      done(
        page.map((s) => s.cellId),
        'rejected',
      );
    } else if (e.key === ' ') {
      e.preventDefault();
      done(
        page.map((s) => s.cellId),
        'skipped',
      );
    } else {
      const cls = classForKey(classes, e);
      if (cls) {
        e.preventDefault();
        void reassign(page, cls);
      }
    }
  };

  useEffect(() => {
    root.current?.focus();
  }, []);

  const renderCard = (s: Suggestion, large: boolean) => {
    const pred = s.predictedClassId != null ? classById.get(s.predictedClassId) : undefined;
    return (
      <figure
        key={s.cellId}
        className={`suggestion${large ? ' large' : ''}`}
        data-testid="suggestion"
        data-cell-id={s.cellId}
      >
        <img src={getApi().mediaUrl('thumb', s.cellId)} alt={`Cell ${s.cellId}`} />
        <figcaption>
          <div className="prediction" data-testid="suggestion-prediction">
            {pred ? (
              <>
                <span className="swatch" style={{ background: pred.color }} /> {pred.name}{' '}
                <span className="muted">{formatPercent(s.confidence)}</span>
              </>
            ) : (
              <span className="muted">no prediction yet</span>
            )}
          </div>
          <div className="reason" data-testid="suggestion-reason">
            {s.reason}
          </div>
        </figcaption>
      </figure>
    );
  };

  return (
    <main
      ref={root}
      className="view suggestions-view"
      data-testid="suggestions-view"
      tabIndex={0}
      onKeyDown={onKeyDown}
      aria-label="Review queue"
    >
      <div className="toolbar" role="toolbar" aria-label="Queue options">
        <label>
          Strategy{' '}
          <select
            data-testid="suggest-strategy"
            value={strategy}
            onChange={(e) => setStrategy(e.target.value as Strategy)}
          >
            {suggestStrategies.map((s) => (
              <option key={s} value={s}>
                {STRATEGY_LABEL[s]}
              </option>
            ))}
          </select>
        </label>
        {strategy === 'class' && (
          <label>
            Class{' '}
            <select
              value={huntClassId ?? ''}
              onChange={(e) => setHuntClassId(e.target.value ? Number(e.target.value) : null)}
            >
              <option value="">choose…</option>
              {classes.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Show{' '}
          <select
            data-testid="suggest-mode"
            value={mode}
            onChange={(e) => setMode(e.target.value as 'one' | 'page')}
          >
            <option value="one">one cell at a time</option>
            <option value="page">a page of 12</option>
          </select>
        </label>
        <button type="button" onClick={() => void fetchMore()} data-testid="suggest-refresh">
          Refresh
        </button>
        <span className="spacer" />
        <span className="muted" data-testid="suggest-counts">
          accepted {counts.accepted} · rejected {counts.rejected} · reassigned {counts.reassigned} · skipped{' '}
          {counts.skipped}
        </span>
      </div>
      <div className="suggestions-body">
        <section className="suggestion-stage">
          {page.length === 0 ? (
            <div className="empty" data-testid="suggest-empty">
              {!fetched
                ? 'Finding cells worth a look…'
                : 'No suggestions. Embed cells and label a few first.'}
            </div>
          ) : (
            <div className={mode === 'page' ? 'suggestion-page' : 'suggestion-one'}>
              {page.map((s) => renderCard(s, mode === 'one'))}
            </div>
          )}
          <p className="keys-help">
            <kbd>A</kbd> accept prediction · <kbd>X</kbd> reject · <kbd>Space</kbd> skip · class key reassigns
            · <kbd>Ctrl+Z</kbd> undo
          </p>
          <div className="queue-strip" aria-label="Up next">
            {queue.slice(page.length, page.length + 16).map((s) => (
              <img key={s.cellId} src={getApi().mediaUrl('thumb', s.cellId)} alt="" title={s.reason} />
            ))}
          </div>
          <div className="row">
            <button
              type="button"
              className="primary"
              disabled={page.length === 0}
              data-testid="suggest-accept"
              onClick={() => void accept(page)}
            >
              Accept (A)
            </button>
            <button
              type="button"
              disabled={page.length === 0}
              data-testid="suggest-reject"
              onClick={() =>
                done(
                  page.map((s) => s.cellId),
                  'rejected',
                )
              }
            >
              Reject (X)
            </button>
            <button
              type="button"
              disabled={page.length === 0}
              onClick={() =>
                done(
                  page.map((s) => s.cellId),
                  'skipped',
                )
              }
            >
              Skip (Space)
            </button>
          </div>
        </section>
        <CellDetailPanel cellId={current?.cellId ?? null} classes={classes} version={labelsVersion} />
      </div>
      <ClassBar
        classes={classes}
        stats={state.stats}
        onLabel={(c) => void reassign(page, c)}
        disabled={page.length === 0}
      />
    </main>
  );
}
