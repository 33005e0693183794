import fs from 'node:fs';
import sharp from 'sharp';
import type { Engine } from './engine';
import { decodeImage } from './ingest/decode';
import { readTile, type TileIndex } from './services/tiles';
import { StoreError } from './store/errors';

export interface MediaResponse {
  status: number;
  type: string;
  body: Buffer | string;
}

/**
 * Bytes behind `cell://thumb/<id>`, `cell://image/<id>` and `cell://tile/<id>/<level>/<x>/<y>` (desktop) or
 * `/media/...` (web host). The renderer names a cell, slide or tile by id; it never sees or chooses a file path.
 */
export async function mediaResponse(
  engine: Engine,
  kind: 'thumb' | 'image' | 'tile',
  id: number,
  tile?: TileIndex,
): Promise<MediaResponse> {
  if (!engine.hasProject()) return { status: 404, type: 'text/plain', body: 'no project open' };
  const store = engine.project;
  if (kind === 'tile') {
    // A field whose file was moved away has no pyramid to build: that is a missing tile, not a server fault.
    const t = tile
      ? await readTile(store, id, tile).catch((err: unknown) => {
          if (err instanceof StoreError && err.code === 'not-found') return null;
          throw err;
        })
      : null;
    return t
      ? { status: 200, type: 'image/jpeg', body: t }
      : { status: 404, type: 'text/plain', body: 'no such tile' };
  }
  if (kind === 'thumb') {
    const t = store.getThumbnail(id);
    return t
      ? { status: 200, type: sniff(t), body: t }
      : { status: 404, type: 'text/plain', body: 'no thumbnail' };
  }
  const img = store.getImage(id);
  if (!img || !fs.existsSync(img.path))
    return { status: 404, type: 'text/plain', body: 'image file not found' };
  if (/^(jpeg|png|webp)$/.test(img.format) && img.bitDepth === 8) {
    return { status: 200, type: `image/${img.format}`, body: await fs.promises.readFile(img.path) };
  }
  // TIFF, BMP, 16-bit: browsers cannot show them; convert once per request (large fields use the tile pyramid).
  const d = await decodeImage(img.path);
  const png = await sharp(d.data, { raw: { width: d.width, height: d.height, channels: 3 } })
    .png()
    .toBuffer();
  return { status: 200, type: 'image/png', body: png };
}

function sniff(b: Buffer): string {
  if (b[0] === 0x89 && b[1] === 0x50) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg';
  return 'image/webp';
}
