-- An import runs inside the API request that streams its file. updated_at
-- is when it last showed a sign of life (a chunk, or a heartbeat while it
-- waits for the body), so that an import whose process died is marked
-- failed instead of staying running forever.

ALTER TABLE imports ADD COLUMN updated_at timestamptz;

--bun:split

UPDATE imports SET updated_at = COALESCE(finished_at, created_at);

--bun:split

CREATE INDEX imports_running ON imports (updated_at) WHERE status = 'running';
