import { createHash } from 'node:crypto';
import type { CellStore } from '../../src/main/engine/store/store';

/**
 * Everything ingest stores per cell (geometry, measures, thumbnail, morphology vector, label), by slide name:
 * `<cell count>:<digest>`. Two imports of the same files compare equal only if they stored the same cells.
 */
export function storedDigest(store: CellStore): Record<string, string> {
  const model = store.listModels().find((m) => m.kind === 'morphology')!;
  const { cellIds, vectors, dims } = store.getEmbeddings(model.id);
  const row = new Map(Array.from(cellIds, (id, i) => [id, i]));
  const out: Record<string, string> = {};
  for (const slide of store.listSlides()) {
    const h = createHash('sha256');
    for (const c of store.queryCells({ imageIds: [slide.id] })) {
      // The slide's name is the key, not part of what was stored for the cell.
      const { id: _id, imageId: _img, imageName: _name, ...cell } = store.getCell(c.id)!;
      h.update(JSON.stringify(cell));
      h.update(store.getThumbnail(c.id)!);
      const i = row.get(c.id)!;
      h.update(new Uint8Array(vectors.buffer, i * dims * 4, dims * 4));
    }
    out[slide.name] = `${slide.cellCount}:${h.digest('hex').slice(0, 16)}`;
  }
  return out;
}
