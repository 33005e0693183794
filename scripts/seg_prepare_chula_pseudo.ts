/**
 * Distillation data for the cell detector: the txl-dev training set (scripts/seg_prepare_detector_data.ts) plus
 * the chula-dev fields of the training half (file-name hash odd, as bench/detect.ts --split even holds out),
 * labelled with the boxes a teacher detector finds there (Chula gives only labeled centres, and not for every
 * cell, so its own labels cannot make boxes):
 *   node bin/run-ts.mjs scripts/seg_prepare_chula_pseudo.ts [teacher.onnx] [inDir=.cache/seg-train] [outDir=.cache/seg-train-chula]
 * Why: nets trained longer on txl-dev learn its annotators' habit of leaving out small dense cells (spherocytes,
 * microcytes) that a morphology tool must keep; the shipped detector still finds them on Chula fields.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../src/main/engine/ingest/decode';
import {
  CellDetector,
  DETECTOR_CELL_DIAMETER,
  defaultDetectorPath,
} from '../src/main/engine/ingest/segment/detector';
import { dataPath } from '../test/helpers/data';
import { inHeldOutHalf } from '../bench/detection-truth';

const teacherPath = path.resolve(process.argv[2] ?? defaultDetectorPath());
const inDir = path.resolve(process.argv[3] ?? '.cache/seg-train');
const outDir = path.resolve(process.argv[4] ?? '.cache/seg-train-chula');
fs.mkdirSync(outDir, { recursive: true });
const index = JSON.parse(fs.readFileSync(path.join(inDir, 'index.json'), 'utf8')) as Array<{
  offset: number;
}>;
const images = fs.readFileSync(path.join(inDir, 'images.u8'));
const out = fs.openSync(path.join(outDir, 'images.u8'), 'w');
fs.writeSync(out, images);
let offset = images.length;
const teacher = await CellDetector.load(teacherPath);
const dir = dataPath('chula-dev');
const CLASS = { wbc: 0, rbc: 1, platelet: 2 } as const;
let added = 0;
let boxes = 0;
for (const f of fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.jpg'))
  .sort()) {
  if (inHeldOutHalf(f, 'even')) continue;
  const img = await decodeImage(path.join(dir, f));
  const found = await teacher.detect(img);
  const s = DETECTOR_CELL_DIAMETER / found.cellDiameter;
  const w = Math.max(16, Math.round(img.width * s));
  const h = Math.max(16, Math.round(img.height * s));
  const resized = await sharp(Buffer.from(img.data), {
    raw: { width: img.width, height: img.height, channels: 3 },
  })
    .resize(w, h, { kernel: 'linear' })
    .raw()
    .toBuffer();
  fs.writeSync(out, resized);
  const sx = w / img.width;
  const sy = h / img.height;
  index.push({
    name: f,
    source: 'chula',
    split: 'odd',
    width: w,
    height: h,
    offset,
    scale: s,
    boxes: found.detections.map((d) => [
      CLASS[d.kind],
      d.bbox[0] * sx,
      d.bbox[1] * sy,
      d.bbox[2] * sx,
      d.bbox[3] * sy,
    ]),
  } as never);
  offset += resized.length;
  added++;
  boxes += found.detections.length;
}
fs.closeSync(out);
fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(index));
console.log(JSON.stringify({ teacher: teacherPath, chulaFields: added, boxes, bytes: offset }));
