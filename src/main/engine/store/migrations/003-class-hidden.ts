import type { Database } from 'better-sqlite3';
import type { Migration } from './index';

/**
 * A class no cell carries any more can be hidden: it leaves the class bar and frees its hotkey, but its row stays
 * because the label log, review decisions and old prediction runs still name it.
 */
export const m003ClassHidden: Migration = {
  version: 3,
  name: '003-class-hidden',
  up(db: Database) {
    db.exec(`ALTER TABLE classes ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1))`);
  },
};
