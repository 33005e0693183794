import fs from 'node:fs';
import path from 'node:path';

function tempName(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}.tmp`,
  );
}

/** Writes a file beside the target and renames it over: readers see the old file or the whole new one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Builds a whole output folder in a temporary folder beside `target`, then swaps it in. A cancelled or crashed
 * export leaves no half-written dataset under the target name (at worst a hidden .tmp folder, removed here on error).
 * An existing target is replaced only after the new one is complete.
 */
export async function writeDirAtomic<T>(target: string, build: (tmpDir: string) => Promise<T>): Promise<T> {
  const parent = path.dirname(path.resolve(target));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = tempName(path.resolve(target));
  fs.mkdirSync(tmp);
  let result: T;
  try {
    result = await build(tmp);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  if (fs.existsSync(target)) {
    const old = tempName(path.resolve(target)) + '.old';
    fs.renameSync(target, old);
    try {
      fs.renameSync(tmp, target);
    } catch (err) {
      fs.renameSync(old, target);
      fs.rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, target);
  }
  return result;
}
