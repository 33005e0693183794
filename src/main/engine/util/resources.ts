import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A file shipped in `resources/` (models, fonts, the demo fields). The desktop app sets REDDINO_RESOURCES_DIR
 * (its bundle does not keep the source layout); the CLI, the web host and tests use the repository's resources.
 */
export function resourcePath(relative: string): string {
  if (process.env.REDDINO_RESOURCES_DIR) return path.join(process.env.REDDINO_RESOURCES_DIR, relative);
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../resources', relative);
}
