/** RGB interleaved, 8 bits per channel, rows top to bottom. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type CellKind = 'rbc' | 'wbc' | 'platelet';

export interface Morphometrics {
  /** Pixels inside the cell mask. */
  area: number;
  /** Boundary length in px: the crack contour's edge midpoints, 5-point smoothed (no staircase bias). */
  perimeter: number;
  /** 4 pi area / perimeter^2: 1 for a disc, lower for crenated or irregular outlines. */
  circularity: number;
  /** Convex hull perimeter / perimeter: 1 for convex outlines, lower for spiculated ones (echinocytes). */
  convexity: number;
  /** Of the ellipse with the mask's second moments: 0 for a disc, towards 1 for elongated cells. */
  eccentricity: number;
  /** Mean RGB over the mask. */
  meanColor: [number, number, number];
  /** Diameter of the disc with the same area. */
  equivalentDiameter: number;
}

export interface SegmentedCell {
  kind: CellKind;
  /** x, y, w, h in full-resolution image pixels, top-left origin. */
  bbox: [number, number, number, number];
  centroid: [number, number];
  /**
   * Closed polygon x0,y0,x1,y1,... in image px. Vertices lie on pixel corners (the crack boundary of the mask),
   * so rasterizeContour reproduces the mask exactly (holes excepted).
   */
  contour: Float32Array;
  touchesBorder: boolean;
  morph: Morphometrics;
  /** Detection confidence in [0, 1] where the detector provides one. */
  score?: number;
}

export interface SegmentOptions {
  /**
   * Typical RBC radius in px. Estimated per image when absent; pass it when fields of one slide should share
   * one scale (tiles of a large field), or when a field has too few cells to estimate it.
   */
  cellRadius?: number;
  /**
   * Background colour [R, G] and foreground threshold (green optical density) shared by all tiles of one
   * slide, so that a cell on a seam is cut from the same foreground in both tiles; per field when absent.
   */
  stain?: StainParameters;
  signal?: AbortSignal;
}

export interface StainParameters {
  /** Background red and green levels (0-255) the optical densities are relative to. */
  background: [number, number];
  /** Foreground threshold on the smoothed green optical density. */
  threshold: number;
}
