import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportProject } from '../../src/main/engine/export/project';
import { buildQuPathGeoJson, readGeoJsonFolder } from '../../src/main/engine/formats/geojson';
import { polygonArea } from '../../src/main/engine/formats/polygon';
import { iterateExportCells } from '../../src/main/engine/store/export-repo';
import { tempDir } from '../helpers/data';
import { buildFixtureProject, type FixtureProject } from './export-fixture';

/**
 * What QuPath's GeoJSON reader accepts, restated from its source (qupath/qupath, qupath-core,
 * QuPathTypeAdapters.PathObjectTypeAdapter.parseObject and GsonTools.PathClassTypeAdapter.read, identical in
 * v0.4.4 and v0.5.1 on these points). Returns the reasons a Feature would be refused or read differently.
 */
function qupathProblems(f: unknown): string[] {
  const bad: string[] = [];
  const feat = f as {
    type?: unknown;
    id?: unknown;
    geometry?: { type?: unknown; coordinates?: unknown };
    properties?: Record<string, unknown>;
  };
  if (feat.type !== 'Feature') bad.push('type is not "Feature"');
  // A non-UUID id is dropped (with a debug log); the export should write none or a UUID.
  if (feat.id !== undefined && !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(String(feat.id))) {
    bad.push('id is not a UUID');
  }
  const g = feat.geometry;
  if (!g || g.type !== 'Polygon' || !Array.isArray(g.coordinates)) bad.push('geometry is not a Polygon');
  else {
    for (const ring of g.coordinates as unknown[]) {
      // JTS GeometryFactory.createLinearRing: closed, and 0 or >= 4 positions.
      if (!Array.isArray(ring) || ring.length < 4) {
        bad.push('ring has fewer than 4 positions');
        continue;
      }
      const pts = ring as number[][];
      if (!pts.every((p) => p.length >= 2 && p.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
        bad.push('ring position is not [x, y] numbers');
      }
      const [a, b] = [pts[0], pts[pts.length - 1]];
      if (a[0] !== b[0] || a[1] !== b[1]) bad.push('ring is not closed');
    }
  }
  const p = feat.properties ?? {};
  // objectType values QuPath maps to an object; anything else (or none) becomes an annotation.
  if (!['detection', 'annotation', 'cell', 'tile'].includes(String(p.objectType))) {
    bad.push('objectType not one QuPath maps');
  }
  if (p.classification !== undefined) {
    const c = p.classification as { name?: unknown; names?: unknown; color?: unknown };
    // PathClassTypeAdapter.read: an object needs ("name" or "names") and "color", else JsonParseException.
    if (typeof c !== 'object' || c === null || (c.name === undefined && c.names === undefined)) {
      bad.push('classification has no name');
    } else if (!Array.isArray(c.color) || c.color.length < 3) {
      bad.push('classification color is not an [r, g, b] array');
    } else if (!c.color.every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255)) {
      bad.push('classification color values are not 0-255 integers');
    }
    // PathClass names may not hold a line break; a colon splits derived classes ("A: B").
    if (typeof c.name === 'string' && /[\n\r]/.test(c.name)) bad.push('class name has a line break');
  }
  if (p.isLocked !== undefined && typeof p.isLocked !== 'boolean') bad.push('isLocked is not a boolean');
  if (p.measurements !== undefined) {
    const m = p.measurements;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) bad.push('measurements is not an object');
    else if (!Object.values(m).every((v) => typeof v === 'number' && Number.isFinite(v))) {
      bad.push('a measurement is not a finite number');
    }
  }
  if (p.metadata !== undefined) {
    const m = p.metadata;
    if (typeof m !== 'object' || m === null || !Object.values(m).every((v) => typeof v === 'string')) {
      bad.push('metadata is not an object of strings');
    }
  }
  return bad;
}

type Fc = { type: string; features: unknown[] };

let tmp: { dir: string; cleanup: () => void };
let p: FixtureProject;

beforeAll(async () => {
  tmp = tempDir('reddino-export-qupath-');
  p = await buildFixtureProject(tmp.dir);
});
afterAll(() => {
  p.store.close();
  tmp.cleanup();
});

describe('GeoJSON export in the shape QuPath reads', () => {
  it('writes every cell as a Feature QuPath accepts, with measurements and metadata back to the cell', async () => {
    const out = path.join(tmp.dir, 'geojson');
    const r = await exportProject(p.store, { format: 'geojson', out });
    const rows = new Map([...iterateExportCells(p.store, {})].map((c) => [c.id, c]));
    let features = 0;
    for (const file of r.files.filter((f) => f.endsWith('.geojson'))) {
      const fc = JSON.parse(fs.readFileSync(path.join(out, file), 'utf8')) as Fc;
      expect(fc.type).toBe('FeatureCollection');
      for (const f of fc.features) {
        expect(qupathProblems(f)).toEqual([]);
        const props = (f as { properties: Record<string, unknown> }).properties;
        const meta = props.metadata as Record<string, string>;
        const row = rows.get(Number(meta.reddinoCellId))!;
        expect(row).toBeDefined();
        expect(meta.kind).toBe(row.kind);
        if (row.annotator !== null) expect(meta.annotator).toBe(row.annotator);
        if (row.labelSource !== null) expect(meta.labelSource).toBe(row.labelSource);
        const m = props.measurements as Record<string, number>;
        expect(m['Area px^2']).toBeCloseTo(row.area!, 3);
        expect(m['Perimeter px']).toBeCloseTo(row.perimeter!, 3);
        expect(m.Circularity).toBeCloseTo(row.circularity!, 3);
        // The fixture stores no convexity or eccentricity: absent, never null or NaN.
        expect('Convexity' in m).toBe(false);
        expect('Eccentricity' in m).toBe(false);
        if (row.className !== null) {
          expect((props.classification as { name: string }).name).toBe(row.className);
        } else expect(props.classification).toBeUndefined();
        features++;
      }
    }
    expect(features).toBe(r.cells);
    expect(features).toBe(rows.size);
    // Our own reader still reads the files back.
    expect(readGeoJsonFolder(out).images.flatMap((im) => im.cells)).toHaveLength(features);
  });

  it('never writes a ring QuPath (JTS) refuses: short or self-closed contours fall back to the bbox', () => {
    const fc = buildQuPathGeoJson([
      // Three positions, the last equal to the first: only 3 once "closed", too few for a LinearRing.
      { bbox: [10, 20, 6, 4], contour: [10, 20, 16, 24, 10, 20], className: 'echinocyte', color: '#CC6677' },
      // A triangle: closed to 4 positions, kept.
      { bbox: [0, 0, 4, 4], contour: [0, 0, 4, 0, 0, 4] },
      // No contour: the bbox.
      { bbox: [1.5, 2.5, 3, 2] },
    ]);
    for (const f of fc.features) expect(qupathProblems(f)).toEqual([]);
    const rings = fc.features.map((f) => f.geometry.coordinates[0]);
    expect(rings[0]).toEqual([
      [10, 20],
      [16, 20],
      [16, 24],
      [10, 24],
      [10, 20],
    ]);
    expect(rings[1]).toEqual([
      [0, 0],
      [4, 0],
      [0, 4],
      [0, 0],
    ]);
    expect(polygonArea(rings[2].slice(0, -1).flat())).toBe(6);
    expect(fc.features[0].properties.classification).toEqual({ name: 'echinocyte', color: [204, 102, 119] });
    expect(fc.features[1].properties.classification).toBeUndefined();
  });

  it('flags what QuPath would refuse (the checker can fail)', () => {
    const good = buildQuPathGeoJson([{ bbox: [0, 0, 2, 2], className: 'x' }]).features[0];
    expect(qupathProblems(good)).toEqual([]);
    const noColor = structuredClone(good);
    (noColor.properties as Record<string, unknown>).classification = { name: 'x' };
    expect(qupathProblems(noColor)).toContain('classification color is not an [r, g, b] array');
    const open = structuredClone(good);
    open.geometry.coordinates[0].pop();
    expect(qupathProblems(open)).toContain('ring is not closed');
    const nanMeasure = structuredClone(good);
    nanMeasure.properties.measurements = { Area: NaN };
    expect(qupathProblems(nanMeasure)).toContain('a measurement is not a finite number');
    const cellId = structuredClone(good);
    cellId.id = '42';
    expect(qupathProblems(cellId)).toContain('id is not a UUID');
  });
});
