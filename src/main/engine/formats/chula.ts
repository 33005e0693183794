import fs from 'node:fs';
import path from 'node:path';
import { readDirNfc, siblingImage } from './filenames';
import { AnnotationFormatError, type AnnotatedCell, type AnnotatedImage, type AnnotationSet } from './types';

/** Chula RBC-12 class indices (Naruenatthanaset et al. 2021), in the dataset's order. */
export const CHULA_CLASSES = [
  'normal',
  'macrocyte',
  'microcyte',
  'spherocyte',
  'target cell',
  'stomatocyte',
  'ovalocyte',
  'teardrop',
  'burr cell',
  'schistocyte',
  'uncategorised',
  'hypochromia',
  'elliptocyte',
] as const;

/**
 * Chula point labels: one `x y class` line per cell giving its centre. Points carry no extent, so each cell gets a
 * `boxSize` px square (about one RBC diameter at 1000x, 640x480), clipped to the image when its size is known.
 */
export function readChulaFile(
  txt: string,
  imagePath: string,
  opts: { boxSize?: number; width?: number; height?: number; classNames?: readonly string[] } = {},
): AnnotatedImage {
  const half = (opts.boxSize ?? 30) / 2;
  const names = opts.classNames ?? CHULA_CLASSES;
  const cells: AnnotatedCell[] = [];
  fs.readFileSync(txt, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      const t = line.trim();
      if (!t) return;
      const parts = t.split(/\s+/).map(Number);
      if (parts.length !== 3 || parts.some((v) => !Number.isFinite(v))) {
        throw new AnnotationFormatError(txt, `line ${i + 1}: expected "x y class", got "${t}"`);
      }
      const [x, y, cls] = parts;
      let x0 = x - half;
      let y0 = y - half;
      let x1 = x + half;
      let y1 = y + half;
      if (opts.width) [x0, x1] = [Math.max(0, x0), Math.min(opts.width, x1)];
      if (opts.height) [y0, y1] = [Math.max(0, y0), Math.min(opts.height, y1)];
      cells.push({ bbox: [x0, y0, x1 - x0, y1 - y0], className: names[cls] ?? String(cls) });
    });
  return { path: path.resolve(imagePath), width: opts.width, height: opts.height, cells };
}

export function readChulaDir(
  dir: string,
  opts: { boxSize?: number; width?: number; height?: number } = {},
): AnnotationSet {
  const images: AnnotatedImage[] = [];
  for (const f of readDirNfc(dir)) {
    if (!f.isFile() || path.extname(f.name).toLowerCase() !== '.txt') continue;
    const txt = path.join(dir, f.name);
    const img = siblingImage(txt);
    if (img) images.push(readChulaFile(txt, img, opts));
  }
  return { images };
}
