/**
 * Tile pyramid of a large field: time to build it on first request (one libvips pass writing every level), how
 * many tiles and bytes it holds, peak RSS, and the time to serve a tile once built.
 *   node bin/run-ts.mjs bench/tiles.ts [--side 16384] [--no-write]
 * The field is a real Chula smear field (640x480) repeated across side x side px, saved as JPEG by a child
 * process. Prints one JSON object and writes bench/results/tiles.json.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CellStore } from '../src/main/engine/store/store';
import { ensurePyramid, readTile } from '../src/main/engine/services/tiles';
import { pyramidLevels } from '../src/shared/pyramid';
import { dataPath } from '../test/helpers/data';

const args = process.argv.slice(2);
const side = Number(args[args.indexOf('--side') + 1]) || 16384;
const write = !args.includes('--no-write');

/** A real Chula smear field (640x480) repeated across side x side px, as JPEG. */
async function makeField(file: string, n: number): Promise<void> {
  const piece = await sharp(dataPath('fixture', 'chula_fields', '2.jpg')).toBuffer();
  await sharp({
    create: { width: n, height: n, channels: 3, background: '#ffffff' },
    limitInputPixels: false,
  })
    .composite([{ input: piece, tile: true }])
    .jpeg({ quality: 90 })
    .toFile(file);
}

if (args[0] === '--make-field') {
  await makeField(args[1], Number(args[2]));
  process.exit(0);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'reddino-bench-tiles-'));
try {
  const file = path.join(root, 'field.jpg');
  const t0 = performance.now();
  // In a child process, so this process's peak RSS is the pyramid build's alone.
  execFileSync(process.execPath, ['bin/run-ts.mjs', 'bench/tiles.ts', '--make-field', file, String(side)], {
    stdio: 'inherit',
  });
  const makeSeconds = (performance.now() - t0) / 1000;

  const store = CellStore.create(path.join(root, 'p.rdproj'));
  const imageId = store.addImage({
    path: file,
    name: 'field.jpg',
    sha256: '00'.repeat(32),
    width: side,
    height: side,
    format: 'jpeg',
  });
  const t1 = performance.now();
  const { dir, levels } = await ensurePyramid(store, imageId);
  const buildSeconds = (performance.now() - t1) / 1000;

  let tiles = 0;
  let bytes = 0;
  for (const l of fs.readdirSync(path.join(dir, 'p_files')).filter((n) => /^\d+$/.test(n))) {
    for (const f of fs.readdirSync(path.join(dir, 'p_files', l))) {
      tiles++;
      bytes += fs.statSync(path.join(dir, 'p_files', l, f)).size;
    }
  }
  // Serving: random full-resolution tiles, as a pan at 1:1 would ask for them.
  const l0 = pyramidLevels(side, side)[0];
  const n = 200;
  const t2 = performance.now();
  for (let i = 0; i < n; i++) {
    const x = (i * 7919) % l0.cols;
    const y = (i * 104729) % l0.rows;
    await readTile(store, imageId, { level: 0, x, y });
  }
  const tileMs = (performance.now() - t2) / n;
  store.close();

  const result = {
    bench: 'tiles',
    field: `${side}x${side}`,
    megapixels: Math.round((side * side) / 1e5) / 10,
    fieldFileMB: Math.round(fs.statSync(file).size / 1e5) / 10,
    makeFieldSeconds: Math.round(makeSeconds * 10) / 10,
    buildSeconds: Math.round(buildSeconds * 100) / 100,
    megapixelsPerSecond: Math.round((side * side) / 1e6 / buildSeconds),
    levels: levels.length,
    tiles,
    pyramidMB: Math.round(bytes / 1e5) / 10,
    serveTileMs: Math.round(tileMs * 1000) / 1000,
    // This process: open the store, build the pyramid, serve tiles (getrusage maxrss).
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1e3),
    loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    cpus: os.cpus().length,
  };
  console.log(JSON.stringify(result, null, 2));
  if (write) {
    fs.mkdirSync('bench/results', { recursive: true });
    fs.writeFileSync('bench/results/tiles.json', JSON.stringify(result, null, 2) + '\n');
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
