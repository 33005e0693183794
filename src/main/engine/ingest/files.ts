import fs from 'node:fs';
import path from 'node:path';

/** Fields larger than this are segmented in tiles read from the file one region at a time. */
export const LARGE_FIELD_PIXELS = 4096 * 4096;

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp']);

export interface IngestFile {
  path: string;
  /** For crop imports in a class-per-folder layout: the folder name under the import root. */
  className: string | null;
}

export interface FileListing {
  files: IngestFile[];
  /** Paths named explicitly that cannot be read at all (missing, permission). */
  missing: Array<{ path: string; message: string }>;
}

/**
 * Expands files and folders (recursively, sorted, hidden entries skipped) into image files. Inside folders only
 * image extensions are taken, so annotation files beside the images are not reported as bad images; a file named
 * explicitly is always attempted, so a mislabeled or broken file gets its own clear error.
 */
export function listIngestFiles(paths: readonly string[], opts: { classFolders: boolean }): FileListing {
  const files: IngestFile[] = [];
  const missing: FileListing['missing'] = [];
  for (const p of paths) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (err) {
      missing.push({
        path: p,
        message: `cannot read ${p}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (err as Error).message}`,
      });
      continue;
    }
    if (!st.isDirectory()) {
      files.push({ path: path.resolve(p), className: null });
      continue;
    }
    const root = path.resolve(p);
    const found: string[] = [];
    walk(root, found);
    found.sort();
    const hasSubfolders = found.some((f) => path.dirname(f) !== root);
    for (const f of found) {
      const rel = path.relative(root, path.dirname(f));
      const className =
        opts.classFolders && hasSubfolders && rel ? rel.split(path.sep)[0].normalize('NFC') : null;
      files.push({ path: f, className });
    }
  }
  return { files, missing };
}

function walk(dir: string, out: string[]): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.isFile() && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) out.push(full);
  }
}
