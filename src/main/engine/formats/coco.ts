import fs from 'node:fs';
import path from 'node:path';
import { bboxPolygon, polygonArea, polygonBbox, roundCoords } from './polygon';
import { AnnotationFormatError, type AnnotatedCell, type AnnotatedImage, type AnnotationSet } from './types';

/** COCO object-detection JSON (https://cocodataset.org/#format-data), the subset pycocotools reads. */
export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  area: number;
  segmentation: number[][];
  iscrowd: 0;
  /** Extra per-cell fields (cell id, annotator, ...): pycocotools ignores unknown keys. */
  attributes?: Record<string, string | number | null>;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory: string;
}

export interface CocoDataset {
  info: { description: string; version: string; year: number; date_created: string };
  licenses: Array<{ id: number; name: string; url: string }>;
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

export interface CocoCellInput extends AnnotatedCell {
  attributes?: Record<string, string | number | null>;
}

export interface CocoImageInput {
  /** Written as file_name; relative to the JSON file by convention. */
  fileName: string;
  width: number;
  height: number;
  cells: CocoCellInput[];
}

/**
 * Builds a COCO dataset. Category ids follow `categories` order from 1 (0 is reserved for background by many
 * trainers); a cell without a category in that list is left out rather than given a wrong one.
 */
/** One cell as a COCO annotation: bbox, polygon segmentation and its area. */
export function cocoAnnotation(
  id: number,
  imageId: number,
  category: number,
  c: CocoCellInput,
): CocoAnnotation {
  // pycocotools needs a polygon of at least 3 points; a box-only cell gets its box as polygon.
  const hasContour = !!c.contour && c.contour.length >= 6;
  const poly = hasContour ? roundCoords(c.contour!) : bboxPolygon(c.bbox);
  const ann: CocoAnnotation = {
    id,
    image_id: imageId,
    category_id: category,
    // COCO's bbox is the extent of the object the segmentation outlines: with a contour it is taken from the
    // contour, so the two never disagree even where a stored box (a detector's, say) is looser than the outline.
    bbox: roundCoords(hasContour ? polygonBbox(poly) : c.bbox) as [number, number, number, number],
    area: Math.round(polygonArea(poly) * 100) / 100,
    segmentation: [poly],
    iscrowd: 0,
  };
  if (c.attributes) ann.attributes = c.attributes;
  return ann;
}

export function buildCoco(
  images: CocoImageInput[],
  categories: string[],
  description = 'RedDino Studio export',
): CocoDataset {
  const catId = new Map(categories.map((c, i) => [c, i + 1]));
  const out: CocoDataset = {
    info: {
      description,
      version: '1.0',
      year: new Date().getFullYear(),
      date_created: new Date().toISOString(),
    },
    licenses: [],
    images: [],
    annotations: [],
    categories: categories.map((name, i) => ({ id: i + 1, name, supercategory: 'cell' })),
  };
  let annId = 1;
  images.forEach((img, i) => {
    const imageId = i + 1;
    out.images.push({ id: imageId, file_name: img.fileName, width: img.width, height: img.height });
    for (const c of img.cells) {
      const category = c.className != null ? catId.get(c.className) : undefined;
      if (category === undefined) continue;
      out.annotations.push(cocoAnnotation(annId++, imageId, category, c));
    }
  });
  return out;
}

function isNumArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/**
 * Reads a COCO JSON file. Image paths resolve against `imageDir` (default: the JSON's folder). Polygon
 * segmentations become contours (the largest ring when there are several); RLE masks keep only the bbox.
 */
export function readCoco(file: string, opts: { imageDir?: string } = {}): AnnotationSet {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AnnotationFormatError(file, `not a JSON file (${(err as Error).message})`);
  }
  const d = doc as Partial<Record<'images' | 'annotations' | 'categories', unknown>>;
  if (!d || !Array.isArray(d.images) || !Array.isArray(d.annotations)) {
    throw new AnnotationFormatError(file, 'not a COCO file: it needs "images" and "annotations" arrays');
  }
  const base = opts.imageDir ?? path.dirname(file);
  const categories = new Map<number, string>();
  for (const c of (d.categories as Array<{ id?: unknown; name?: unknown }>) ?? []) {
    if (typeof c.id === 'number' && typeof c.name === 'string') categories.set(c.id, c.name);
  }
  const images = new Map<number, AnnotatedImage>();
  for (const im of d.images as Array<Record<string, unknown>>) {
    if (typeof im.id !== 'number' || typeof im.file_name !== 'string') {
      throw new AnnotationFormatError(file, 'an image entry lacks a numeric "id" or a "file_name"');
    }
    images.set(im.id, {
      path: path.resolve(base, im.file_name.normalize('NFC')),
      width: typeof im.width === 'number' ? im.width : undefined,
      height: typeof im.height === 'number' ? im.height : undefined,
      cells: [],
    });
  }
  for (const a of d.annotations as Array<Record<string, unknown>>) {
    const img = typeof a.image_id === 'number' ? images.get(a.image_id) : undefined;
    if (!img) throw new AnnotationFormatError(file, `annotation ${String(a.id)} refers to a missing image`);
    let contour: number[] | undefined;
    if (Array.isArray(a.segmentation)) {
      const rings = (a.segmentation as unknown[]).filter(isNumArray).filter((r) => r.length >= 6);
      if (rings.length) contour = rings.reduce((best, r) => (polygonArea(r) > polygonArea(best) ? r : best));
    }
    let bbox: [number, number, number, number];
    if (isNumArray(a.bbox) && a.bbox.length === 4) bbox = [a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3]];
    else if (contour) bbox = polygonBbox(contour);
    else throw new AnnotationFormatError(file, `annotation ${String(a.id)} has neither bbox nor polygon`);
    const cell: AnnotatedCell = { bbox };
    if (contour) cell.contour = contour;
    const name = typeof a.category_id === 'number' ? categories.get(a.category_id) : undefined;
    if (name !== undefined) cell.className = name;
    img.cells.push(cell);
  }
  return { images: [...images.values()] };
}
