import fs from 'node:fs';
import path from 'node:path';
import { parseCsvObjects } from './csv';
import { isImageFile, nfc, readDirNfc } from './filenames';
import { imageSize } from './image-size';
import { AnnotationFormatError, type AnnotatedImage, type AnnotationSet } from './types';

/** Columns of the metadata.csv an ImageFolder export writes; the reader uses them to recover class and source. */
export const IMAGEFOLDER_METADATA_COLUMNS = [
  'file',
  'class',
  'cell_id',
  'image_id',
  'source_image',
  'x',
  'y',
  'w',
  'h',
  'crop_x',
  'crop_y',
  'crop_w',
  'crop_h',
  'annotator',
  'source',
] as const;

/**
 * Reads an ImageFolder tree (`<root>/<class>/<crop image>`) as one single-cell image per crop, the cell filling the
 * crop. With a metadata.csv beside the class folders its `class` column names the class (folder names may have been
 * made file-system safe); otherwise the folder name is the class.
 */
export async function readImageFolder(
  root: string,
  opts: { readSizes?: boolean } = {},
): Promise<AnnotationSet> {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new AnnotationFormatError(root, 'not a folder');
  }
  const meta = readMetadata(root);
  const images: AnnotatedImage[] = [];
  for (const dir of readDirNfc(root)) {
    if (!dir.isDirectory()) continue;
    const folder = nfc(dir.name);
    for (const f of readDirNfc(path.join(root, dir.name))) {
      if (!f.isFile() || !isImageFile(f.name)) continue;
      const file = path.join(root, dir.name, f.name);
      const rel = `${folder}/${nfc(f.name)}`;
      const className = meta?.get(rel)?.class || folder;
      const size = opts.readSizes === false ? null : await imageSize(file);
      images.push({
        path: file,
        width: size?.width,
        height: size?.height,
        cells: [{ bbox: [0, 0, size?.width ?? 0, size?.height ?? 0], className }],
      });
    }
  }
  return { images };
}

function readMetadata(root: string): Map<string, Record<string, string>> | null {
  const file = path.join(root, 'metadata.csv');
  if (!fs.existsSync(file)) return null;
  const rows = parseCsvObjects(fs.readFileSync(file, 'utf8'));
  return new Map(rows.map((r) => [nfc(r.file ?? ''), r]));
}

/**
 * The field images behind an ImageFolder export, from its metadata.csv: each crop maps back to its source image
 * and the cell's bbox there. This is how an exported dataset round-trips into a project with its cells in place.
 */
export function readImageFolderSources(root: string): AnnotationSet {
  const meta = readMetadata(root);
  if (!meta) throw new AnnotationFormatError(root, 'no metadata.csv: the crops carry no source image');
  const byImage = new Map<string, AnnotatedImage>();
  for (const r of meta.values()) {
    if (!r.source_image) continue;
    const p = path.resolve(root, r.source_image);
    let img = byImage.get(p);
    if (!img) {
      img = { path: p, cells: [] };
      byImage.set(p, img);
    }
    const bbox = [Number(r.x), Number(r.y), Number(r.w), Number(r.h)] as [number, number, number, number];
    if (bbox.some((v) => !Number.isFinite(v))) {
      throw new AnnotationFormatError(path.join(root, 'metadata.csv'), `bad bbox for ${r.file}`);
    }
    img.cells.push({ bbox, className: r.class });
  }
  return { images: [...byImage.values()] };
}
