import fs from 'node:fs';
import path from 'node:path';
import { IMAGE_EXTENSIONS } from './types';

/**
 * A class or image name made safe as one path segment on Windows, macOS and Linux. Non-ASCII letters are kept
 * (labs name classes in their own language); only separators, reserved characters and control characters go.
 */
export function safeFileName(name: string): string {
  const cleaned = name
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[/\\:*?"<>|\u0000-\u001f\u007f]/g, '_')
    .replace(/[. ]+$/, '')
    .trim();
  const reserved = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i.test(cleaned);
  if (!cleaned || cleaned === '.' || cleaned === '..' || reserved) return `_${cleaned}`;
  return cleaned;
}

/** File names as read from disk in NFC: macOS returns decomposed (NFD) names that would not equal the stored ones. */
export function readDirNfc(dir: string): fs.Dirent[] {
  return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
}

export function nfc(s: string): string {
  return s.normalize('NFC');
}

/** The image beside an annotation file with the same stem, or null. */
export function siblingImage(annotationFile: string): string | null {
  const dir = path.dirname(annotationFile);
  const stem = path.basename(annotationFile, path.extname(annotationFile));
  for (const ext of IMAGE_EXTENSIONS) {
    for (const e of [ext, ext.toUpperCase()]) {
      const p = path.join(dir, stem + e);
      if (fs.existsSync(p)) return p;
    }
  }
  return null;
}

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}
