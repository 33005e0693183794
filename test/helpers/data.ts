import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Real public RBC data shared by all sessions; see ../shared/data/README.md. */
export const SHARED_DATA = path.resolve(PROJECT_ROOT, '../shared/data');

export function dataPath(...parts: string[]): string {
  return path.join(SHARED_DATA, ...parts);
}

/** A fresh temporary folder, removed by the caller's afterEach/afterAll via the returned cleanup. */
export function tempDir(prefix = 'reddino-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
