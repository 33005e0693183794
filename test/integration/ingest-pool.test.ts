import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IngestPool } from '../../src/main/engine/ingest/pool';
import { processImage, type ProcessResult } from '../../src/main/engine/ingest/process-image';
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
});
