import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ClassDef, Slide } from '../../shared/domain';
import { isApiMethod } from '../../shared/api';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText, labelCells } from '../state/actions';
import { CellPager, type CellSort, type CellSource, type PageFetch } from '../state/pager';
import { gridLayout, moveFocus, tilePosition, tilesInBox, visibleRange } from '../state/grid';
import { clickSelect, EMPTY_SELECTION, selectMany, type Selection } from '../state/selection';
import { boxFromCorners, type Box, type Point } from '../state/geometry';
import { classForKey, isTypingTarget } from '../state/keys';
import { formatCount, formatPercent } from '../state/format';
import { ClassBar } from '../components/ClassBar';
import { CellDetailPanel } from '../components/CellDetailPanel';
import { PropagatePanel } from '../components/PropagatePanel';

const SORTS: Array<{ value: CellSort; label: string }> = [
  { value: 'id', label: 'import order' },
  { value: 'image', label: 'slide' },
  { value: 'class', label: 'class' },
  { value: 'confidence', label: 'prediction confidence (high first)' },
  { value: 'uncertainty', label: 'uncertainty (low margin first)' },
];
const DRAG_THRESHOLD = 5;

const pageFetch: PageFetch = {
  query: (args) => getApi().call('cells.query', args),
  async count(filter) {
    // 'cells.count' is requested from the engine; until the contract has it the pager discovers the total page by
    // page. Asking the contract (not the server) avoids a failing request per filter change.
    if (!isApiMethod('cells.count')) return null;
    const call = getApi().call as (m: string, a: unknown) => Promise<unknown>;
    const n = await call('cells.count', filter);
    return typeof n === 'number' ? n : null;
  },
};

export function GalleryView({
  source,
  onSource,
  activeModelId,
}: {
  source: CellSource;
  onSource: (s: CellSource) => void;
  activeModelId: number | null;
}) {
  const state = useProject();
  const { classes, labelsVersion, predictionsVersion, dataVersion, setError } = state;
  const [, setTick] = useState(0);
  const pager = useMemo(() => new CellPager(source, pageFetch, () => setTick((t) => t + 1)), [source]);
  const [slides, setSlides] = useState<Slide[]>([]);
  const [tile, setTile] = useState(96);
  const [viewport, setViewport] = useState({ width: 800, height: 600, scrollTop: 0 });
  const [selection, setSelection] = useState<Selection>(EMPTY_SELECTION);
  const [focus, setFocus] = useState(-1);
  const [drag, setDrag] = useState<{ start: Point; end: Point; extend: boolean } | null>(null);
  const [propagateSeeds, setPropagateSeeds] = useState<number[] | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  /**
   * Labels shown before the engine confirms them, so key, key, key never waits on a round trip (the engine may be
   * busy refitting predictions). An entry counts only on pages fetched no later than the generation it was made in.
   */
  const [pending, setPending] = useState<ReadonlyMap<number, { classId: number | null; gen: number }>>(
    new Map(),
  );

  useEffect(() => {
    void pager.init();
  }, [pager]);
  useEffect(() => {
    void getApi().call('slides.list', {}).then(setSlides);
  }, [dataVersion]);
  const firstRender = useRef(true);
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    pager.invalidate();
  }, [pager, labelsVersion, predictionsVersion, dataVersion]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() =>
      setViewport((v) =>
        v.width === el.clientWidth && v.height === el.clientHeight
          ? v
          : { ...v, width: el.clientWidth, height: el.clientHeight },
      ),
    );
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const total = pager.total;
  const layout = gridLayout(viewport.width - 16, tile, 6, total);
  const range = visibleRange(layout, viewport.scrollTop, viewport.height, total);
  useEffect(() => {
    void pager.ensure(range.first, range.end).catch((e: unknown) => setError(errorText(e)));
    // pager.version: a refetch after invalidate().
  }, [pager, range.first, range.end, pager.version, setError]);

  const focusedCell = focus >= 0 ? pager.get(focus) : undefined;
  const classById = useMemo(() => new Map(classes.map((c) => [c.id, c])), [classes]);
  const selectedIds = useCallback(
    () => (selection.ids.size > 0 ? [...selection.ids] : focusedCell ? [focusedCell.id] : []),
    [selection, focusedCell],
  );

  const scrollIntoView = (index: number) => {
    const el = scroller.current;
    if (!el || index < 0) return;
    const { top } = tilePosition(layout, index);
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + layout.tile > el.scrollTop + el.clientHeight)
      el.scrollTop = top + layout.tile - el.clientHeight;
  };

  const applyLabel = async (cls: ClassDef | null) => {
    const ids = selectedIds();
    if (ids.length === 0) return void labelCells(state, ids, null);
    const single = ids.length === 1 && focusedCell?.id === ids[0];
    const gen = pager.version;
    setPending((p) => {
      const next = new Map(p);
      for (const id of ids) next.set(id, { classId: cls?.id ?? null, gen });
      return next;
    });
    // Labeling one focused cell moves on to the next at once: the fast path is key, key, key.
    if (single && focus + 1 < pager.total) {
      const next = focus + 1;
      setFocus(next);
      const c = pager.get(next);
      setSelection(c ? { ids: new Set([c.id]), anchor: next } : EMPTY_SELECTION);
      scrollIntoView(next);
    }
    const ok = await labelCells(state, ids, cls?.id ?? null);
    if (!ok)
      setPending((p) => {
        const next = new Map(p);
        for (const id of ids) next.delete(id);
        return next;
      });
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (isTypingTarget(e.target)) return;
    const nav = ['ArrowRight', 'ArrowLeft', 'ArrowDown', 'ArrowUp', 'PageDown', 'PageUp', 'Home', 'End'];
    if (nav.includes(e.key)) {
      e.preventDefault();
      const pageRows = Math.max(1, Math.floor(viewport.height / layout.pitch) - 1);
      const next = moveFocus(layout, pager.total, focus, e.key, pageRows);
      setFocus(next);
      const c = pager.get(next);
      if (c) {
        if (e.shiftKey) setSelection((s) => selectMany(s, [c.id], true));
        else setSelection({ ids: new Set([c.id]), anchor: next });
      }
      scrollIntoView(next);
      return;
    }
    if (e.key === 'Escape') {
      setSelection(EMPTY_SELECTION);
      return;
    }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'a') {
      e.preventDefault();
      const ids: number[] = [];
      for (let i = range.first; i < range.end; i++) {
        const c = pager.get(i);
        if (c) ids.push(c.id);
      }
      // Select all loaded is bounded by what is on screen; a million-cell select-all would be a bulk action.
      setSelection(selectMany(EMPTY_SELECTION, ids, false));
      return;
    }
    if (e.key === 'Backspace' || e.key === 'Delete') {
      e.preventDefault();
      void applyLabel(null);
      return;
    }
    const cls = classForKey(classes, e);
    if (cls) {
      e.preventDefault();
      void applyLabel(cls);
    }
  };

  const contentPoint = (e: React.PointerEvent): Point => {
    const el = scroller.current!;
    const r = el.getBoundingClientRect();
    return [e.clientX - r.left - 8 + el.scrollLeft, e.clientY - r.top - 8 + el.scrollTop];
  };
  const indexAt = (p: Point): number => {
    const hits = tilesInBox(layout, total, { minX: p[0], minY: p[1], maxX: p[0], maxY: p[1] });
    return hits.length ? hits[0] : -1;
  };
  const onPointerDown = (e: React.PointerEvent) => {
    if (e.button !== 0) return;
    scroller.current?.focus();
    const p = contentPoint(e);
    setDrag({ start: p, end: p, extend: e.shiftKey || e.ctrlKey || e.metaKey });
    (e.target as Element).setPointerCapture?.(e.pointerId);
  };
  const onPointerMove = (e: React.PointerEvent) => {
    if (drag) setDrag({ ...drag, end: contentPoint(e) });
  };
  const onPointerUp = async (e: React.PointerEvent) => {
    if (!drag) return;
    const end = contentPoint(e);
    setDrag(null);
    const moved = Math.hypot(end[0] - drag.start[0], end[1] - drag.start[1]) > DRAG_THRESHOLD;
    if (moved) {
      const hits = tilesInBox(layout, total, boxFromCorners(drag.start, end));
      const ids = hits.map((i) => pager.get(i)?.id).filter((id): id is number => id != null);
      setSelection((s) => selectMany(s, ids, drag.extend));
      return;
    }
    const i = indexAt(end);
    const c = i >= 0 ? pager.get(i) : undefined;
    if (!c) {
      if (!drag.extend) setSelection(EMPTY_SELECTION);
      return;
    }
    setFocus(i);
    const mods = { shift: e.shiftKey, toggle: e.ctrlKey || e.metaKey };
    if (mods.shift && selection.anchor != null) {
      const lo = Math.min(selection.anchor, i);
      const hi = Math.max(selection.anchor, i);
      const ids = await pager.idsInRange(lo, hi);
      setSelection((s) => clickSelect(s, i, c.id, mods, () => ids));
    } else setSelection((s) => clickSelect(s, i, c.id, mods, () => []));
  };

  const sortBySimilarity = async () => {
    const seeds = selectedIds();
    if (seeds.length === 0) return state.notify('Select one or more cells to sort by similarity to them.');
    try {
      const found = await getApi().call('suggest', {
        strategy: 'similar',
        seedCellIds: seeds,
        n: 1000,
        modelId: activeModelId ?? undefined,
      });
      onSource({
        kind: 'ids',
        ids: [...seeds, ...found.map((s) => s.cellId).filter((id) => !seeds.includes(id))],
        title: `Similar to ${seeds.length} selected`,
      });
    } catch (e) {
      state.setError(errorText(e));
    }
  };

  const filter = source.kind === 'query' ? source.filter : null;
  const setFilter = (patch: Partial<NonNullable<typeof filter>>, sort?: CellSort) => {
    const base =
      source.kind === 'query' ? source : { kind: 'query' as const, filter: {}, sort: 'id' as const };
    onSource({ kind: 'query', filter: { ...base.filter, ...patch }, sort: sort ?? base.sort });
    setSelection(EMPTY_SELECTION);
    setFocus(-1);
    if (scroller.current) scroller.current.scrollTop = 0;
  };

  const dragBox: Box | null = drag ? boxFromCorners(drag.start, drag.end) : null;
  const tiles = [];
  for (let i = range.first; i < range.end; i++) {
    const c = pager.get(i);
    const { left, top } = tilePosition(layout, i);
    const style = { left, top, width: tile, height: tile };
    if (!c) {
      tiles.push(<div key={`p${i}`} className="tile placeholder" style={style} />);
      continue;
    }
    const guess = pending.get(c.id);
    const gen = pager.generationAt(i);
    const classId = guess && gen != null && gen <= guess.gen ? guess.classId : c.classId;
    const label = classId != null ? classById.get(classId) : undefined;
    const pred = c.predictedClassId != null ? classById.get(c.predictedClassId) : undefined;
    const selected = selection.ids.has(c.id);
    tiles.push(
      <div
        key={c.id}
        className={`tile${selected ? ' selected' : ''}${i === focus ? ' focused' : ''}`}
        style={{ ...style, borderColor: label?.color }}
        data-testid="gallery-tile"
        data-cell-id={c.id}
        data-index={i}
        data-label={label?.name ?? ''}
        aria-selected={selected}
        role="gridcell"
        title={`Cell ${c.id}${label ? ` · ${label.name}` : ''}${pred ? ` · predicted ${pred.name} ${formatPercent(c.confidence)}` : ''}`}
      >
        <img src={getApi().mediaUrl('thumb', c.id)} alt="" draggable={false} loading="lazy" />
        {label && (
          <span className="tile-label" style={{ background: label.color }}>
            {label.hotkey ?? label.name.slice(0, 2)}
          </span>
        )}
        {!label && pred && (
          <span className="tile-pred" style={{ borderColor: pred.color }} title={`predicted ${pred.name}`}>
            {formatPercent(c.confidence)}
          </span>
        )}
      </div>,
    );
  }

  return (
    <main className="view gallery-view" data-testid="gallery-view">
      <div className="toolbar" role="toolbar" aria-label="Gallery filters">
        {source.kind === 'ids' ? (
          <>
            <strong data-testid="gallery-source">{source.title}</strong>
            <span className="muted">{formatCount(source.ids.length)} cells</span>
            <button type="button" onClick={() => setFilter({})} data-testid="gallery-show-all">
              Back to all cells
            </button>
          </>
        ) : (
          <>
            <label>
              Slide{' '}
              <select
                data-testid="gallery-slide"
                value={filter?.imageIds?.[0] ?? ''}
                onChange={(e) =>
                  setFilter({ imageIds: e.target.value ? [Number(e.target.value)] : undefined })
                }
              >
                <option value="">all</option>
                {slides.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Class{' '}
              <select
                data-testid="gallery-class"
                value={filter?.classIds?.[0] ?? ''}
                onChange={(e) =>
                  setFilter({ classIds: e.target.value ? [Number(e.target.value)] : undefined })
                }
              >
                <option value="">any</option>
                {classes.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Show{' '}
              <select
                data-testid="gallery-labeled"
                value={filter?.labeled ?? 'any'}
                onChange={(e) => setFilter({ labeled: e.target.value as 'any' | 'labeled' | 'unlabeled' })}
              >
                <option value="any">all cells</option>
                <option value="unlabeled">unlabeled</option>
                <option value="labeled">labeled</option>
              </select>
            </label>
            <label>
              Sort by{' '}
              <select
                data-testid="gallery-sort"
                value={source.sort}
                onChange={(e) => setFilter({}, e.target.value as CellSort)}
              >
                {SORTS.map((s) => (
                  <option key={s.value} value={s.value}>
                    {s.label}
                  </option>
                ))}
              </select>
            </label>
          </>
        )}
        <button type="button" onClick={() => void sortBySimilarity()} data-testid="gallery-similar">
          Most similar to selection
        </button>
        <button
          type="button"
          data-testid="gallery-propagate"
          onClick={() => {
            const seeds = selectedIds();
            if (seeds.length) setPropagateSeeds(seeds);
            else state.notify('Select the seed cells to propagate from.');
          }}
        >
          Propagate label…
        </button>
        <label>
          Size{' '}
          <input
            type="range"
            min={48}
            max={192}
            step={8}
            value={tile}
            onChange={(e) => setTile(Number(e.target.value))}
            aria-label="Thumbnail size"
          />
        </label>
        <span className="spacer" />
        <span data-testid="gallery-selection-count">
          {selection.ids.size > 0 ? `${formatCount(selection.ids.size)} selected` : ''}
        </span>
        <span className="muted" data-testid="gallery-total">
          {formatCount(total)}
          {pager.totalIsExact ? '' : '+'} cells
        </span>
      </div>
      <div className="gallery-body">
        <div
          ref={scroller}
          className="grid-scroller"
          tabIndex={0}
          role="grid"
          aria-label="Cell thumbnails"
          aria-multiselectable
          data-testid="gallery-grid"
          onKeyDown={onKeyDown}
          onScroll={(e) => {
            const top = e.currentTarget.scrollTop;
            setViewport((v) => ({ ...v, scrollTop: top }));
          }}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={(e) => void onPointerUp(e)}
        >
          {total === 0 && pager.totalIsExact ? (
            <div className="empty" data-testid="gallery-empty">
              No cells match. Import slides, or change the filter.
            </div>
          ) : (
            <div className="grid-content" style={{ height: layout.height }}>
              {tiles}
              {dragBox && (
                <div
                  className="drag-box"
                  style={{
                    left: dragBox.minX,
                    top: dragBox.minY,
                    width: dragBox.maxX - dragBox.minX,
                    height: dragBox.maxY - dragBox.minY,
                  }}
                />
              )}
            </div>
          )}
        </div>
        {propagateSeeds ? (
          <PropagatePanel
            seedCellIds={propagateSeeds}
            activeModelId={activeModelId}
            onClose={() => setPropagateSeeds(null)}
          />
        ) : (
          <CellDetailPanel cellId={focusedCell?.id ?? null} classes={classes} version={labelsVersion} />
        )}
      </div>
      <ClassBar classes={classes} stats={state.stats} onLabel={(c) => void applyLabel(c)} />
    </main>
  );
}
