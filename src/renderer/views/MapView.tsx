import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import DeckGL, { type DeckGLRef } from '@deck.gl/react';
import { OrthographicView, type OrthographicViewState, type PickingInfo } from '@deck.gl/core';
import { ScatterplotLayer } from '@deck.gl/layers';
import type { MapData } from '../../shared/api';
import type { ClassDef } from '../../shared/domain';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText, labelCells } from '../state/actions';
import { classColorTable, fillPointColors, type ColorBy } from '../state/colors';
import { boxFromCorners, pointsInBox, pointsInPolygon, simplifyPath, type Point } from '../state/geometry';
import { classForKey, isTypingTarget } from '../state/keys';
import { formatCount } from '../state/format';
import { ClassBar } from '../components/ClassBar';
import { JobProgressLine } from '../components/JobProgressLine';
import type { CellSource } from '../state/pager';
import { toggled } from '../state/selection';

type Tool = 'pan' | 'lasso' | 'box';
const VIEW = new OrthographicView({ id: 'map', flipY: true });

/** Fits the point cloud into the canvas with a margin. */
function fitView(xy: Float32Array, width: number, height: number): OrthographicViewState {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < xy.length; i += 2) {
    if (xy[i] < minX) minX = xy[i];
    if (xy[i] > maxX) maxX = xy[i];
    if (xy[i + 1] < minY) minY = xy[i + 1];
    if (xy[i + 1] > maxY) maxY = xy[i + 1];
  }
  if (!Number.isFinite(minX)) return { target: [0, 0, 0], zoom: 0 };
  const span = Math.max(maxX - minX, maxY - minY, 1e-6);
  const zoom = Math.log2((0.85 * Math.min(width, height)) / span);
  return { target: [(minX + maxX) / 2, (minY + maxY) / 2, 0], zoom };
}

/**
 * The 2-D map of the embeddings. Bulk data stays in the typed arrays `map.get` returns; React state holds only the
 * view (tool, colouring, selection as an index array). Lasso and box select run over those arrays.
 */
export function MapView({
  activeModelId,
  onOpenInGallery,
}: {
  activeModelId: number | null;
  onOpenInGallery: (s: CellSource) => void;
}) {
  const state = useProject();
  const { classes, labelsVersion, dataVersion, predictionsVersion, jobs, setError } = state;
  const [map, setMap] = useState<MapData | null | undefined>(undefined);
  const [mapJob, setMapJob] = useState<number | null>(null);
  const [colorBy, setColorBy] = useState<ColorBy>('label');
  const [tool, setTool] = useState<Tool>('lasso');
  const [hidden, setHidden] = useState<ReadonlySet<number>>(new Set());
  const [selected, setSelected] = useState<Int32Array>(new Int32Array(0));
  const [path, setPath] = useState<Point[] | null>(null);
  const [hover, setHover] = useState<{ x: number; y: number; index: number } | null>(null);
  const [viewState, setViewState] = useState<OrthographicViewState | null>(null);
  const deckRef = useRef<DeckGLRef>(null);
  const shownMap = useRef<MapData | null>(null);
  const container = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ width: 900, height: 600 });
  useEffect(() => {
    const el = container.current;
    if (!el) return;
    // Round and compare: a sub-pixel flip-flop between two layouts must not re-render forever.
    const ro = new ResizeObserver(() => {
      const next = { width: Math.round(el.clientWidth), height: Math.round(el.clientHeight) };
      setSize((s) => (s.width === next.width && s.height === next.height ? s : next));
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const job = mapJob != null ? jobs.get(mapJob) : undefined;
  const jobRunning = job != null && (job.state === 'running' || job.state === 'queued');

  const load = useCallback(
    () =>
      getApi()
        .call('map.get', { modelId: activeModelId ?? undefined })
        .then(
          (m) => {
            // A reload (new labels, UMAP replacing PCA) may reorder points: carry the selection over by cell id.
            const prev = shownMap.current;
            shownMap.current = m;
            setMap(m);
            setSelected((sel) => {
              if (!prev || !m || sel.length === 0 || prev.cellIds === m.cellIds) return sel;
              const wanted = new Set(Array.from(sel, (i) => prev.cellIds[i]));
              const out: number[] = [];
              for (let i = 0; i < m.cellIds.length; i++) if (wanted.has(m.cellIds[i])) out.push(i);
              return Int32Array.from(out);
            });
          },
          (e: unknown) => {
            setError(errorText(e));
            setMap(null);
          },
        ),
    [activeModelId, setError],
  );
  useEffect(() => {
    void load();
  }, [load, labelsVersion, dataVersion, predictionsVersion]);
  // PCA lands first and UMAP replaces it: while the job runs, look for a newer layout every few seconds.
  useEffect(() => {
    if (!jobRunning) return;
    const t = setInterval(() => void load(), 3000);
    return () => clearInterval(t);
  }, [jobRunning, load]);

  const start = async () => {
    try {
      setMapJob((await getApi().call('map.start', { modelId: activeModelId ?? undefined })).jobId);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const n = map?.cellIds.length ?? 0;
  const visible = useMemo(() => {
    if (!map || hidden.size === 0) return undefined;
    const v = new Uint8Array(map.cellIds.length);
    for (let i = 0; i < v.length; i++) {
      const cls = colorBy === 'prediction' ? map.predicted[i] : map.labels[i];
      v[i] = hidden.has(cls) ? 0 : 1;
    }
    return v;
  }, [map, hidden, colorBy]);
  const colors = useMemo(() => {
    if (!map) return new Uint8Array(0);
    const out = new Uint8Array(map.cellIds.length * 4);
    fillPointColors(out, colorBy, map, classColorTable(classes), visible);
    return out;
  }, [map, colorBy, classes, visible]);

  const selectedXy = useMemo(() => {
    const out = new Float32Array(selected.length * 2);
    if (map)
      for (let j = 0; j < selected.length; j++)
        out.set(map.xy.subarray(2 * selected[j], 2 * selected[j] + 2), 2 * j);
    return out;
  }, [map, selected]);
  const selectedCellIds = useCallback(
    () => (map ? Array.from(selected, (i) => map.cellIds[i]) : []),
    [map, selected],
  );

  const effectiveView =
    viewState ??
    (map
      ? fitView(map.xy, size.width, size.height)
      : { target: [0, 0, 0] as [number, number, number], zoom: 0 });

  const layers = map
    ? [
        new ScatterplotLayer({
          id: 'cells',
          data: {
            length: n,
            attributes: {
              getPosition: { value: map.xy, size: 2 },
              getFillColor: { value: colors, size: 4, normalized: true },
            },
          },
          radiusUnits: 'pixels',
          getRadius: 3,
          radiusMinPixels: 2,
          pickable: true,
          autoHighlight: true,
          highlightColor: [0, 0, 0, 160],
          updateTriggers: { getFillColor: [colors] },
        }),
        new ScatterplotLayer({
          id: 'selected',
          data: { length: selected.length, attributes: { getPosition: { value: selectedXy, size: 2 } } },
          radiusUnits: 'pixels',
          getRadius: 5,
          stroked: true,
          filled: false,
          getLineColor: [255, 64, 0, 255],
          lineWidthUnits: 'pixels',
          getLineWidth: 1.5,
        }),
      ]
    : [];

  const screenPoint = (e: React.PointerEvent): Point => {
    const r = container.current!.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  const toWorld = (p: Point): Point => {
    const vp = deckRef.current?.deck?.getViewports()[0];
    const w = vp ? vp.unproject([p[0], p[1]]) : [p[0], p[1]];
    return [w[0], w[1]];
  };
  const finishSelection = (screen: Point[], extend: boolean) => {
    if (!map) return;
    let hits: Int32Array;
    if (tool === 'box') {
      const a = toWorld(screen[0]);
      const b = toWorld(screen[screen.length - 1]);
      hits = pointsInBox(map.xy, boxFromCorners(a, b), visible);
    } else {
      hits = pointsInPolygon(map.xy, simplifyPath(screen, 3).map(toWorld), visible);
    }
    if (extend) {
      const s = new Set(selected);
      for (const h of hits) s.add(h);
      hits = Int32Array.from(s);
    }
    setSelected(hits);
  };

  const label = async (cls: ClassDef | null) => {
    const ids = selectedCellIds();
    await labelCells(state, ids, cls?.id ?? null, ids.length > 1 ? 'bulk' : 'manual');
  };
  const onKeyDown = (e: React.KeyboardEvent) => {
    if (isTypingTarget(e.target)) return;
    if (e.key === 'Escape') return setSelected(new Int32Array(0));
    if (e.key === 'l' && !e.ctrlKey) return setTool('lasso');
    if (e.key === 'b' && !e.ctrlKey) return setTool('box');
    if (e.key === 'h' && !e.ctrlKey) return setTool('pan');
    const cls = classForKey(classes, e);
    if (cls) {
      e.preventDefault();
      void label(cls);
    }
  };

  const hoverCellId = hover && map ? map.cellIds[hover.index] : null;

  return (
    <main
      className="view map-view"
      data-testid="map-view"
      tabIndex={0}
      onKeyDown={onKeyDown}
      aria-label="Embedding map"
    >
      <div className="toolbar" role="toolbar" aria-label="Map tools">
        <span className="segmented" role="group" aria-label="Tool">
          {(['pan', 'lasso', 'box'] as Tool[]).map((t) => (
            <button
              key={t}
              type="button"
              aria-pressed={tool === t}
              data-testid={`map-tool-${t}`}
              onClick={() => setTool(t)}
            >
              {t === 'pan' ? 'Pan (H)' : t === 'lasso' ? 'Lasso (L)' : 'Box (B)'}
            </button>
          ))}
        </span>
        <label>
          Colour by{' '}
          <select
            data-testid="map-color"
            value={colorBy}
            onChange={(e) => setColorBy(e.target.value as ColorBy)}
          >
            <option value="label">label</option>
            <option value="prediction">prediction</option>
            <option value="confidence">confidence</option>
            <option value="slide">slide</option>
          </select>
        </label>
        <button type="button" onClick={() => setViewState(null)}>
          Fit
        </button>
        <button type="button" data-testid="map-recompute" disabled={jobRunning} onClick={() => void start()}>
          {map ? 'Recompute map' : 'Compute map'}
        </button>
        {job && <JobProgressLine job={job} compact />}
        <span className="spacer" />
        {map && (
          <span className="muted" data-testid="map-info">
            {formatCount(n)} cells · {map.method}
          </span>
        )}
        <span data-testid="map-selection-count">
          {selected.length > 0 ? `${formatCount(selected.length)} selected` : ''}
        </span>
        <button
          type="button"
          data-testid="map-open-gallery"
          disabled={selected.length === 0}
          onClick={() =>
            onOpenInGallery({
              kind: 'ids',
              ids: selectedCellIds(),
              title: `Map selection (${selected.length})`,
            })
          }
        >
          Open in gallery
        </button>
      </div>
      <div className="map-canvas" ref={container} data-testid="map-canvas">
        {map === undefined ? (
          <div className="empty">Loading map…</div>
        ) : map === null ? (
          <div className="empty" data-testid="map-empty">
            <p>No map for this model yet. It needs embedded cells (Models → Embed cells).</p>
            <button
              type="button"
              className="primary"
              data-testid="map-start"
              disabled={jobRunning}
              onClick={() => void start()}
            >
              Compute map
            </button>
            {job && <JobProgressLine job={job} />}
          </div>
        ) : (
          <>
            <DeckGL
              ref={deckRef}
              views={VIEW}
              viewState={effectiveView}
              onViewStateChange={({ viewState: v }) => setViewState(v as OrthographicViewState)}
              controller={{ dragPan: tool === 'pan', scrollZoom: true, doubleClickZoom: false }}
              layers={layers}
              onHover={(info: PickingInfo) =>
                setHover(
                  info.index >= 0 && info.layer?.id === 'cells'
                    ? { x: info.x, y: info.y, index: info.index }
                    : null,
                )
              }
              getCursor={() => (tool === 'pan' ? 'grab' : 'crosshair')}
            />
            {tool !== 'pan' && (
              <div
                className="lasso-overlay"
                data-testid="map-lasso-overlay"
                onPointerDown={(e) => {
                  (e.target as Element).setPointerCapture?.(e.pointerId);
                  setPath([screenPoint(e)]);
                }}
                onPointerMove={(e) => {
                  const p = screenPoint(e);
                  if (path) return setPath([...path, p]);
                  // The overlay hides the canvas from deck's own hover: pick under the pointer here.
                  const info = deckRef.current?.pickObject({
                    x: p[0],
                    y: p[1],
                    radius: 4,
                    layerIds: ['cells'],
                  });
                  setHover(info && info.index >= 0 ? { x: p[0], y: p[1], index: info.index } : null);
                }}
                onPointerLeave={() => setHover(null)}
                onPointerUp={(e) => {
                  if (path) finishSelection([...path, screenPoint(e)], e.shiftKey || e.ctrlKey || e.metaKey);
                  setPath(null);
                }}
                onWheel={() => setTool('pan')}
              >
                {path && path.length > 1 && (
                  <svg className="lasso-path">
                    {tool === 'lasso' ? (
                      <polygon points={path.map((p) => p.join(',')).join(' ')} />
                    ) : (
                      <rect
                        x={Math.min(path[0][0], path[path.length - 1][0])}
                        y={Math.min(path[0][1], path[path.length - 1][1])}
                        width={Math.abs(path[path.length - 1][0] - path[0][0])}
                        height={Math.abs(path[path.length - 1][1] - path[0][1])}
                      />
                    )}
                  </svg>
                )}
              </div>
            )}
            {hover && hoverCellId != null && (
              <div
                className="map-tooltip"
                style={{ left: hover.x + 12, top: hover.y + 12 }}
                data-testid="map-hover"
              >
                <img src={getApi().mediaUrl('thumb', hoverCellId)} alt="" />
                <span>cell {hoverCellId}</span>
              </div>
            )}
          </>
        )}
      </div>
      <ClassBar
        classes={classes}
        stats={state.stats}
        onLabel={(c) => void label(c)}
        disabled={selected.length === 0}
        hidden={hidden}
        onToggleHidden={(id) => setHidden((h) => toggled(h, id))}
      />
    </main>
  );
}
