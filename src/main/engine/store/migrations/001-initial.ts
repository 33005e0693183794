import type { Database } from 'better-sqlite3';
import { DEFAULT_CLASSES } from '../../../../shared/taxonomy';
import type { Migration } from './index';

export const m001Initial: Migration = {
  version: 1,
  name: '001-initial',
  up(db: Database) {
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

      CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        format TEXT NOT NULL,
        bit_depth INTEGER NOT NULL DEFAULT 8,
        kind TEXT NOT NULL DEFAULT 'field' CHECK (kind IN ('field', 'crop')),
        source TEXT,
        subject TEXT,
        stain TEXT,
        added_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE cells (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('rbc', 'wbc', 'platelet', 'unknown')),
        origin TEXT NOT NULL CHECK (origin IN ('segmented', 'imported-crop', 'imported-annotation')),
        x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
        cx REAL NOT NULL, cy REAL NOT NULL,
        touches_border INTEGER NOT NULL DEFAULT 0,
        contour BLOB,
        area REAL, perimeter REAL, circularity REAL, convexity REAL, eccentricity REAL,
        mean_r REAL, mean_g REAL, mean_b REAL,
        thumbnail BLOB
      ) STRICT;
      CREATE INDEX cells_image ON cells(image_id);

      CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('morphology', 'vit-onnx')),
        path TEXT,
        file_sha256 TEXT,
        dims INTEGER NOT NULL,
        input_size INTEGER,
        mean TEXT,
        std TEXT,
        arch TEXT,
        added_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE embeddings (
        model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        dtype TEXT NOT NULL CHECK (dtype IN ('f32', 'f16')),
        vector BLOB NOT NULL,
        PRIMARY KEY (model_id, cell_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE classes (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        color TEXT NOT NULL,
        hotkey TEXT UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        sort_order INTEGER NOT NULL,
        is_rbc INTEGER NOT NULL DEFAULT 1,
        is_infected INTEGER NOT NULL DEFAULT 0,
        needs_review INTEGER NOT NULL DEFAULT 0,
        merged_into INTEGER REFERENCES classes(id)
      ) STRICT;

      CREATE TABLE review_sessions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('single', 'blind')),
        filter TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE review_items (
        session_id INTEGER NOT NULL REFERENCES review_sessions(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        PRIMARY KEY (session_id, position)
      ) STRICT;

      CREATE TABLE review_decisions (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES review_sessions(id) ON DELETE CASCADE,
        cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        reader TEXT NOT NULL,
        class_id INTEGER REFERENCES classes(id),
        decided_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX review_decisions_session ON review_decisions(session_id, cell_id);

      -- One row per user action, so undo/redo act on whole actions (a bulk label of 500 cells is one step).
      CREATE TABLE label_batches (
        id INTEGER PRIMARY KEY,
        action TEXT NOT NULL CHECK (action IN ('apply', 'undo', 'redo')),
        target_batch INTEGER REFERENCES label_batches(id),
        state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'undone')),
        undone_by INTEGER,
        source TEXT NOT NULL CHECK (source IN ('manual', 'suggestion', 'bulk', 'propagated', 'imported', 'review')),
        annotator TEXT NOT NULL,
        session_id INTEGER REFERENCES review_sessions(id),
        model_id INTEGER REFERENCES models(id),
        run_id INTEGER,
        note TEXT,
        created_at TEXT NOT NULL
      ) STRICT;

      -- Append-only: the current label of a cell is its newest row. A NULL class_id is a retraction.
      CREATE TABLE annotations (
        id INTEGER PRIMARY KEY,
        batch_id INTEGER NOT NULL REFERENCES label_batches(id),
        cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        class_id INTEGER REFERENCES classes(id),
        prev_class_id INTEGER REFERENCES classes(id),
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX annotations_cell ON annotations(cell_id, id);
      CREATE INDEX annotations_batch ON annotations(batch_id);

      CREATE TRIGGER annotations_append_only_update BEFORE UPDATE ON annotations
        BEGIN SELECT RAISE(ABORT, 'annotations are append-only'); END;

      -- Derived from annotations in the same transaction; kept so that 1M-cell queries need no window function.
      CREATE TABLE cell_labels (
        cell_id INTEGER PRIMARY KEY REFERENCES cells(id) ON DELETE CASCADE,
        class_id INTEGER NOT NULL REFERENCES classes(id),
        annotation_id INTEGER NOT NULL REFERENCES annotations(id)
      ) STRICT;
      CREATE INDEX cell_labels_class ON cell_labels(class_id);

      CREATE TABLE prediction_runs (
        id INTEGER PRIMARY KEY,
        model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        classifier TEXT NOT NULL,
        labeled_count INTEGER NOT NULL,
        class_ids TEXT NOT NULL,
        cell_ids BLOB NOT NULL,
        predicted BLOB NOT NULL,
        probability BLOB NOT NULL,
        margin BLOB NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE map_layouts (
        id INTEGER PRIMARY KEY,
        model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        method TEXT NOT NULL,
        cell_ids BLOB NOT NULL,
        xy BLOB NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        phase TEXT NOT NULL DEFAULT '',
        error TEXT,
        result TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
    `);
    const insert = db.prepare(
      `INSERT INTO classes (name, color, hotkey, description, sort_order, is_rbc, is_infected, needs_review)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    DEFAULT_CLASSES.forEach((c, i) =>
      insert.run(
        c.name,
        c.color,
        c.hotkey,
        c.description,
        i,
        c.isRbc ? 1 : 0,
        c.isInfected ? 1 : 0,
        c.isInfected ? 1 : 0,
      ),
    );
  },
};
