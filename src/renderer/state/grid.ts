/** Layout math of the virtualized thumbnail grid: which tiles exist where, and which are on screen. */

export interface GridLayout {
  columns: number;
  /** Edge of one square tile, in CSS pixels. */
  tile: number;
  gap: number;
  /** tile + gap: the distance from one row (or column) start to the next. */
  pitch: number;
  rows: number;
  height: number;
}

export function gridLayout(width: number, tile: number, gap: number, total: number): GridLayout {
  const pitch = tile + gap;
  const columns = Math.max(1, Math.floor((Math.max(0, width) + gap) / pitch));
  const rows = Math.ceil(Math.max(0, total) / columns);
  return { columns, tile, gap, pitch, rows, height: rows > 0 ? rows * pitch - gap : 0 };
}

/** Half-open index range [first, end) of tiles in view, widened by `overscanRows` rows each side. */
export function visibleRange(
  layout: GridLayout,
  scrollTop: number,
  viewportHeight: number,
  total: number,
  overscanRows = 2,
): { first: number; end: number } {
  if (total <= 0) return { first: 0, end: 0 };
  const firstRow = Math.max(0, Math.floor(scrollTop / layout.pitch) - overscanRows);
  const lastRow = Math.floor((scrollTop + Math.max(0, viewportHeight)) / layout.pitch) + overscanRows;
  return {
    first: Math.min(total, firstRow * layout.columns),
    end: Math.min(total, (lastRow + 1) * layout.columns),
  };
}

export function tilePosition(layout: GridLayout, index: number): { left: number; top: number } {
  return {
    left: (index % layout.columns) * layout.pitch,
    top: Math.floor(index / layout.columns) * layout.pitch,
  };
}

/** Tiles a drag box (content coordinates) touches; a tile counts when the box overlaps its square, not its gap. */
export function tilesInBox(
  layout: GridLayout,
  total: number,
  box: { minX: number; minY: number; maxX: number; maxY: number },
): number[] {
  const out: number[] = [];
  const c0 = Math.max(0, Math.floor(box.minX / layout.pitch));
  const c1 = Math.min(layout.columns - 1, Math.floor(box.maxX / layout.pitch));
  const r0 = Math.max(0, Math.floor(box.minY / layout.pitch));
  const r1 = Math.min(layout.rows - 1, Math.floor(box.maxY / layout.pitch));
  for (let r = r0; r <= r1; r++) {
    for (let c = c0; c <= c1; c++) {
      const left = c * layout.pitch;
      const top = r * layout.pitch;
      const overlaps =
        box.maxX >= left &&
        box.minX <= left + layout.tile &&
        box.maxY >= top &&
        box.minY <= top + layout.tile;
      const i = r * layout.columns + c;
      if (overlaps && i < total) out.push(i);
    }
  }
  return out;
}

/** Index the focus moves to for an arrow / page / home / end key, clamped to the grid. */
export function moveFocus(
  layout: GridLayout,
  total: number,
  index: number,
  key: string,
  pageRows: number,
): number {
  if (total <= 0) return -1;
  const c = layout.columns;
  let next = index < 0 ? 0 : index;
  if (index >= 0) {
    if (key === 'ArrowRight') next = index + 1;
    else if (key === 'ArrowLeft') next = index - 1;
    else if (key === 'ArrowDown') next = index + c;
    else if (key === 'ArrowUp') next = index - c;
    else if (key === 'PageDown') next = index + c * Math.max(1, pageRows);
    else if (key === 'PageUp') next = index - c * Math.max(1, pageRows);
    else if (key === 'Home') next = 0;
    else if (key === 'End') next = total - 1;
  }
  // Past the end, Down lands on the last tile when a further (partial) row exists, as file browsers do.
  if (next >= total) {
    const vertical = key === 'ArrowDown' || key === 'PageDown';
    next = vertical && Math.floor(index / c) === Math.floor((total - 1) / c) ? index : total - 1;
  }
  return Math.max(0, Math.min(total - 1, next));
}
