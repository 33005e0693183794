// Shared by the embedding benches: a project made the way a user makes one (files copied into a folder, then
// imported by runIngest).
import fs from 'node:fs';
import path from 'node:path';
import { CellStore } from '../src/main/engine/store/store';
import { runIngest } from '../src/main/engine/services/ingest';

/** Copies the first `count` `.jpg` files of `from` (in name order) into a new folder `to`; returns `to`. */
export function copyFirstFields(from: string, to: string, count: number): string {
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs
    .readdirSync(from)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, count))
    fs.copyFileSync(path.join(from, f), path.join(to, f));
  return to;
}

/** A new project at `file` with `paths` imported (cells from segmentation); throws if any file failed. */
export async function importedProject(
  file: string,
  paths: string[],
  as: 'fields' | 'crops',
): Promise<CellStore> {
  const store = CellStore.create(file);
  const s = await runIngest(
    store,
    { paths, as, cellsFrom: 'segmentation', annotator: 'bench' },
    { signal: new AbortController().signal, progress: () => {} },
  );
  if (s.failed.length) throw new Error(`${file}: ${s.failed.length} files failed: ${s.failed[0].message}`);
  return store;
}
