/**
 * The selection model shared by the gallery, the map and the slide viewer: a set of cell ids plus the anchor that
 * shift-click ranges start from. Immutable values, so React sees every change and undo of a selection is cheap.
 */

export interface Selection {
  readonly ids: ReadonlySet<number>;
  /** Index (in the current ordering) where the last plain or ctrl click landed; shift ranges start here. */
  readonly anchor: number | null;
}

export const EMPTY_SELECTION: Selection = { ids: new Set(), anchor: null };

export interface ClickModifiers {
  shift: boolean;
  /** Ctrl on Linux/Windows, Cmd on macOS. */
  toggle: boolean;
}

/**
 * A click on the tile at `index`. Plain: select only it. Toggle: add or remove it. Shift: select the range from
 * the anchor (added to the selection when toggle is also held). `idsInRange(a, b)` returns the ids of indices
 * a..b inclusive, in order; the caller has made sure those rows are loaded.
 */
export function clickSelect(
  sel: Selection,
  index: number,
  cellId: number,
  mods: ClickModifiers,
  idsInRange: (from: number, to: number) => number[],
): Selection {
  if (mods.shift && sel.anchor != null) {
    const range = idsInRange(Math.min(sel.anchor, index), Math.max(sel.anchor, index));
    const ids = new Set(mods.toggle ? sel.ids : []);
    for (const id of range) ids.add(id);
    return { ids, anchor: sel.anchor };
  }
  if (mods.toggle) {
    const ids = new Set(sel.ids);
    if (ids.has(cellId)) ids.delete(cellId);
    else ids.add(cellId);
    return { ids, anchor: index };
  }
  return { ids: new Set([cellId]), anchor: index };
}

/** A drag box or lasso: replaces the selection, or extends it when shift/ctrl was held. */
export function selectMany(sel: Selection, cellIds: Iterable<number>, extend: boolean): Selection {
  const ids = new Set(extend ? sel.ids : []);
  for (const id of cellIds) ids.add(id);
  return { ids, anchor: sel.anchor };
}

export function selectedList(sel: Selection): number[] {
  return [...sel.ids];
}

/** A copy of `set` with `id` added, or removed if it was there (show/hide of classes). */
export function toggled<T>(set: ReadonlySet<T>, id: T): Set<T> {
  const s = new Set(set);
  if (s.has(id)) s.delete(id);
  else s.add(id);
  return s;
}
