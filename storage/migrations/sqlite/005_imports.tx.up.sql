-- Contact imports: one row per POST /api/v1/contacts/import, updated after
-- each chunk so that progress shows while it runs. errors holds the first
-- refused rows (engine.MaxImportErrors) as a JSON array; refused counts
-- them all.

CREATE TABLE imports (
  id          TEXT PRIMARY KEY,
  format      TEXT NOT NULL, -- csv, ndjson
  list_id     TEXT, -- the list every contact was signed up to; NULL for none
  status      TEXT NOT NULL, -- running, completed, failed
  rows        INTEGER NOT NULL DEFAULT 0,
  accepted    INTEGER NOT NULL DEFAULT 0,
  refused     INTEGER NOT NULL DEFAULT 0,
  errors      TEXT, -- JSON array of {line, email, field, message}
  failure     TEXT NOT NULL DEFAULT '', -- why a failed import stopped
  created_at  TEXT NOT NULL,
  finished_at TEXT
);

--bun:split

CREATE INDEX imports_created ON imports (created_at, id);
