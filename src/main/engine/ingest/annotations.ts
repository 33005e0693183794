import fs from 'node:fs';
import path from 'node:path';
import type { AnnotatedCell } from '../formats/types';
import { readChulaFile } from '../formats/chula';
import { readYoloFile } from '../formats/yolo';
import { readVocFile } from '../formats/voc';

export type { AnnotatedCell };

export interface SiblingAnnotations {
  format: 'chula' | 'yolo' | 'voc';
  file: string;
  cells: AnnotatedCell[];
}

/**
 * Dataset class names mapped onto the app's taxonomy. Names for whole-cell categories that carry no morphology
 * ("RBC") map to null: the cell is imported, unlabeled.
 */
const SYNONYMS: Record<string, string | null> = {
  'burr cell': 'echinocyte',
  echinocyte: 'echinocyte',
  ovalocyte: 'elliptocyte',
  rbc: null,
  'red blood cell': null,
  wbc: 'WBC',
  'white blood cell': 'WBC',
  platelets: 'platelet',
  platelet: 'platelet',
};

export function taxonomyName(name: string | undefined): string | null {
  if (name == null) return null;
  const key = name.trim().toLowerCase();
  return key in SYNONYMS ? SYNONYMS[key] : name.trim();
}

/** YOLO names come from `classes.txt` beside the labels (the darknet convention); without it, indexes only. */
function yoloClassNames(dir: string): string[] | undefined {
  const file = path.join(dir, 'classes.txt');
  if (!fs.existsSync(file)) return undefined;
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Annotation file beside a field image (`<stem>.txt` as Chula points `x y class` or YOLO `class cx cy w h`,
 * `<stem>.xml` as Pascal VOC), read with the readers in ../formats, class names mapped to the taxonomy. Null when
 * there is none. A malformed file throws with the file and line, so the import reports it.
 */
export async function findAnnotations(
  imagePath: string,
  width: number,
  height: number,
): Promise<SiblingAnnotations | null> {
  const stem = imagePath.slice(0, imagePath.length - path.extname(imagePath).length);
  const xml = `${stem}.xml`;
  if (fs.existsSync(xml)) {
    const r = readVocFile(xml, { imagePath });
    return {
      format: 'voc',
      file: xml,
      cells: r.cells.map((c) => ({ ...c, className: taxonomyName(c.className) ?? undefined })),
    };
  }
  const txt = `${stem}.txt`;
  if (!fs.existsSync(txt)) return null;
  const first = fs
    .readFileSync(txt, 'utf8')
    .split(/\r?\n/)
    .find((l) => l.trim());
  if (!first) return { format: 'chula', file: txt, cells: [] };
  if (first.trim().split(/\s+/).length === 3) {
    const r = readChulaFile(txt, imagePath, { width, height });
    return {
      format: 'chula',
      file: txt,
      cells: r.cells.map((c) => ({ ...c, className: taxonomyName(c.className) ?? undefined })),
    };
  }
  const names = yoloClassNames(path.dirname(imagePath));
  const r = await readYoloFile(txt, imagePath, names);
  return {
    format: 'yolo',
    file: txt,
    cells: r.cells.map((c) => ({
      ...c,
      className: names ? (taxonomyName(c.className) ?? undefined) : undefined,
    })),
  };
}
