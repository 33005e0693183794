import type { Database } from 'better-sqlite3';
import type { Migration } from './index';

/**
 * Review sign-off and consensus. Both are records of a person's decision, so, like annotations, they are
 * append-only: a later signature or consensus supersedes an earlier one without erasing it.
 */
export const m002Review: Migration = {
  version: 2,
  name: '002-review',
  up(db: Database) {
    db.exec(`
      CREATE TABLE slide_signatures (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        signed_by TEXT NOT NULL,
        signed_at TEXT NOT NULL,
        -- What the signer vouched for: the flagged classes checked and how many of their cells were reviewed.
        flagged_class_ids TEXT NOT NULL,
        reviewed_cells INTEGER NOT NULL,
        note TEXT
      ) STRICT;
      CREATE INDEX slide_signatures_image ON slide_signatures(image_id, id);
      CREATE TRIGGER slide_signatures_append_only BEFORE UPDATE ON slide_signatures
        BEGIN SELECT RAISE(ABORT, 'slide signatures are append-only'); END;

      CREATE TABLE review_consensus (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES review_sessions(id) ON DELETE CASCADE,
        cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        class_id INTEGER REFERENCES classes(id),
        decided_by TEXT NOT NULL,
        -- The label batch that applied it; NULL when the cell already carried that label.
        batch_id INTEGER REFERENCES label_batches(id),
        decided_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX review_consensus_session ON review_consensus(session_id, cell_id, id);
      CREATE TRIGGER review_consensus_append_only BEFORE UPDATE ON review_consensus
        BEGIN SELECT RAISE(ABORT, 'consensus decisions are append-only'); END;

      CREATE INDEX review_decisions_reader ON review_decisions(session_id, reader, cell_id, id);
      CREATE INDEX review_decisions_cell ON review_decisions(cell_id);
      CREATE TRIGGER review_decisions_append_only BEFORE UPDATE ON review_decisions
        BEGIN SELECT RAISE(ABORT, 'review decisions are append-only'); END;
    `);
  },
};
