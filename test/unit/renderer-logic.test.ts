/* eslint-disable no-restricted-imports -- renderer unit tests exercise the renderer's pure state modules (no DOM, no React); the test/** rule guards engine tests against renderer code. */
import { describe, expect, it } from 'vitest';
import {
  boxFromCorners,
  pointInPolygon,
  pointsInBox,
  pointsInPolygon,
  simplifyPath,
  type Point,
} from '../../src/renderer/state/geometry';
import { gridLayout, moveFocus, tilePosition, tilesInBox, visibleRange } from '../../src/renderer/state/grid';
import { clickSelect, EMPTY_SELECTION, selectMany } from '../../src/renderer/state/selection';
import { classForKey, isRedo, isUndo } from '../../src/renderer/state/keys';
import { classColorTable, fillPointColors, hexToRgba } from '../../src/renderer/state/colors';
import { formatEta } from '../../src/renderer/state/format';
import { DEFAULT_CLASSES, RESERVED_KEYS } from '../../src/shared/taxonomy';
import type { ClassDef } from '../../src/shared/domain';

const classes: ClassDef[] = DEFAULT_CLASSES.map((c, i) => ({
  id: i + 1,
  name: c.name,
  color: c.color,
  hotkey: c.hotkey,
  description: c.description,
  isRbc: c.isRbc,
  isInfected: c.isInfected,
  needsReview: false,
}));
const key = (
  k: string,
  mods: Partial<{ ctrl: boolean; meta: boolean; shift: boolean; alt: boolean }> = {},
) => ({
  key: k,
  ctrlKey: !!mods.ctrl,
  metaKey: !!mods.meta,
  shiftKey: !!mods.shift,
  altKey: !!mods.alt,
});

describe('lasso geometry', () => {
  // A concave "C": the notch (x 1..3, y 1..3) is outside though inside the bounding box.
  const cShape: Point[] = [
    [0, 0],
    [4, 0],
    [4, 1],
    [1, 1],
    [1, 3],
    [4, 3],
    [4, 4],
    [0, 4],
  ];

  it('tests points against a concave polygon with the even-odd rule', () => {
    expect(pointInPolygon(0.5, 2, cShape)).toBe(true);
    expect(pointInPolygon(2, 2, cShape)).toBe(false);
    expect(pointInPolygon(2, 0.5, cShape)).toBe(true);
    expect(pointInPolygon(5, 2, cShape)).toBe(false);
  });

  it('selects the indices of a typed xy array inside the lasso, skipping hidden points', () => {
    // Grid of points 0..4 x 0..4 at half-integers.
    const xy: number[] = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) xy.push(x + 0.5, y + 0.5);
    const pts = new Float32Array(xy);
    const inside = Array.from(pointsInPolygon(pts, cShape));
    // Column x=0.5 (4 points) + the rest of row 0 and row 3 (3 each) = 10; the notch's 4 points are out.
    expect(inside.length).toBe(10);
    const notch = [1 + 4 * 1, 2 + 4 * 1, 1 + 4 * 2, 2 + 4 * 2];
    for (const i of notch) expect(inside).not.toContain(i);
    const visible = new Uint8Array(16).fill(1);
    visible[0] = 0;
    expect(Array.from(pointsInPolygon(pts, cShape, visible))).not.toContain(0);
    expect(pointsInPolygon(pts, cShape.slice(0, 2)).length).toBe(0);
  });

  it('selects points in a box given by any two opposite corners', () => {
    const pts = new Float32Array([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(Array.from(pointsInBox(pts, boxFromCorners([2.5, 0.5], [0.5, 2.5])))).toEqual([1, 2]);
  });

  it('thins dense pointer paths', () => {
    const dense: Point[] = Array.from({ length: 101 }, (_, i) => [i * 0.1, 0] as Point);
    const thin = simplifyPath(dense, 1);
    expect(thin.length).toBeGreaterThanOrEqual(10);
    expect(thin.length).toBeLessThanOrEqual(11);
  });
});

describe('virtualized grid math', () => {
  const layout = gridLayout(1000, 96, 6, 1_000_000);

  it('fits whole tiles into the width and sizes the scroll area for all rows', () => {
    expect(layout.columns).toBe(Math.floor(1006 / 102));
    expect(layout.rows).toBe(Math.ceil(1_000_000 / layout.columns));
    expect(layout.height).toBe(layout.rows * 102 - 6);
    expect(gridLayout(10, 96, 6, 5).columns).toBe(1);
  });

  it('renders only the rows in view plus overscan, even deep in a million cells', () => {
    const r = visibleRange(layout, 500_000, 800, 1_000_000, 2);
    const firstRow = Math.floor(500_000 / 102) - 2;
    expect(r.first).toBe(firstRow * layout.columns);
    expect(r.end - r.first).toBeLessThan(layout.columns * 16);
    expect(tilePosition(layout, r.first).top).toBeLessThanOrEqual(500_000);
    expect(visibleRange(layout, 0, 800, 3).end).toBe(3);
  });

  it('finds tiles under a drag box, not in the gaps between them', () => {
    const l = gridLayout(306, 96, 6, 10); // 3 columns
    expect(tilesInBox(l, 10, { minX: 0, minY: 0, maxX: 200, maxY: 10 })).toEqual([0, 1]);
    expect(tilesInBox(l, 10, { minX: 97, minY: 0, maxX: 101, maxY: 300 })).toEqual([]);
    expect(tilesInBox(l, 10, { minX: 0, minY: 301, maxX: 300, maxY: 350 })).toEqual([9]);
  });

  it('moves the focus by arrow, page, home and end without leaving the grid', () => {
    const l = gridLayout(306, 96, 6, 10); // 3 columns, rows: 0-2, 3-5, 6-8, 9
    expect(moveFocus(l, 10, -1, 'ArrowRight', 2)).toBe(0);
    expect(moveFocus(l, 10, 4, 'ArrowDown', 2)).toBe(7);
    expect(moveFocus(l, 10, 7, 'ArrowDown', 2)).toBe(9);
    expect(moveFocus(l, 10, 9, 'ArrowDown', 2)).toBe(9);
    expect(moveFocus(l, 10, 1, 'ArrowUp', 2)).toBe(0);
    expect(moveFocus(l, 10, 0, 'ArrowLeft', 2)).toBe(0);
    expect(moveFocus(l, 10, 0, 'PageDown', 2)).toBe(6);
    expect(moveFocus(l, 10, 4, 'End', 2)).toBe(9);
    expect(moveFocus(l, 10, 4, 'Home', 2)).toBe(0);
    expect(moveFocus(l, 0, 0, 'ArrowDown', 2)).toBe(-1);
  });
});

describe('selection model', () => {
  const ids = [10, 11, 12, 13, 14, 15];
  const range = (a: number, b: number) => ids.slice(a, b + 1);

  it('plain click selects one, ctrl toggles, shift selects the range from the anchor', () => {
    let s = clickSelect(EMPTY_SELECTION, 1, 11, { shift: false, toggle: false }, range);
    expect([...s.ids]).toEqual([11]);
    s = clickSelect(s, 3, 13, { shift: false, toggle: true }, range);
    expect([...s.ids].sort()).toEqual([11, 13]);
    s = clickSelect(s, 3, 13, { shift: false, toggle: true }, range);
    expect([...s.ids]).toEqual([11]);
    s = clickSelect(s, 4, 14, { shift: true, toggle: false }, range);
    // Anchor is still index 3 (the last ctrl click), so the range is 3..4.
    expect([...s.ids].sort()).toEqual([13, 14]);
    s = clickSelect({ ids: new Set([10]), anchor: 5 }, 2, 12, { shift: true, toggle: true }, range);
    expect([...s.ids].sort()).toEqual([10, 12, 13, 14, 15]);
  });

  it('box selection replaces or extends', () => {
    const s = { ids: new Set([1]), anchor: 0 };
    expect([...selectMany(s, [2, 3], false).ids]).toEqual([2, 3]);
    expect([...selectMany(s, [2, 3], true).ids].sort()).toEqual([1, 2, 3]);
  });
});

describe('labeling keys', () => {
  it('maps every default hotkey to its class, case-insensitively, and ignores modified presses', () => {
    for (const c of classes) {
      expect(classForKey(classes, key(c.hotkey!))?.id).toBe(c.id);
      expect(classForKey(classes, key(c.hotkey!.toLowerCase()))?.id).toBe(c.id);
    }
    expect(classForKey(classes, key('2', { ctrl: true }))).toBeNull();
    expect(classForKey(classes, key('ArrowDown'))).toBeNull();
    for (const k of RESERVED_KEYS) expect(classForKey(classes, key(k))).toBeNull();
  });

  it('recognises undo and both redo chords', () => {
    expect(isUndo(key('z', { ctrl: true }))).toBe(true);
    expect(isUndo(key('z', { meta: true }))).toBe(true);
    expect(isUndo(key('Z', { ctrl: true, shift: true }))).toBe(false);
    expect(isRedo(key('Z', { ctrl: true, shift: true }))).toBe(true);
    expect(isRedo(key('y', { ctrl: true }))).toBe(true);
    expect(isRedo(key('z', { ctrl: true }))).toBe(false);
    expect(isUndo(key('z'))).toBe(false);
  });
});

describe('map colours', () => {
  it('colours points by label, hides hidden ones, and greys unlabeled', () => {
    const table = classColorTable(classes);
    const data = {
      labels: Int32Array.of(2, 0, 1),
      predicted: Int32Array.of(1, 1, 1),
      confidence: Float32Array.of(0.9, 0.1, -1),
      imageIds: Int32Array.of(1, 1, 2),
    };
    const out = new Uint8Array(12);
    fillPointColors(out, 'label', data, table, Uint8Array.of(1, 1, 0));
    expect(Array.from(out.subarray(0, 3))).toEqual(hexToRgba(classes[1].color).slice(0, 3));
    expect(out[7]).toBeGreaterThan(0);
    expect(out[11]).toBe(0);
    fillPointColors(out, 'confidence', data, table);
    expect(Array.from(out.subarray(0, 4))).not.toEqual(Array.from(out.subarray(4, 8)));
  });
});

describe('ETA text', () => {
  it('reads naturally at every scale', () => {
    expect(formatEta(null)).toBe('');
    expect(formatEta(12.2)).toBe('13 s left');
    expect(formatEta(125)).toBe('2 min 5 s left');
    expect(formatEta(7260)).toBe('2 h 1 min left');
  });
});
