import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IngestPool } from '../../src/main/engine/ingest/pool';
import { processImage, type ProcessResult } from '../../src/main/engine/ingest/process-image';
import { EMBED_DEPTH } from '../../src/main/engine/ingest/pool';
import { packCells } from '../../src/main/engine/embed/morphology-cells';
import { dataPath } from '../helpers/data';

const fields = fs
  .readdirSync(dataPath('chula-dev'))
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, 4)
  .map((f) => dataPath('chula-dev', f));

function summary(r: ProcessResult) {
  if (!r.ok) throw new Error(r.message);
  return {
    path: path.basename(r.path),
    sha256: r.sha256,
    cells: r.cells.map((c) => ({
      ...c,
      contour: Array.from(c.contour ?? []),
      thumbnail: Array.from(c.thumbnail),
    })),
    morphology: Array.from(r.morphology),
  };
}

describe('ingest worker pool', () => {
  const pool = new IngestPool(1);
  afterAll(() => pool.close());

  it('runs queued images one at a time, in order, with the same results as in this thread', async () => {
    const done: string[] = [];
    // Everything submitted at once: the single worker holds two, the rest wait for a free slot.
    const viaPool = await Promise.all(
      [...fields, '/nonexistent/field.jpg'].map((f) =>
        pool.process(f, { mode: 'field' }).then((r) => {
          done.push(path.basename(r.path || f));
          return r;
        }),
      ),
    );
    expect(done).toEqual([...fields.map((f) => path.basename(f)), 'field.jpg']);
    const bad = viaPool.pop()!;
    expect(bad.ok).toBe(false);
    // No scale given: each field searches its own, in the worker as in this thread.
    for (const [i, f] of fields.entries()) {
      const here = await processImage(f, { mode: 'field' });
      expect(summary(viaPool[i])).toEqual(summary(here));
      expect(viaPool[i].ok && viaPool[i].cells.length).toBeGreaterThan(20);
    }
  }, 120_000);

  it('serves waiting callers in arrival order: an import is not starved by a re-embedding', async () => {
    const order: string[] = [];
    const none = packCells([]);
    const embed = (name: string) => pool.embedMorphology(fields[0], none).then(() => void order.push(name));
    // More embed tasks than the worker holds (EMBED_DEPTH), then an import's image, then more embed tasks.
    const first = Array.from({ length: EMBED_DEPTH + 4 }, (_, i) => embed(`embed ${i}`));
    const image = pool.process(fields[1], { mode: 'field' }).then((r) => {
      order.push('image');
      return r;
    });
    const later = Array.from({ length: 4 }, (_, i) => embed(`later ${i}`));
    await Promise.all([...first, image, ...later]);
    expect((await image).ok).toBe(true);
    // The image went to the worker before any embed task that arrived after it.
    expect(order.indexOf('image')).toBeLessThan(order.indexOf('later 0'));
    expect(order.filter((o) => o.startsWith('later'))).toEqual(['later 0', 'later 1', 'later 2', 'later 3']);
  }, 120_000);
});
