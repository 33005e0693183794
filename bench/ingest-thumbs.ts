// Thumbnail cost alone: every segmented cell of a few 640x480 fields, cut, resampled and JPEG-encoded.
// node bin/run-ts.mjs bench/ingest-thumbs.ts [fieldCount=10] [rounds=5]
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeImage } from '../src/main/engine/ingest/decode';
import { fieldScaleOf, type FieldScale, processImage } from '../src/main/engine/ingest/process-image';
import { cellThumbnail } from '../src/main/engine/ingest/thumbnail';
import type { RgbImage } from '../src/main/engine/ingest/segment/types';

const count = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 5);
const src = path.resolve('../shared/data/chula-dev');
// The fields share the first one's scale, as in an import (ImportScales in services/ingest.ts).
let scale: FieldScale | undefined;
const work: Array<{ img: RgbImage; boxes: Array<[number, number, number, number]> }> = [];
for (const f of fs
  .readdirSync(src)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, count)) {
  const p = path.join(src, f);
  const img = await decodeImage(p);
  const r = await processImage(p, { mode: 'field', scale });
  scale ??= fieldScaleOf(r);
  if (!r.ok) throw new Error(r.message);
  work.push({
    img: { data: img.data, width: img.width, height: img.height },
    boxes: r.cells.map((c) => c.bbox),
  });
}
const cells = work.reduce((a, w) => a + w.boxes.length, 0);
const hash = createHash('sha256');
for (const w of work) for (const b of w.boxes) hash.update(cellThumbnail(w.img, b));
const t0 = performance.now();
for (let r = 0; r < rounds; r++) for (const w of work) for (const b of w.boxes) cellThumbnail(w.img, b);
const ms = performance.now() - t0;
console.log(
  JSON.stringify({
    bench: 'ingest-thumbs',
    cells,
    usPerThumbnail: Number(((ms * 1000) / (cells * rounds)).toFixed(1)),
    digest: hash.digest('hex').slice(0, 16),
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  }),
);
