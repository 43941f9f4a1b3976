-- Contact imports: one row per POST /api/v1/contacts/import, updated after
-- each chunk so that progress shows while it runs. errors holds the first
-- refused rows (engine.MaxImportErrors) as a JSON array; refused counts
-- them all.

CREATE TABLE imports (
  id          text PRIMARY KEY,
  format      text NOT NULL, -- csv, ndjson
  list_id     text, -- the list every contact was signed up to; NULL for none
  status      text NOT NULL, -- running, completed, failed
  rows        bigint NOT NULL DEFAULT 0,
  accepted    bigint NOT NULL DEFAULT 0,
  refused     bigint NOT NULL DEFAULT 0,
  errors      jsonb, -- JSON array of {line, email, field, message}
  failure     text NOT NULL DEFAULT '', -- why a failed import stopped
  created_at  timestamptz NOT NULL,
  finished_at timestamptz
);

--bun:split

CREATE INDEX imports_created ON imports (created_at, id);
