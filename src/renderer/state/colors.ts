import type { ClassDef } from '../../shared/domain';

export type Rgba = [number, number, number, number];

export function hexToRgba(hex: string, alpha = 255): Rgba {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return [128, 128, 128, alpha];
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16), alpha];
}

/** Colour of "no class" (unlabeled / no prediction): neutral grey, visible on light and dark backgrounds. */
export const NONE_RGBA: Rgba = [150, 150, 150, 150];

/** Class id -> RGBA lookup as a flat table indexed by id, for filling colour buffers without Map lookups. */
export function classColorTable(classes: readonly ClassDef[]): Uint8Array {
  const maxId = classes.reduce((m, c) => Math.max(m, c.id), 0);
  const t = new Uint8Array((maxId + 1) * 4);
  for (const c of classes) t.set(hexToRgba(c.color), c.id * 4);
  return t;
}

/** Sequential ramp (viridis-like endpoints) for confidence in [0, 1]; NaN / negative = no prediction. */
export function confidenceRgba(c: number): Rgba {
  if (!(c >= 0)) return NONE_RGBA;
  const t = Math.min(1, c);
  const stops: Rgba[] = [
    [68, 1, 84, 255],
    [59, 82, 139, 255],
    [33, 145, 140, 255],
    [94, 201, 98, 255],
    [253, 231, 37, 255],
  ];
  const f = t * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(f));
  const u = f - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * u)).concat(255) as Rgba;
}

const SLIDE_PALETTE = [
  '#4477AA',
  '#EE6677',
  '#228833',
  '#CCBB44',
  '#66CCEE',
  '#AA3377',
  '#BBBBBB',
  '#EE7733',
  '#0077BB',
  '#33BBEE',
  '#009988',
  '#CC3311',
];

export function slideRgba(imageId: number): Rgba {
  return hexToRgba(SLIDE_PALETTE[Math.abs(imageId) % SLIDE_PALETTE.length]);
}

export type ColorBy = 'label' | 'prediction' | 'confidence' | 'slide';

/**
 * Fills one RGBA byte per channel per point. Class ids <= 0 in `labels` / `predicted` mean none; confidence < 0
 * means no prediction. Hidden classes (visible flag 0) get alpha 0 so deck.gl draws nothing there.
 */
export function fillPointColors(
  out: Uint8Array,
  by: ColorBy,
  data: { labels: Int32Array; predicted: Int32Array; confidence: Float32Array; imageIds: Int32Array },
  table: Uint8Array,
  visible?: Uint8Array,
): void {
  const n = data.labels.length;
  for (let i = 0; i < n; i++) {
    let r: number;
    let g: number;
    let b: number;
    let a: number;
    if (by === 'slide') {
      [r, g, b, a] = slideRgba(data.imageIds[i]);
    } else if (by === 'confidence') {
      [r, g, b, a] = confidenceRgba(data.confidence[i]);
    } else {
      const id = by === 'label' ? data.labels[i] : data.predicted[i];
      if (id > 0 && id * 4 < table.length && table[id * 4 + 3] > 0) {
        r = table[id * 4];
        g = table[id * 4 + 1];
        b = table[id * 4 + 2];
        a = 235;
      } else [r, g, b, a] = NONE_RGBA;
    }
    if (visible && !visible[i]) a = 0;
    out[4 * i] = r;
    out[4 * i + 1] = g;
    out[4 * i + 2] = b;
    out[4 * i + 3] = a;
  }
}
