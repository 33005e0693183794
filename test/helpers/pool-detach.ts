// Run by test/integration/ingest-worker-detach.test.ts under `node --trace-protector-invalidation`: starts a
// one-worker ingest pool, waits for its warm-up, then gives it `argv[2]` chula-dev fields to segment and `argv[3]`
// of them to re-embed, printing markers between the steps, so the test can count V8's ArrayBufferDetaching
// invalidations made while the worker works.
import fs from 'node:fs';
import { IngestPool } from '../../src/main/engine/ingest/pool';
import { packCells } from '../../src/main/engine/embed/morphology-cells';
import type { ProcessResult } from '../../src/main/engine/ingest/process-image';
import { dataPath } from './data';

const mark = (s: string) => (process as unknown as { _rawDebug(s: string): void })._rawDebug(`--- ${s}`);
{
  const [fieldCount, embedCount] = process.argv.slice(2).map(Number);
  const fields = fs
    .readdirSync(dataPath('chula-dev'))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, fieldCount)
    .map((f) => dataPath('chula-dev', f));
  const pool = new IngestPool(1);
  await pool.ready;
  mark('ready');
  const results: Array<ProcessResult & { ok: true }> = [];
  for (const f of fields) {
    const r = await pool.process(f, { mode: 'field' });
    if (!r.ok) throw new Error(r.message);
    results.push(r);
    mark(`field ${r.cells.length} cells`);
  }
  for (const r of results.slice(0, embedCount)) {
    const cells = packCells(r.cells.map((c) => ({ bbox: c.bbox, contour: c.contour ?? [] })));
    const v = await pool.embedMorphology(r.path, cells);
    mark(`embedded ${v.length} values`);
  }
  mark('closing');
  await pool.close();
}
