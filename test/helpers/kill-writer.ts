// Child process for the crash test: commits some cells, then sits inside an open write transaction until killed.
import { CellStore } from '../../src/main/engine/store/store';

const [dir, committedArg] = process.argv.slice(2);
const store = CellStore.open(dir);
const committed = Number(committedArg);
const imageId = store.addImage({
  path: '/x.png',
  name: 'x.png',
  sha256: 'crash',
  width: 10,
  height: 10,
  format: 'png',
});
store.transaction(() => {
  for (let i = 0; i < committed; i++) {
    store.addCell(imageId, { kind: 'rbc', origin: 'segmented', bbox: [i, 0, 5, 5], centroid: [i + 2, 2] });
  }
});
store.db.exec('BEGIN IMMEDIATE');
const ins = store.db.prepare(
  `INSERT INTO cells (image_id, kind, origin, x, y, w, h, cx, cy, thumbnail) VALUES (?, 'rbc', 'segmented', 0, 0, 1, 1, 0, 0, ?)`,
);
let n = 0;
const blob = Buffer.alloc(4096, 7);
// Enough uncommitted pages to spill into the WAL before the kill lands.
for (; n < 20000; n++) ins.run(imageId, blob);
process.stdout.write(`in-transaction ${n}\n`);
setInterval(() => ins.run(imageId, blob), 1);
