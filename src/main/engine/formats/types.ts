/**
 * The neutral annotation structure every reader returns and the ingest of annotation files consumes. Coordinates are
 * full-resolution image pixels from the top-left corner, the one coordinate space of the store.
 */
export interface AnnotatedCell {
  /** [x, y, width, height] in pixels. */
  bbox: [number, number, number, number];
  /** Outline as flat [x0, y0, x1, y1, ...] in pixels, when the format carries one. */
  contour?: number[];
  className?: string;
}

export interface AnnotatedImage {
  /** Absolute path of the image file the cells lie on. */
  path: string;
  width?: number;
  height?: number;
  cells: AnnotatedCell[];
}

export interface AnnotationSet {
  images: AnnotatedImage[];
}

export class AnnotationFormatError extends Error {
  override readonly name = 'AnnotationFormatError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** Image extensions the readers pair with annotation files, in the order they are tried. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp'];
