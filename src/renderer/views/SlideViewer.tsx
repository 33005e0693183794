import { useEffect, useMemo, useRef, useState } from 'react';
import DeckGL, { type DeckGLRef } from '@deck.gl/react';
import { OrthographicView, type OrthographicViewState, type PickingInfo } from '@deck.gl/core';
import { BitmapLayer, PathLayer, PolygonLayer } from '@deck.gl/layers';
import { TileLayer } from '@deck.gl/geo-layers';
import type { CellDetail, CellSummary, ClassDef, Slide } from '../../shared/domain';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText, labelCells } from '../state/actions';
import { hexToRgba, NONE_RGBA, type Rgba } from '../state/colors';
import { classForKey, isTypingTarget } from '../state/keys';
import { ClassBar } from '../components/ClassBar';
import { CellDetailPanel } from '../components/CellDetailPanel';
import { toggled } from '../state/selection';
import { pyramidLevels, TILE_SIZE, usesTiles } from '../../shared/pyramid';

const VIEW = new OrthographicView({ id: 'slide', flipY: true });

function fit(slide: Slide, width: number, height: number): OrthographicViewState {
  const zoom = Math.log2(Math.min(width / slide.width, height / slide.height) * 0.95);
  return { target: [slide.width / 2, slide.height / 2, 0], zoom, minZoom: zoom - 2, maxZoom: 6 };
}

/**
 * The field image: one bitmap, or for fields too large for one texture the engine's tile pyramid through a
 * TileLayer. deck.gl's tile zoom z maps to pyramid level -z (z 0 = full resolution, each step down halves), so
 * only the tiles in view at about screen resolution are fetched.
 */
function fieldLayer(slide: Slide, onTileError: (msg: string) => void, onTilesShown: () => void) {
  const api = getApi();
  if (!usesTiles(slide.width, slide.height)) {
    return new BitmapLayer({
      id: 'field',
      image: api.mediaUrl('image', slide.id),
      bounds: [0, slide.height, slide.width, 0],
    });
  }
  const levels = pyramidLevels(slide.width, slide.height);
  return new TileLayer<ImageBitmap | null>({
    id: `field-tiles-${slide.id}`,
    tileSize: TILE_SIZE,
    extent: [0, 0, slide.width, slide.height],
    minZoom: -(levels.length - 1),
    maxZoom: 0,
    getTileData: async ({ index, signal }) => {
      const r = await fetch(api.tileUrl(slide.id, -index.z, index.x, index.y), { signal });
      if (!r.ok) throw new Error(`tile ${-index.z}/${index.x}/${index.y} of ${slide.name}: HTTP ${r.status}`);
      return createImageBitmap(await r.blob());
    },
    onTileError: (err: unknown) => onTileError(err instanceof Error ? err.message : String(err)),
    onViewportLoad: onTilesShown,
    renderSubLayers: (props) => {
      const image = props.data;
      if (!image) return null;
      // Bounds from the tile's own pixels: edge tiles are cut short, and level k covers 2^k field pixels each.
      // With flipY, [left, bottom, right, top] = [x0, y0 + h, x0 + w, y0] draws upright.
      const { x, y, z } = props.tile.index;
      const s = 2 ** -z;
      const x0 = x * TILE_SIZE * s;
      const y0 = y * TILE_SIZE * s;
      return new BitmapLayer({
        id: props.id,
        image,
        bounds: [x0, y0 + image.height * s, x0 + image.width * s, y0],
      });
    },
  });
}

/**
 * One field: the image upright (OrthographicView with flipY; bitmap bounds [0, h, w, 0]) and each cell's box in
 * its label or prediction colour. Click selects a cell, a class key labels it.
 */
export function SlideViewer({ slide }: { slide: Slide }) {
  const state = useProject();
  const { classes, labelsVersion, predictionsVersion, setError } = state;
  const [cells, setCells] = useState<CellSummary[]>([]);
  const [colorBy, setColorBy] = useState<'label' | 'prediction'>('label');
  const [hidden, setHidden] = useState<ReadonlySet<number>>(new Set());
  const [selectedId, setSelectedId] = useState<number | null>(null);
  const [focused, setFocused] = useState<CellDetail | null>(null);
  const [size, setSize] = useState({ width: 800, height: 600 });
  const [viewState, setViewState] = useState<OrthographicViewState | null>(null);
  const container = useRef<HTMLDivElement>(null);
  const deckRef = useRef<DeckGLRef>(null);
  const pressAt = useRef<{ x: number; y: number } | null>(null);

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
  useEffect(() => {
    void getApi()
      .call('cells.query', { imageIds: [slide.id], limit: 100_000 })
      .then(setCells)
      .catch((e: unknown) => setError(errorText(e)));
  }, [slide.id, labelsVersion, predictionsVersion, setError]);
  useEffect(() => {
    if (selectedId == null) return;
    let live = true;
    void getApi()
      .call('cells.get', { id: selectedId })
      .then((c) => live && setFocused(c));
    return () => {
      live = false;
    };
  }, [selectedId]);

  const colorOf = useMemo(() => {
    const byId = new Map<number, Rgba>(classes.map((c) => [c.id, hexToRgba(c.color)]));
    return (id: number | null): Rgba => (id != null ? (byId.get(id) ?? NONE_RGBA) : NONE_RGBA);
  }, [classes]);
  const shown = useMemo(
    () =>
      cells.filter((c) => {
        const cls = colorBy === 'label' ? c.classId : c.predictedClassId;
        return cls == null || !hidden.has(cls);
      }),
    [cells, hidden, colorBy],
  );

  const tiled = usesTiles(slide.width, slide.height);
  const { notify } = state;
  // One layer object per slide: deck.gl keeps a TileLayer's tile cache only while its props stay the same.
  // The first request for a large field builds its whole pyramid (seconds for hundreds of megapixels): say so.
  const [tilesShownFor, setTilesShownFor] = useState<number | null>(null);
  const field = useMemo(
    () =>
      fieldLayer(
        slide,
        (msg) => notify(msg),
        () => setTilesShownFor(slide.id),
      ),
    [slide, notify],
  );
  const layers = [
    field,
    new PolygonLayer<CellSummary>({
      id: 'cells',
      data: shown,
      getPolygon: (c) => {
        const [x, y, w, h] = c.bbox;
        return [
          [x, y],
          [x + w, y],
          [x + w, y + h],
          [x, y + h],
        ];
      },
      filled: true,
      stroked: true,
      // Alpha 1, not 0: deck.gl does not pick fully transparent fragments, and the whole box should be clickable.
      getFillColor: [0, 0, 0, 1],
      getLineColor: (c) => {
        const [r, g, b] = colorOf(colorBy === 'label' ? c.classId : c.predictedClassId);
        return [r, g, b, c.id === selectedId ? 255 : 220];
      },
      getLineWidth: (c) => (c.id === selectedId ? 3 : 1.5),
      lineWidthUnits: 'pixels',
      pickable: true,
      autoHighlight: true,
      highlightColor: [255, 255, 255, 60],
      updateTriggers: { getLineColor: [colorBy, selectedId, colorOf], getLineWidth: [selectedId] },
    }),
    new PathLayer<{ path: number[][] }>({
      id: 'contour',
      data:
        focused && focused.id === selectedId && focused.contour.length >= 6
          ? [
              {
                path: Array.from({ length: focused.contour.length / 2 + 1 }, (_, i) => {
                  const j = (i % (focused.contour.length / 2)) * 2;
                  return [focused.contour[j], focused.contour[j + 1]];
                }),
              },
            ]
          : [],
      getPath: (d) => d.path as [number, number][],
      getColor: [255, 255, 255, 255],
      getWidth: 1.5,
      widthUnits: 'pixels',
    }),
  ];

  const label = async (cls: ClassDef | null) => {
    if (selectedId == null) return state.notify('Click a cell first.');
    await labelCells(state, [selectedId], cls?.id ?? null);
  };
  const onKeyDown = (e: React.KeyboardEvent) => {
    if (isTypingTarget(e.target)) return;
    if (e.key === 'Tab' || e.key === 'n') {
      // Walk cells in reading order: the quickest way through a field by keyboard.
      if (e.key === 'Tab') e.preventDefault();
      const order = [...shown].sort((a, b) => a.centroid[1] - b.centroid[1] || a.centroid[0] - b.centroid[0]);
      const i = order.findIndex((c) => c.id === selectedId);
      const next = order[(i + (e.shiftKey ? order.length - 1 : 1)) % order.length];
      if (next) setSelectedId(next.id);
      return;
    }
    const cls = classForKey(classes, e);
    if (cls) {
      e.preventDefault();
      void label(cls);
    }
  };

  return (
    <section
      className="slide-viewer"
      data-testid="slide-viewer"
      tabIndex={0}
      onKeyDown={onKeyDown}
      aria-label={`Slide ${slide.name}`}
    >
      <div className="toolbar">
        <strong>{slide.name}</strong>
        <span className="muted">
          {cells.length} cells ({shown.length} shown)
        </span>
        <label>
          Outline colour{' '}
          <select
            data-testid="slide-color"
            value={colorBy}
            onChange={(e) => setColorBy(e.target.value as 'label' | 'prediction')}
          >
            <option value="label">label</option>
            <option value="prediction">prediction</option>
          </select>
        </label>
        <button type="button" onClick={() => setViewState(null)}>
          Fit
        </button>
        {tiled && (
          <span className="muted" data-testid="slide-tiled" title="Large field: shown through a tile pyramid">
            {slide.width}×{slide.height} px, tiled
            {tilesShownFor !== slide.id && ' (preparing tiles…)'}
          </span>
        )}
        <span className="muted">Tab / Shift+Tab: next / previous cell</span>
      </div>
      <div className="slide-body">
        <div
          className="deck-holder"
          ref={container}
          data-testid="slide-canvas"
          // Selection picks on pointer up when the pointer barely moved: a drag pans, a press selects.
          onPointerDown={(e) => {
            pressAt.current = { x: e.clientX, y: e.clientY };
          }}
          onPointerUp={(e) => {
            const p = pressAt.current;
            pressAt.current = null;
            if (!p || Math.hypot(e.clientX - p.x, e.clientY - p.y) > 4) return;
            const r = e.currentTarget.getBoundingClientRect();
            // Boxes of touching cells overlap: of all boxes under the pointer take the smallest, the cell itself.
            const hits = (
              deckRef.current?.pickMultipleObjects({
                x: e.clientX - r.left,
                y: e.clientY - r.top,
                radius: 1,
                depth: 8,
                layerIds: ['cells'],
              }) ?? []
            )
              .map((h) => h.object as CellSummary | undefined)
              .filter((c): c is CellSummary => c != null)
              .sort((a, b) => a.bbox[2] * a.bbox[3] - b.bbox[2] * b.bbox[3]);
            setSelectedId(hits.length ? hits[0].id : null);
          }}
        >
          <DeckGL
            ref={deckRef}
            views={VIEW}
            viewState={viewState ?? fit(slide, size.width, size.height)}
            onViewStateChange={({ viewState: v }) => setViewState(v as OrthographicViewState)}
            controller={{ doubleClickZoom: false }}
            layers={layers}
            getTooltip={(info: PickingInfo<CellSummary>) => (info.object ? `cell ${info.object.id}` : null)}
          />
        </div>
        <CellDetailPanel cellId={selectedId} classes={classes} version={labelsVersion} />
      </div>
      <ClassBar
        classes={classes}
        stats={state.stats}
        onLabel={(c) => void label(c)}
        disabled={selectedId == null}
        hidden={hidden}
        onToggleHidden={(id) => setHidden((h) => toggled(h, id))}
      />
    </section>
  );
}
