import { useEffect, useState } from 'react';
import type { Slide } from '../../shared/domain';
import { getApi } from '../api';

export function SlidesView({ version }: { version: number }) {
  const [slides, setSlides] = useState<Slide[]>([]);
  useEffect(() => {
    void getApi().call('slides.list', {}).then(setSlides);
  }, [version]);
  if (slides.length === 0) {
    return (
      <section className="empty" data-testid="slides-empty">
        No slides yet. Import smear images or cell crops to begin.
      </section>
    );
  }
  return (
    <section className="slides" data-testid="slides-list">
      <table>
        <thead>
          <tr>
            <th>Slide</th>
            <th>Size</th>
            <th>Source</th>
            <th>Cells</th>
            <th>Labeled</th>
          </tr>
        </thead>
        <tbody>
          {slides.map((s) => (
            <tr key={s.id} data-testid="slide-row">
              <td>{s.name}</td>
              <td>
                {s.width}×{s.height}
              </td>
              <td>{s.source ?? ''}</td>
              <td>{s.cellCount}</td>
              <td>{s.labeledCount}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
