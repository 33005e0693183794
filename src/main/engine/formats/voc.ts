import fs from 'node:fs';
import path from 'node:path';
import { readDirNfc, siblingImage } from './filenames';
import { AnnotationFormatError, type AnnotatedCell, type AnnotatedImage, type AnnotationSet } from './types';

function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? decodeEntities(m[1].trim()) : undefined;
}

/**
 * Pascal VOC XML: one file per image, `<object>` elements with `<name>` and `<bndbox>`. VOC pixel indices are
 * 1-based and inclusive, so xmin = 1 is the first column: the box becomes [xmin - 1, ymin - 1, xmax - xmin + 1, ...].
 */
export function readVocFile(xmlFile: string, opts: { imagePath?: string } = {}): AnnotatedImage {
  const xml = fs.readFileSync(xmlFile, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
  if (!/<annotation[\s>]/.test(xml)) throw new AnnotationFormatError(xmlFile, 'not a Pascal VOC file');
  const size = tag(xml, 'size') ?? '';
  const width = Number(tag(size, 'width')) || undefined;
  const height = Number(tag(size, 'height')) || undefined;
  const filename = tag(xml, 'filename');
  const imagePath =
    opts.imagePath ??
    (filename && fs.existsSync(path.join(path.dirname(xmlFile), filename))
      ? path.join(path.dirname(xmlFile), filename)
      : siblingImage(xmlFile));
  if (!imagePath)
    throw new AnnotationFormatError(xmlFile, `image ${filename ?? '(unnamed)'} not found beside it`);
  const cells: AnnotatedCell[] = [];
  for (const m of xml.matchAll(/<object(?:\s[^>]*)?>([\s\S]*?)<\/object>/g)) {
    const obj = m[1];
    const box = tag(obj, 'bndbox');
    if (!box) continue;
    const [x0, y0, x1, y1] = ['xmin', 'ymin', 'xmax', 'ymax'].map((k) => Number(tag(box, k)));
    if ([x0, y0, x1, y1].some((v) => !Number.isFinite(v)) || x1 < x0 || y1 < y0) {
      throw new AnnotationFormatError(xmlFile, 'an object has an invalid <bndbox>');
    }
    const x = Math.max(0, x0 - 1);
    const y = Math.max(0, y0 - 1);
    cells.push({ bbox: [x, y, x1 - x, y1 - y], className: tag(obj, 'name')?.normalize('NFC') });
  }
  return { path: path.resolve(imagePath), width, height, cells };
}

export function readVocDir(dir: string): AnnotationSet {
  return {
    images: readDirNfc(dir)
      .filter((f) => f.isFile() && path.extname(f.name).toLowerCase() === '.xml')
      .map((f) => readVocFile(path.join(dir, f.name))),
  };
}
