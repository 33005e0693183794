import { useEffect, useState } from 'react';
import type { Slide } from '../../shared/domain';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { formatCount } from '../state/format';
import { SlideViewer } from './SlideViewer';
import { pyramidLevels, usesTiles } from '../../shared/pyramid';

/** A large field's list thumbnail is its pyramid's single-tile level, not the whole (huge) image. */
function slideThumbUrl(s: Slide): string {
  if (!usesTiles(s.width, s.height)) return getApi().mediaUrl('image', s.id);
  return getApi().tileUrl(s.id, pyramidLevels(s.width, s.height).length - 1, 0, 0);
}

/** Slides with a thumbnail and counts; the chosen one opens in the viewer beside the list. */
export function SlidesView({ onImport }: { onImport: () => void }) {
  const { dataVersion, labelsVersion } = useProject();
  const [slides, setSlides] = useState<Slide[] | null>(null);
  const [current, setCurrent] = useState<number | null>(null);
  useEffect(() => {
    void getApi().call('slides.list', {}).then(setSlides);
  }, [dataVersion, labelsVersion]);
  if (slides == null) return <main className="view" />;
  if (slides.length === 0) {
    return (
      <section className="empty" data-testid="slides-empty">
        <p>No slides yet. Import smear images or cell crops to begin.</p>
        <button type="button" className="primary" onClick={onImport} data-testid="slides-import">
          Import…
        </button>
      </section>
    );
  }
  const slide = slides.find((s) => s.id === current) ?? null;
  return (
    <main className="view slides-view">
      <ul
        className="slide-list"
        data-testid="slides-list"
        aria-label="Slides"
        tabIndex={0}
        onKeyDown={(e) => {
          const i = slides.findIndex((s) => s.id === current);
          if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
            e.preventDefault();
            const next =
              slides[Math.max(0, Math.min(slides.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))];
            setCurrent(next.id);
          }
        }}
      >
        {slides.map((s) => (
          <li key={s.id}>
            <button
              type="button"
              className={`slide-row${s.id === current ? ' current' : ''}`}
              aria-current={s.id === current}
              data-testid="slide-row"
              onClick={() => setCurrent(s.id)}
            >
              <img src={slideThumbUrl(s)} alt="" loading="lazy" />
              <span className="slide-meta">
                <strong>{s.name}</strong>
                <span className="muted">
                  {s.width}×{s.height}
                  {s.source ? ` · ${s.source}` : ''}
                  {s.subject ? ` · ${s.subject}` : ''}
                </span>
                <span data-testid="slide-counts">
                  {formatCount(s.cellCount)} cells · {formatCount(s.labeledCount)} labeled
                </span>
                <progress
                  value={s.labeledCount}
                  max={Math.max(1, s.cellCount)}
                  aria-label="labeled fraction"
                />
              </span>
            </button>
          </li>
        ))}
      </ul>
      {slide ? (
        <SlideViewer key={slide.id} slide={slide} />
      ) : (
        <section className="empty">Choose a slide to view its cells.</section>
      )}
    </main>
  );
}
