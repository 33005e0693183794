import type { Database } from 'better-sqlite3';
import { m001Initial } from './001-initial';
import { m002Review } from './002-review';
import { m003ClassHidden } from './003-class-hidden';

export interface Migration {
  version: number;
  name: string;
  up: (db: Database) => void;
}

/**
 * Shipped migrations are never edited: a released database has already run them. Add a new numbered file instead.
 * Versions must rise by exactly one so a gap (a lost file in a merge) fails loudly at start-up.
 */
export const MIGRATIONS: readonly Migration[] = [m001Initial, m002Review, m003ClassHidden];

export const SCHEMA_VERSION = MIGRATIONS.length;

for (let i = 0; i < MIGRATIONS.length; i++) {
  if (MIGRATIONS[i].version !== i + 1) {
    throw new Error(`migration list is out of order at ${MIGRATIONS[i].name}: expected version ${i + 1}`);
  }
}
