/**
 * Training data for the cell detector (scripts/seg_train_detector.py), from the DEV data only (txl-dev; the
 * fixture folder is for tests and never trains anything):
 *   node bin/run-ts.mjs scripts/seg_prepare_detector_data.ts [outDir=.cache/seg-train]
 * Each image is resized so that its median RBC box is DETECTOR_CELL_DIAMETER px across (the detector works at
 * a normalised cell scale), and written as raw RGB into images.u8 with an index.json of shapes, offsets, boxes
 * (class, x, y, w, h at the resized scale), source and split. The split is the half split bench/detect.ts uses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { estimateFieldCellRadius } from '../src/main/engine/ingest/segment/field';
import { DETECTOR_CELL_DIAMETER } from '../src/main/engine/ingest/segment/detector';
import { dataPath } from '../test/helpers/data';

const outDir = path.resolve(process.argv[2] ?? '.cache/seg-train');
fs.mkdirSync(outDir, { recursive: true });
const dir = dataPath('txl-dev');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.jpg'))
  .sort();
const out = fs.openSync(path.join(outDir, 'images.u8'), 'w');
let offset = 0;
const index: unknown[] = [];
const ratios = new Map<string, number[]>();
for (const f of files) {
  const file = path.join(dir, f);
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const W = info.width;
  const H = info.height;
  const source =
    W === 640 ? 'bccd' : W === 416 ? 'bcd' : W === 575 ? 'raabin' : W < 400 ? 'pbc' : `other-${W}x${H}`;
  const boxes = fs
    .readFileSync(file.replace(/\.jpg$/, '.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((p) => p.length >= 5 && Number.isFinite(p[0]))
    .map((p) => [p[0], (p[1] - p[3] / 2) * W, (p[2] - p[4] / 2) * H, p[3] * W, p[4] * H]);
  // Cells cut by the border have short boxes; the scale comes from whole ones.
  const whole = boxes.filter(
    (b) => b[0] === 1 && b[1] > 1 && b[2] > 1 && b[1] + b[3] < W - 1 && b[2] + b[4] < H - 1,
  );
  const diam = whole.map((b) => Math.sqrt(b[3] * b[4])).sort((a, b) => a - b);
  if (diam.length < 2) continue;
  const gtDiameter = diam[Math.floor(diam.length / 2)];
  const estimated = 2 * estimateFieldCellRadius({ data: new Uint8Array(data), width: W, height: H });
  const r = ratios.get(source) ?? [];
  r.push(estimated / gtDiameter);
  ratios.set(source, r);
  const s = DETECTOR_CELL_DIAMETER / gtDiameter;
  const w = Math.max(16, Math.round(W * s));
  const h = Math.max(16, Math.round(H * s));
  const resized = await sharp(data, { raw: { width: W, height: H, channels: 3 } })
    .resize(w, h, { kernel: 'linear' })
    .raw()
    .toBuffer();
  fs.writeSync(out, resized);
  const byte = createHash('sha256').update(f).digest()[0];
  index.push({
    name: f,
    source,
    split: byte % 2 === 0 ? 'even' : 'odd',
    width: w,
    height: h,
    offset,
    scale: s,
    boxes: boxes.map((b) => [b[0], b[1] * (w / W), b[2] * (h / H), b[3] * (w / W), b[4] * (h / H)]),
  });
  offset += resized.length;
}
fs.closeSync(out);
fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(index));
const summary: Record<string, unknown> = {};
for (const [source, r] of ratios) {
  r.sort((a, b) => a - b);
  summary[source] = {
    images: r.length,
    estimateOverTruth: {
      p10: r[Math.floor(r.length * 0.1)],
      median: r[Math.floor(r.length / 2)],
      p90: r[Math.floor(r.length * 0.9)],
    },
  };
}
console.log(JSON.stringify({ images: index.length, bytes: offset, scaleEstimate: summary }, null, 2));
