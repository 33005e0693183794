import { useCallback, useEffect, useRef, useState } from 'react';
import type { ClassDef } from '../../shared/domain';
import type {
  ReviewFilter,
  ReviewItem,
  ReviewProgress,
  ReviewSession,
  SlideSignoffStatus,
} from '../../shared/review';
import type { Slide } from '../../shared/domain';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText } from '../state/actions';
import { classForKey, isTypingTarget } from '../state/keys';
import { ConsensusPanel } from './ConsensusPanel';

type FilterKind = 'unlabeled' | 'qc-sample' | 'predicted';

/**
 * Review sessions: create one from a filter, work its queue with class keys (N = "none of the classes"), see
 * agreement between two readers and settle disagreements, and sign slides off.
 */
export function ReviewSessionsView() {
  const state = useProject();
  const api = getApi();
  const [sessions, setSessions] = useState<ReviewSession[]>([]);
  const [classes, setClasses] = useState<ClassDef[]>([]);
  const [name, setName] = useState('');
  const [mode, setMode] = useState<'single' | 'blind'>('single');
  const [kind, setKind] = useState<FilterKind>('qc-sample');
  const [n, setN] = useState('50');
  const [predictedClass, setPredictedClass] = useState('');
  const [active, setActive] = useState<number | null>(null);
  const [item, setItem] = useState<ReviewItem | null>(null);
  const [progress, setProgress] = useState<ReviewProgress | null>(null);
  // While a disagreement is selected in the consensus panel, class keys settle it instead of deciding here.
  // Whether the consensus panel owns the class keys; a ref, so a key pressed right after the panel lets go (Esc)
  // already reaches this view's queue, before React re-registers the listener below.
  const settling = useRef(false);
  const onSettlingChange = useCallback((v: boolean) => {
    settling.current = v;
  }, []);
  const [slides, setSlides] = useState<Array<Slide & { signoff?: SlideSignoffStatus }>>([]);

  const fail = useCallback((e: unknown) => state.setError(errorText(e)), [state]);
  const reload = useCallback(async () => {
    setSessions(await api.call('review.list', {}));
    setClasses(await api.call('classes.list', {}));
    setSlides(await api.call('slides.list', {}));
  }, [api]);
  useEffect(() => {
    let live = true;
    void Promise.all([
      api.call('review.list', {}),
      api.call('classes.list', {}),
      api.call('slides.list', {}),
    ]).then(([s, c, sl]) => {
      if (!live) return;
      setSessions(s);
      setClasses(c);
      setSlides(sl);
    }, fail);
    return () => {
      live = false;
    };
  }, [api, fail]);

  const open = useCallback(
    async (sessionId: number) => {
      setActive(sessionId);
      setItem(await api.call('review.next', { sessionId }));
      setProgress(await api.call('review.progress', { sessionId }));
    },
    [api],
  );

  const create = async () => {
    try {
      const filter: ReviewFilter =
        kind === 'unlabeled'
          ? { kind: 'unlabeled' }
          : kind === 'qc-sample'
            ? { kind: 'qc-sample', n: Math.max(1, Number(n) || 50), seed: Date.now() % 100000 }
            : { kind: 'predicted', classIds: [Number(predictedClass)] };
      const s = await api.call('review.create', { name: name.trim() || 'Review', mode, filter });
      await reload();
      await open(s.id);
    } catch (e) {
      fail(e);
    }
  };

  const decide = useCallback(
    async (classId: number | null) => {
      if (active == null || !item) return;
      try {
        await api.call('review.decide', { sessionId: active, cellId: item.cellId, classId });
        await open(active);
      } catch (e) {
        fail(e);
      }
    },
    [active, item, api, open, fail],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!item || settling.current || isTypingTarget(e.target)) return;
      if (e.key.toUpperCase() === 'N' && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        void decide(null);
        return;
      }
      const cls = classForKey(classes, e);
      if (cls) {
        e.preventDefault();
        void decide(cls.id);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [item, classes, decide]);

  const className = (id: number | null | undefined) =>
    id == null ? 'none' : (classes.find((c) => c.id === id)?.name ?? `class ${id}`);

  return (
    <main className="view review-sessions-view" data-testid="review-sessions-view">
      <section>
        <h2>New review session</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <input
            data-testid="review-name"
            placeholder="Session name"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <select
            data-testid="review-kind"
            value={kind}
            onChange={(e) => setKind(e.target.value as FilterKind)}
          >
            <option value="qc-sample">Random QC sample</option>
            <option value="unlabeled">All unlabeled cells</option>
            <option value="predicted">Cells predicted as a class</option>
          </select>
          {kind === 'qc-sample' && (
            <input
              data-testid="review-n"
              value={n}
              onChange={(e) => setN(e.target.value)}
              inputMode="numeric"
            />
          )}
          {kind === 'predicted' && (
            <select value={predictedClass} onChange={(e) => setPredictedClass(e.target.value)}>
              <option value="">class…</option>
              {classes.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          )}
          <label>
            <input
              type="checkbox"
              data-testid="review-blind"
              checked={mode === 'blind'}
              onChange={(e) => setMode(e.target.checked ? 'blind' : 'single')}
            />{' '}
            Blind second reader
          </label>
          <button type="submit" data-testid="review-create">
            Create
          </button>
        </form>
        <ul>
          {sessions.map((s) => (
            <li key={s.id}>
              <button
                type="button"
                className="link"
                data-testid="review-session"
                onClick={() => void open(s.id).catch(fail)}
              >
                {s.name} ({s.mode}, {s.itemCount} cells)
              </button>
            </li>
          ))}
        </ul>
      </section>
      {active != null && (
        <section data-testid="review-queue">
          <h2>Queue {progress && `— ${progress.decided} of ${progress.total} decided`}</h2>
          {progress && <progress value={progress.decided} max={Math.max(1, progress.total)} />}
          {item ? (
            <div className="review-item" data-testid="review-item" data-cell-id={item.cellId}>
              <img
                src={api.mediaUrl('thumb', item.cellId)}
                alt={`cell ${item.cellId}`}
                width={160}
                height={160}
              />
              {!item.blind && (
                <p>
                  label: {className(item.currentClassId)} · predicted: {className(item.predictedClassId)}
                  {item.confidence != null && ` (${item.confidence.toFixed(2)})`}
                </p>
              )}
              <p>Press a class key to decide, N for none of the classes.</p>
            </div>
          ) : (
            <p data-testid="review-done">Nothing left to review for you in this session.</p>
          )}
          <ConsensusPanel
            key={active}
            sessionId={active}
            classes={classes}
            onSettlingChange={onSettlingChange}
          />
        </section>
      )}
      <section>
        <h2>Sign slides</h2>
        <ul>
          {slides.map((s) => (
            <li key={s.id}>
              {s.name}{' '}
              <button
                type="button"
                onClick={() =>
                  void api
                    .call('slides.sign', { imageId: s.id })
                    .then(() => state.notify(`Signed ${s.name}.`), fail)
                }
              >
                Sign
              </button>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
