/**
 * Cell detection quality and throughput on the dev data (see ../shared/data/README.md).
 *   node bin/run-ts.mjs bench/detect.ts [--detector none|default|file.onnx] [--limit N] [--overlays K]
 *     [--split all|even|odd] [--out name] [--no-write]
 * TXL-PBC: F1 at IoU >= 0.5 (and recall at IoU >= 0.3) against RBC boxes, grouped by source (image size).
 * BCCD fixture (Pascal VOC): recall. Chula: labeled centres inside a detected RBC, and matched one-to-one.
 * --split even|odd keeps the images whose name hash is even/odd (the held-out half of scripts/seg_train).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../src/main/engine/ingest/decode';
import { segmentCells } from '../src/main/engine/ingest/segment/cells';
import { CellDetector, defaultDetectorPath } from '../src/main/engine/ingest/segment/detector';
import type { SegmentedCell } from '../src/main/engine/ingest/segment/types';
import { dataPath } from '../test/helpers/data';
import { centreOwners, inHeldOutHalf, matchBoxes, readCentres, readYolo, type Box } from './detection-truth';

const args = process.argv.slice(2);
const argValue = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const limit = Number(argValue('--limit', '0')) || Infinity;
const overlaysPerSource = Number(argValue('--overlays', '0'));
const split = argValue('--split', 'all');
const write = !args.includes('--no-write');
const outName = argValue('--out', 'detect');
// --detector none | default | <path.onnx>
const detectorArg = argValue('--detector', 'default');
const threshold = Number(argValue('--threshold', '0')) || undefined;
const OVERLAY_DIR = path.resolve('bench/overlays');

function keep(name: string): boolean {
  return split === 'all' || inHeldOutHalf(name, split as 'even' | 'odd');
}

interface Counts {
  tp: number;
  fp: number;
  fn: number;
}
const prf = (c: Counts) => {
  const precision = c.tp / Math.max(1, c.tp + c.fp);
  const recall = c.tp / Math.max(1, c.tp + c.fn);
  return {
    precision: round(precision),
    recall: round(recall),
    f1: round((2 * precision * recall) / Math.max(1e-9, precision + recall)),
  };
};
const round = (v: number) => Math.round(v * 10000) / 10000;

function readVoc(file: string, name: string): Box[] {
  const xml = fs.readFileSync(file, 'utf8');
  const boxes: Box[] = [];
  for (const m of xml.matchAll(/<object>([\s\S]*?)<\/object>/g)) {
    if (!new RegExp(`<name>\\s*${name}\\s*</name>`).test(m[1])) continue;
    const num = (tag: string) =>
      Number(new RegExp(`<${tag}>\\s*([\\d.]+)\\s*</${tag}>`).exec(m[1])?.[1] ?? NaN);
    const [x0, y0, x1, y1] = [num('xmin'), num('ymin'), num('xmax'), num('ymax')];
    boxes.push([x0, y0, x1 - x0, y1 - y0]);
  }
  return boxes;
}

function txlSource(width: number, height: number): string {
  if (width === 640 && height === 480) return 'bccd';
  if (width === 416 && height === 416) return 'bcd';
  if (width === 575 && height === 575) return 'raabin';
  if (width < 400 && height < 400) return 'pbc';
  return `other-${width}x${height}`;
}

interface Overlay {
  file: string;
  source: string;
  score: number;
  cells: SegmentedCell[];
  truth: Box[];
  matchedTruth: Set<number>;
  matchedPred: Set<number>;
  points?: Array<[number, number]>;
}

async function writeOverlay(o: Overlay, name: string): Promise<void> {
  const meta = await sharp(o.file).metadata();
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  const parts: string[] = [];
  o.truth.forEach((b, j) => {
    const color = o.matchedTruth.has(j) ? '#00a000' : '#ff00ff';
    parts.push(
      `<rect x="${b[0]}" y="${b[1]}" width="${b[2]}" height="${b[3]}" fill="none" stroke="${color}" stroke-width="1" stroke-dasharray="3,2"/>`,
    );
  });
  o.cells.forEach((c, i) => {
    const pts: string[] = [];
    for (let k = 0; k < c.contour.length; k += 2) pts.push(`${c.contour[k]},${c.contour[k + 1]}`);
    const color = c.kind !== 'rbc' ? '#0050ff' : o.matchedPred.has(i) ? '#ffff00' : '#ff2020';
    parts.push(`<polygon points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="1"/>`);
  });
  for (const [x, y] of o.points ?? []) parts.push(`<circle cx="${x}" cy="${y}" r="2" fill="#00ff00"/>`);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${parts.join('')}</svg>`;
  fs.mkdirSync(OVERLAY_DIR, { recursive: true });
  await sharp(o.file)
    .composite([{ input: Buffer.from(svg), left: 0, top: 0 }])
    .png()
    .toFile(path.join(OVERLAY_DIR, name));
}

async function main(): Promise<void> {
  const load = os.loadavg();
  const timing = { pixels640: 0, cells640: 0, ms640: 0, images640: 0 };
  const detector =
    detectorArg === 'none'
      ? null
      : await CellDetector.load(
          detectorArg === 'default' ? defaultDetectorPath() : path.resolve(detectorArg),
        );
  const detect = async (file: string) => {
    const t0 = performance.now();
    const img = await decodeImage(file);
    const { cells } = await segmentCells(img, { detector, threshold });
    const ms = performance.now() - t0;
    if (img.width === 640 && img.height === 480) {
      timing.ms640 += ms;
      timing.cells640 += cells.length;
      timing.images640++;
    }
    return { img, cells };
  };

  // TXL-PBC dev: four sources.
  const txlDir = dataPath('txl-dev');
  const perSource = new Map<string, { c50: Counts; c30: Counts; images: number; overlays: Overlay[] }>();
  const txlFiles = fs
    .readdirSync(txlDir)
    .filter((f) => f.endsWith('.jpg') && keep(f))
    .sort();
  for (const f of txlFiles) {
    const file = path.join(txlDir, f);
    const meta = await sharp(file).metadata();
    const source = txlSource(meta.width ?? 0, meta.height ?? 0);
    let entry = perSource.get(source);
    if (!entry) {
      entry = { c50: { tp: 0, fp: 0, fn: 0 }, c30: { tp: 0, fp: 0, fn: 0 }, images: 0, overlays: [] };
      perSource.set(source, entry);
    }
    if (entry.images >= limit) continue;
    entry.images++;
    const { img, cells } = await detect(file);
    const truth = readYolo(file.replace(/\.jpg$/, '.txt'), img.width, img.height, 1);
    const rbcIdx = cells.map((c, i) => (c.kind === 'rbc' ? i : -1)).filter((i) => i >= 0);
    const pred = rbcIdx.map((i) => cells[i].bbox);
    for (const [minIou, c] of [
      [0.5, entry.c50],
      [0.3, entry.c30],
    ] as const) {
      const m = matchBoxes(pred, truth, minIou);
      c.tp += m.length;
      c.fp += pred.length - m.length;
      c.fn += truth.length - m.length;
      if (minIou === 0.5 && overlaysPerSource > 0) {
        const errors = pred.length + truth.length - 2 * m.length;
        entry.overlays.push({
          file,
          source,
          score: errors / Math.max(1, truth.length),
          cells,
          truth,
          matchedTruth: new Set(m.map(([, j]) => j)),
          matchedPred: new Set(m.map(([i]) => rbcIdx[i])),
        });
        entry.overlays.sort((a, b) => b.score - a.score);
        entry.overlays.length = Math.min(entry.overlays.length, overlaysPerSource);
      }
    }
  }
  const txl: Record<string, unknown> = {};
  for (const [source, e] of [...perSource].sort()) {
    txl[source] = {
      images: e.images,
      iou50: { ...e.c50, ...prf(e.c50) },
      iou30: { ...e.c30, ...prf(e.c30) },
    };
    for (const [k, o] of e.overlays.entries()) await writeOverlay(o, `txl-${source}-${k}.png`);
  }

  // BCCD fixture, Pascal VOC boxes.
  const cbcDir = dataPath('fixture', 'cbc_fields');
  const cbc50: Counts = { tp: 0, fp: 0, fn: 0 };
  const cbc30: Counts = { tp: 0, fp: 0, fn: 0 };
  for (const f of fs.readdirSync(cbcDir).filter((f) => f.endsWith('.jpg'))) {
    const file = path.join(cbcDir, f);
    const { cells } = await detect(file);
    const truth = readVoc(file.replace(/\.jpg$/, '.xml'), 'RBC');
    const pred = cells.filter((c) => c.kind === 'rbc').map((c) => c.bbox);
    for (const [minIou, c] of [
      [0.5, cbc50],
      [0.3, cbc30],
    ] as const) {
      const m = matchBoxes(pred, truth, minIou);
      c.tp += m.length;
      c.fp += pred.length - m.length;
      c.fn += truth.length - m.length;
    }
  }

  // Chula dev: labeled centres (not every cell is labeled, so precision is not measurable here).
  const chulaDir = dataPath('chula-dev');
  let centres = 0;
  let inside = 0;
  let oneToOne = 0;
  let detections = 0;
  let detectionsWithCentre = 0;
  let chulaImages = 0;
  const chulaOverlays: Overlay[] = [];
  for (const f of fs
    .readdirSync(chulaDir)
    .filter((f) => f.endsWith('.jpg') && keep(f))
    .sort()) {
    if (chulaImages >= limit) break;
    chulaImages++;
    const file = path.join(chulaDir, f);
    const { img, cells } = await detect(file);
    const points = readCentres(file.replace(/\.jpg$/, '.txt'));
    const rbcs = cells.filter((c) => c.kind === 'rbc');
    const held = new Int32Array(rbcs.length);
    const owners = centreOwners(rbcs, points, img.width, img.height);
    for (const o of owners) if (o >= 0) held[o]++;
    centres += points.length;
    let missed = 0;
    for (const o of owners) {
      if (o >= 0) inside++;
      else missed++;
      if (o >= 0 && held[o] === 1) oneToOne++;
    }
    detections += rbcs.length;
    for (const h of held) if (h > 0) detectionsWithCentre++;
    if (overlaysPerSource > 0) {
      const merged = owners.filter((o) => o >= 0 && held[o] > 1).length;
      chulaOverlays.push({
        file,
        source: 'chula',
        score: (missed + merged) / Math.max(1, points.length),
        cells,
        truth: [],
        matchedTruth: new Set(),
        matchedPred: new Set(cells.map((c, i) => (c.kind === 'rbc' && held[rbcs.indexOf(c)] === 1 ? i : -1))),
        points,
      });
      chulaOverlays.sort((a, b) => b.score - a.score);
      chulaOverlays.length = Math.min(chulaOverlays.length, overlaysPerSource);
    }
  }
  for (const [k, o] of chulaOverlays.entries()) await writeOverlay(o, `chula-${k}.png`);

  // Steady-state ingest of one scanner's fields: the scale is found on the first field and reused, as an
  // import of a slide's fields would do (one detector pass per field instead of the 4-6 of a scale search).
  const steadyFiles = fs
    .readdirSync(chulaDir)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, 40)
    .map((f) => path.join(chulaDir, f));
  const first = await segmentCells(await decodeImage(steadyFiles[0]), { detector, threshold });
  let steadyCells = 0;
  const steadyStart = performance.now();
  for (const file of steadyFiles.slice(1)) {
    const img = await decodeImage(file);
    steadyCells += (await segmentCells(img, { detector, threshold, cellDiameter: first.cellDiameter })).cells
      .length;
  }
  const steadyMs = performance.now() - steadyStart;

  const result = {
    bench: 'detect',
    method: detector
      ? `detector ${path.relative(process.cwd(), detectorArg === 'default' ? defaultDetectorPath() : path.resolve(detectorArg))}${detector.isPair ? ' + its companion (sidecar .json), candidates rescored once contoured' : ''} boxes + classical contours`
      : 'classical: green optical density + Otsu, pallor filling, distance-transform watershed (h-dynamics)',
    split,
    threshold: threshold ?? 'default',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavg1m: round(load[0]) },
    txl,
    cbcFixture: { images: 10, iou50: { ...cbc50, ...prf(cbc50) }, iou30: { ...cbc30, ...prf(cbc30) } },
    chula: {
      images: chulaImages,
      labeledCentres: centres,
      centresInsideRbc: round(inside / Math.max(1, centres)),
      centresMatchedOneToOne: round(oneToOne / Math.max(1, centres)),
      rbcDetections: detections,
      detectionsHoldingLabeledCentre: round(detectionsWithCentre / Math.max(1, detections)),
    },
    throughput640x480: {
      images: timing.images640,
      cells: timing.cells640,
      msPerImage: round(timing.ms640 / Math.max(1, timing.images640)),
      cellsPerSecondOneCore: Math.round((timing.cells640 / timing.ms640) * 1000),
      note: 'decode (sharp, JPEG) + segmentField on one thread; thumbnails and storage not included',
    },
    throughputKnownScale640x480: {
      images: steadyFiles.length - 1,
      cells: steadyCells,
      msPerImage: round(steadyMs / (steadyFiles.length - 1)),
      cellsPerSecondOneCore: Math.round((steadyCells / steadyMs) * 1000),
      note: 'chula-dev fields, cell diameter found on the first field and passed to the rest',
    },
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    loadavgAfter1m: round(os.loadavg()[0]),
  };
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  if (write) {
    fs.mkdirSync('bench/results', { recursive: true });
    fs.writeFileSync(`bench/results/${outName}${split === 'all' ? '' : `-${split}`}.json`, json + '\n');
  }
}

await main();
