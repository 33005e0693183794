import fs from 'node:fs';
import path from 'node:path';
import { isImageFile, readDirNfc, siblingImage } from './filenames';
import { imageSize } from './image-size';
import { AnnotationFormatError, type AnnotatedCell, type AnnotatedImage, type AnnotationSet } from './types';

/**
 * YOLO txt labels: one file per image, one `class cx cy w h` line per object, coordinates normalised to [0, 1].
 * `classNames[i]` names class index i (e.g. from the dataset's data.yaml); without it the index itself is the name.
 */
export async function readYoloFile(
  txt: string,
  imagePath: string,
  classNames?: readonly string[],
): Promise<AnnotatedImage> {
  const { width, height } = await imageSize(imagePath);
  const cells: AnnotatedCell[] = [];
  fs.readFileSync(txt, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      const t = line.trim();
      if (!t) return;
      const parts = t.split(/\s+/).map(Number);
      if (parts.length < 5 || parts.some((v) => !Number.isFinite(v))) {
        throw new AnnotationFormatError(txt, `line ${i + 1}: expected "class cx cy w h", got "${t}"`);
      }
      const [cls, cx, cy, w, h] = parts;
      const cell: AnnotatedCell = {
        bbox: [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height],
        className: classNames?.[cls] ?? String(cls),
      };
      // YOLO segmentation lines carry a polygon instead of a box: class x1 y1 x2 y2 ...
      if (parts.length > 5 && (parts.length - 1) % 2 === 0 && parts.length >= 7) {
        const contour = parts.slice(1).map((v, k) => v * (k % 2 === 0 ? width : height));
        cell.contour = contour;
        let x0 = Infinity,
          y0 = Infinity,
          x1 = -Infinity,
          y1 = -Infinity;
        for (let k = 0; k < contour.length; k += 2) {
          x0 = Math.min(x0, contour[k]);
          x1 = Math.max(x1, contour[k]);
          y0 = Math.min(y0, contour[k + 1]);
          y1 = Math.max(y1, contour[k + 1]);
        }
        cell.bbox = [x0, y0, x1 - x0, y1 - y0];
      }
      cells.push(cell);
    });
  return { path: path.resolve(imagePath), width, height, cells };
}

/** Every image in `dir` that has a `.txt` of the same stem (images without labels are skipped). */
export async function readYoloDir(dir: string, classNames?: readonly string[]): Promise<AnnotationSet> {
  const images: AnnotatedImage[] = [];
  for (const f of readDirNfc(dir)) {
    if (!f.isFile() || path.extname(f.name).toLowerCase() !== '.txt' || f.name === 'classes.txt') continue;
    const txt = path.join(dir, f.name);
    const img = siblingImage(txt);
    if (img && isImageFile(img)) images.push(await readYoloFile(txt, img, classNames));
  }
  return { images };
}
