import fs from 'node:fs';
import path from 'node:path';
import { bboxPolygon, polygonArea, polygonBbox, roundCoords } from './polygon';
import { parseCsvObjects } from './csv';
import { readDirNfc, siblingImage } from './filenames';
import { AnnotationFormatError, type AnnotatedCell, type AnnotatedImage, type AnnotationSet } from './types';

/**
 * GeoJSON as QuPath reads and writes it (File > Import/Export objects): a FeatureCollection of polygon Features in
 * image pixel coordinates, with properties.objectType ("detection" for cells) and properties.classification
 * {name, color: [r, g, b]}. Checked against QuPath's reader (qupath-core QuPathTypeAdapters.PathObjectTypeAdapter
 * and GsonTools.PathClassTypeAdapter, tags v0.4.4 and v0.5.1): a classification object needs both "name" and
 * "color" (else the import fails), a Polygon ring must be closed with >= 4 positions (JTS LinearRing),
 * "measurements" is an object of numbers, "metadata" (read from 0.5) an object of strings, and a Feature "id" is
 * kept only when it is a UUID, so none is written here.
 */
export interface QuPathFeature {
  type: 'Feature';
  id?: string;
  geometry: { type: 'Polygon'; coordinates: number[][][] };
  properties: {
    objectType: 'detection' | 'annotation';
    classification?: { name: string; color: [number, number, number] };
    isLocked?: boolean;
    measurements?: Record<string, number>;
    metadata?: Record<string, string>;
    reddino?: Record<string, string | number | null>;
  };
}

export interface QuPathFeatureCollection {
  type: 'FeatureCollection';
  features: QuPathFeature[];
}

export function hexToRgb(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return [128, 128, 128];
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

export interface GeoJsonCellInput extends AnnotatedCell {
  color?: string;
  id?: string;
  extra?: Record<string, string | number | null>;
  measurements?: Record<string, number>;
  /** QuPath 0.5+ keeps these as the object's metadata (string values). */
  metadata?: Record<string, string>;
}

function closedRing(flat: number[]): number[][] {
  const ring: number[][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) ring.push([flat[i], flat[i + 1]]);
  const first = ring[0];
  const last = ring[ring.length - 1];
  if (first && (first[0] !== last[0] || first[1] !== last[1])) ring.push([first[0], first[1]]);
  return ring;
}

/** The outer ring of a cell: its contour, closed; the bbox when the contour is missing or too short to close. */
function cellRing(c: AnnotatedCell): number[][] {
  if (c.contour && c.contour.length >= 6) {
    const ring = closedRing(roundCoords(c.contour));
    // JTS (QuPath's geometry library) refuses a LinearRing of fewer than 4 positions.
    if (ring.length >= 4) return ring;
  }
  return closedRing(bboxPolygon(c.bbox));
}

/** Cells of one image as a QuPath FeatureCollection; the ring is closed and counter-clockwise is not required. */
export function buildQuPathGeoJson(
  cells: GeoJsonCellInput[],
  objectType: 'detection' | 'annotation' = 'detection',
): QuPathFeatureCollection {
  return {
    type: 'FeatureCollection',
    features: cells.map((c) => {
      const f: QuPathFeature = {
        type: 'Feature',
        geometry: { type: 'Polygon', coordinates: [cellRing(c)] },
        properties: { objectType },
      };
      if (c.id) f.id = c.id;
      if (c.className != null) {
        f.properties.classification = { name: c.className, color: hexToRgb(c.color ?? '#808080') };
      }
      if (c.measurements) f.properties.measurements = c.measurements;
      if (c.metadata) f.properties.metadata = c.metadata;
      if (c.extra) f.properties.reddino = c.extra;
      return f;
    }),
  };
}

function ringToFlat(ring: unknown): number[] | null {
  if (!Array.isArray(ring)) return null;
  const flat: number[] = [];
  for (const p of ring) {
    if (!Array.isArray(p) || typeof p[0] !== 'number' || typeof p[1] !== 'number') return null;
    flat.push(p[0], p[1]);
  }
  // GeoJSON rings repeat the first point at the end; the store's contours do not.
  if (flat.length >= 4 && flat[0] === flat[flat.length - 2] && flat[1] === flat[flat.length - 1]) {
    flat.length -= 2;
  }
  return flat.length >= 6 ? flat : null;
}

function classificationName(props: Record<string, unknown> | null | undefined): string | undefined {
  if (!props) return undefined;
  const c = props.classification;
  if (typeof c === 'string') return c;
  if (c && typeof c === 'object') {
    const o = c as { name?: unknown; names?: unknown };
    if (typeof o.name === 'string') return o.name;
    // QuPath 0.4+ writes derived classes as "names": ["Tumor", "Positive"].
    if (Array.isArray(o.names)) return o.names.filter((n) => typeof n === 'string').join(': ');
  }
  if (typeof props.name === 'string' && props.objectType === undefined) return props.name;
  return undefined;
}

/**
 * Reads a QuPath/GeoJSON file (a FeatureCollection, a bare Feature array, or one Feature) as the cells of one
 * image. Polygon outer rings become contours; a MultiPolygon keeps its largest part; a Point becomes a box of
 * `pointBoxSize` px centred on it.
 */
export function readGeoJson(
  file: string,
  opts: { imagePath: string; pointBoxSize?: number; width?: number; height?: number },
): AnnotatedImage {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AnnotationFormatError(file, `not a JSON file (${(err as Error).message})`);
  }
  const features: unknown[] = Array.isArray(doc)
    ? doc
    : (doc as { type?: string }).type === 'FeatureCollection'
      ? ((doc as { features?: unknown[] }).features ?? [])
      : (doc as { type?: string }).type === 'Feature'
        ? [doc]
        : [];
  if (
    !Array.isArray(doc) &&
    features.length === 0 &&
    (doc as { type?: string }).type !== 'FeatureCollection'
  ) {
    throw new AnnotationFormatError(file, 'not GeoJSON: expected a FeatureCollection or Features');
  }
  const half = (opts.pointBoxSize ?? 30) / 2;
  const cells: AnnotatedCell[] = [];
  for (const f of features as Array<{
    geometry?: { type?: string; coordinates?: unknown };
    properties?: unknown;
  }>) {
    const g = f.geometry;
    if (!g) continue;
    let contour: number[] | null = null;
    let bbox: [number, number, number, number] | null = null;
    if (g.type === 'Polygon' && Array.isArray(g.coordinates)) contour = ringToFlat(g.coordinates[0]);
    else if (g.type === 'MultiPolygon' && Array.isArray(g.coordinates)) {
      const rings = (g.coordinates as unknown[][])
        .map((poly) => ringToFlat(poly?.[0]))
        .filter((r): r is number[] => r !== null);
      if (rings.length) contour = rings.reduce((a, b) => (polygonArea(b) > polygonArea(a) ? b : a));
    } else if (g.type === 'Point' && Array.isArray(g.coordinates)) {
      const [x, y] = g.coordinates as number[];
      if (typeof x === 'number' && typeof y === 'number') bbox = [x - half, y - half, 2 * half, 2 * half];
    }
    if (contour) bbox = polygonBbox(contour);
    if (!bbox) continue;
    const cell: AnnotatedCell = { bbox };
    if (contour) cell.contour = contour;
    const name = classificationName(f.properties as Record<string, unknown> | undefined);
    if (name !== undefined) cell.className = name.normalize('NFC');
    cells.push(cell);
  }
  return { path: path.resolve(opts.imagePath), width: opts.width, height: opts.height, cells };
}

/** Name of the table a GeoJSON export writes beside its files: which image each .geojson belongs to. */
export const GEOJSON_MANIFEST = 'images.csv';

/**
 * Reads a folder of GeoJSON files. With an images.csv (`file,image_path,width,height`, as the export writes) each
 * file maps to its image; otherwise each `<stem>.geojson` pairs with the image of the same stem in `imageDir`.
 */
export function readGeoJsonFolder(dir: string, opts: { imageDir?: string } = {}): AnnotationSet {
  const manifest = path.join(dir, GEOJSON_MANIFEST);
  if (fs.existsSync(manifest)) {
    return {
      images: parseCsvObjects(fs.readFileSync(manifest, 'utf8')).map((r) =>
        readGeoJson(path.join(dir, r.file), {
          imagePath: path.resolve(dir, r.image_path),
          width: Number(r.width) || undefined,
          height: Number(r.height) || undefined,
        }),
      ),
    };
  }
  const images: AnnotatedImage[] = [];
  for (const f of readDirNfc(dir)) {
    if (!f.isFile() || !/\.(geo)?json$/i.test(f.name)) continue;
    const stem = f.name.replace(/\.(geo)?json$/i, '');
    const img = siblingImage(path.join(opts.imageDir ?? dir, stem + '.geojson'));
    if (img) images.push(readGeoJson(path.join(dir, f.name), { imagePath: img }));
  }
  return { images };
}
