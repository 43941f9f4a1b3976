-- Sluice schema, SQLite. Times are UTC text in the fixed-width form
-- 2006-01-02T15:04:05.000000Z, so that text order is time order. JSON is
-- stored as text.

CREATE TABLE lists (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at TEXT NOT NULL
);

--bun:split

CREATE TABLE contacts (
  id                 TEXT PRIMARY KEY,
  email              TEXT NOT NULL,
  email_key          TEXT NOT NULL, -- lower(email), set by the application
  firstname          TEXT NOT NULL DEFAULT '',
  lastname           TEXT NOT NULL DEFAULT '',
  fields             TEXT, -- JSON object
  dates              TEXT, -- JSON object
  group_names        TEXT, -- JSON array
  timezone           TEXT NOT NULL DEFAULT '',
  consent_given_at   TEXT,
  consent_expires_at TEXT,
  created_at         TEXT NOT NULL,
  updated_at         TEXT NOT NULL
);

--bun:split

CREATE UNIQUE INDEX contacts_email_key ON contacts (email_key);

--bun:split

CREATE TABLE list_subscriptions (
  list_id         TEXT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
  contact_id      TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  status          TEXT NOT NULL, -- subscribed, unsubscribed
  subscribed_at   TEXT,
  unsubscribed_at TEXT,
  PRIMARY KEY (list_id, contact_id)
) WITHOUT ROWID;

--bun:split

CREATE INDEX list_subscriptions_contact ON list_subscriptions (contact_id);

--bun:split

CREATE TABLE events (
  id          TEXT PRIMARY KEY,
  type        TEXT NOT NULL,
  contact_id  TEXT NOT NULL DEFAULT '',
  list_id     TEXT NOT NULL DEFAULT '',
  data        TEXT, -- JSON object
  occurred_at TEXT NOT NULL
);

--bun:split

CREATE INDEX events_contact ON events (contact_id, occurred_at);

--bun:split

CREATE TABLE scenarios (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  status         TEXT NOT NULL,
  allow_reentry  INTEGER NOT NULL DEFAULT 0,
  version        INTEGER NOT NULL DEFAULT 0,
  active_version INTEGER NOT NULL DEFAULT 0,
  signing_secret TEXT NOT NULL DEFAULT '', -- sealed (enc:v1:…)
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);

--bun:split

CREATE INDEX scenarios_status ON scenarios (status);

--bun:split

CREATE TABLE scenario_versions (
  scenario_id  TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  number       INTEGER NOT NULL,
  graph        TEXT NOT NULL, -- JSON
  created_at   TEXT NOT NULL,
  activated_at TEXT,
  PRIMARY KEY (scenario_id, number)
);

--bun:split

CREATE TABLE runs (
  id          TEXT PRIMARY KEY,
  scenario_id TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  version     INTEGER NOT NULL,
  contact_id  TEXT NOT NULL,
  event_id    TEXT NOT NULL DEFAULT '',
  entry_key   TEXT NOT NULL DEFAULT '',
  status      TEXT NOT NULL,
  created_at  TEXT NOT NULL
);

--bun:split

CREATE UNIQUE INDEX runs_entry ON runs (scenario_id, contact_id, entry_key);

--bun:split

CREATE TABLE steps (
  id          TEXT PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  scenario_id TEXT NOT NULL,
  version     INTEGER NOT NULL,
  node_id     TEXT NOT NULL,
  contact_id  TEXT NOT NULL DEFAULT '',
  event_id    TEXT NOT NULL DEFAULT '',
  status      TEXT NOT NULL,
  due_at      TEXT NOT NULL,
  error       TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL,
  done_at     TEXT
);

--bun:split

CREATE UNIQUE INDEX steps_run_node ON steps (run_id, node_id);

--bun:split

CREATE INDEX steps_due ON steps (due_at, id) WHERE status = 'pending';

--bun:split

CREATE INDEX steps_node ON steps (scenario_id, version, node_id);

--bun:split

CREATE TABLE deliveries (
  id               TEXT PRIMARY KEY,
  message_id       TEXT NOT NULL,
  kind             TEXT NOT NULL,
  scenario_id      TEXT REFERENCES scenarios (id) ON DELETE CASCADE, -- NULL for subscriptions
  version          INTEGER NOT NULL DEFAULT 0,
  node_id          TEXT NOT NULL DEFAULT '',
  run_id           TEXT NOT NULL DEFAULT '',
  step_id          TEXT NOT NULL DEFAULT '',
  contact_id       TEXT NOT NULL DEFAULT '',
  subscription_id  TEXT NOT NULL DEFAULT '',
  url              TEXT NOT NULL,
  method           TEXT NOT NULL,
  headers          TEXT, -- JSON object
  body             BLOB,
  timeout_ms       INTEGER NOT NULL DEFAULT 0,
  status           TEXT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  created_at       TEXT NOT NULL,
  first_attempt_at TEXT,
  next_attempt_at  TEXT,
  last_error       TEXT NOT NULL DEFAULT '',
  done_at          TEXT
);

--bun:split

CREATE INDEX deliveries_step_status ON deliveries (scenario_id, node_id, status, id);

--bun:split

CREATE INDEX deliveries_step ON deliveries (scenario_id, node_id, id);

--bun:split

CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';

--bun:split

CREATE TABLE attempts (
  delivery_id      TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  number           INTEGER NOT NULL,
  id               TEXT NOT NULL,
  at               TEXT NOT NULL,
  url              TEXT NOT NULL,
  method           TEXT NOT NULL,
  request_headers  TEXT, -- JSON object
  request_body     BLOB,
  status_code      INTEGER NOT NULL DEFAULT 0,
  response_headers TEXT, -- JSON object
  response_body    BLOB,
  duration_ms      INTEGER NOT NULL DEFAULT 0,
  error            TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (delivery_id, number)
);

--bun:split

CREATE TABLE step_stats (
  scenario_id TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  version     INTEGER NOT NULL,
  node_id     TEXT NOT NULL,
  reached     INTEGER NOT NULL DEFAULT 0,
  accepted    INTEGER NOT NULL DEFAULT 0,
  pending     INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  attempts    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scenario_id, version, node_id)
) WITHOUT ROWID;

--bun:split

CREATE TABLE step_stats_hourly (
  scenario_id TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  version     INTEGER NOT NULL,
  node_id     TEXT NOT NULL,
  hour        TEXT NOT NULL,
  reached     INTEGER NOT NULL DEFAULT 0,
  accepted    INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  attempts    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scenario_id, version, node_id, hour)
) WITHOUT ROWID;
