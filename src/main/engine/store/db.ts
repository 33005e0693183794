import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations/index';
import { StoreError } from './errors';

export type Db = Database.Database;

export const DB_FILE = 'cells.db';
export const MEDIA_DIR = 'media';
const MARKER = 'reddino-project';

/**
 * Up to this size the integrity check runs before the project opens (well under a second). A larger database
 * (a million cells with thumbnails is gigabytes) opens at once and is checked in the background on a read-only
 * connection (`backgroundIntegrityCheck`); damage found there is reported to the user immediately.
 */
export const SYNC_CHECK_MAX_BYTES = 64 * 1024 * 1024;

export interface OpenOptions {
  create?: boolean;
  readonly?: boolean;
  /** Skip the start-up integrity check (benchmarks of the open path only). */
  skipCheck?: boolean;
}

function nativeBinding(): string | undefined {
  // The desktop app runs the engine under Electron's Node ABI and ships a second build of the addon (see
  // scripts/build-electron-sqlite.mjs); plain Node (CLI, tests) uses the default build.
  const p = process.env.REDDINO_SQLITE_BINDING;
  return p && fs.existsSync(p) ? p : undefined;
}

export function projectDbPath(projectDir: string): string {
  return path.join(projectDir, DB_FILE);
}

export function openDatabase(projectDir: string, opts: OpenOptions = {}): Db {
  const file = projectDbPath(projectDir);
  const exists = fs.existsSync(file);
  if (!exists && !opts.create) {
    if (fs.existsSync(projectDir) && fs.statSync(projectDir).isFile()) {
      throw new StoreError(
        'not-a-project',
        `${projectDir} is a file, not a RedDino project folder. Open the .rdproj folder instead.`,
      );
    }
    throw new StoreError(
      'not-found',
      `No RedDino project at ${projectDir}. Create one with "reddino init ${projectDir}".`,
    );
  }
  if (opts.create) fs.mkdirSync(path.join(projectDir, MEDIA_DIR), { recursive: true });

  let db: Db;
  try {
    db = new Database(file, { readonly: opts.readonly ?? false, nativeBinding: nativeBinding() });
  } catch (err) {
    throw new StoreError('corrupt', `Cannot open ${file}: ${(err as Error).message}`);
  }
  try {
    db.pragma('busy_timeout = 5000');
    if (!opts.readonly) db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    if (!opts.skipCheck && exists) checkIntegrity(db, file);
    migrate(db, file, opts.readonly ?? false);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    const e = err as Error & { code?: string };
    if (e.code === 'SQLITE_NOTADB' || e.code === 'SQLITE_CORRUPT') {
      throw new StoreError(
        'corrupt',
        `${file} is damaged or is not a RedDino project database (${e.message}). Restore it from a backup; the media folder is untouched.`,
      );
    }
    if (e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_LOCKED') {
      throw new StoreError('locked', `${file} is in use by another program. Close it there and try again.`);
    }
    throw err;
  }
}

function checkIntegrity(db: Db, file: string): void {
  if (fs.statSync(file).size > SYNC_CHECK_MAX_BYTES) return;
  const rows = db.pragma('integrity_check') as Array<Record<string, string>>;
  const problems = rows.map((r) => Object.values(r)[0]).filter((v) => v !== 'ok');
  if (problems.length > 0) {
    throw new StoreError(
      'corrupt',
      `${file} failed its integrity check (${problems.slice(0, 3).join('; ')}). Restore it from a backup; do not keep working in it.`,
    );
  }
}

function migrate(db: Db, file: string, readonly: boolean): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new StoreError(
      'newer-schema',
      `${file} was written by a newer RedDino Studio (schema ${current}, this version knows ${SCHEMA_VERSION}). Update the app to open it; it was left unchanged.`,
    );
  }
  if (current > 0) {
    const marker = db.prepare(`SELECT value FROM meta WHERE key = 'app'`).get() as
      { value: string } | undefined;
    if (marker?.value !== MARKER) {
      throw new StoreError('not-a-project', `${file} is an SQLite file but not a RedDino project.`);
    }
  } else if (!readonly) {
    const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as {
      n: number;
    };
    if (tables.n > 0)
      throw new StoreError('not-a-project', `${file} is an SQLite file but not a RedDino project.`);
  }
  if (current === SCHEMA_VERSION) return;
  if (readonly) {
    throw new StoreError(
      'invalid',
      `${file} needs an upgrade to schema ${SCHEMA_VERSION}; open it once read-write.`,
    );
  }
  // All pending migrations in one transaction: a crash mid-upgrade leaves the old schema intact.
  db.transaction(() => {
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      m.up(db);
      if (m.version === 1) db.prepare(`INSERT INTO meta (key, value) VALUES ('app', ?)`).run(MARKER);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/**
 * Full integrity_check of a large project on a worker thread with its own read-only connection, so opening stays
 * fast. Resolves with the problems found (empty when the file is sound).
 */
export function backgroundIntegrityCheck(projectDir: string): Promise<string[]> {
  const file = projectDbPath(projectDir);
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { createRequire } = require('node:module');
    const Database = createRequire(workerData.requireFrom)('better-sqlite3');
    try {
      const db = new Database(workerData.file, { readonly: true, fileMustExist: true, nativeBinding: workerData.binding });
      const rows = db.pragma('integrity_check');
      db.close();
      parentPort.postMessage(rows.map((r) => Object.values(r)[0]).filter((v) => v !== 'ok'));
    } catch (e) {
      parentPort.postMessage([String(e && e.message || e)]);
    }`;
  return new Promise((resolve) => {
    const worker = new Worker(source, {
      eval: true,
      workerData: { file, requireFrom: fileURLToPath(import.meta.url), binding: nativeBinding() },
    });
    worker.once('message', (problems: string[]) => {
      resolve(problems);
      void worker.terminate();
    });
    worker.once('error', (err) => resolve([err.message]));
  });
}
