-- Event subscriptions (outbound webhooks outside scenarios), the events
-- buffered for the inactive ones, and notifications. SQLite.

CREATE TABLE event_subscriptions (
  id                   TEXT PRIMARY KEY,
  app                  TEXT NOT NULL DEFAULT '',
  event                TEXT NOT NULL,
  url                  TEXT NOT NULL,
  list_id              TEXT NOT NULL DEFAULT '',
  secret               TEXT NOT NULL, -- sealed (enc:v1:…)
  active               INTEGER NOT NULL DEFAULT 1,
  created_at           TEXT NOT NULL,
  updated_at           TEXT NOT NULL,
  deactivated_at       TEXT,
  deactivation_reason  TEXT NOT NULL DEFAULT '',
  deliveries           INTEGER NOT NULL DEFAULT 0,
  accepted             INTEGER NOT NULL DEFAULT 0,
  pending              INTEGER NOT NULL DEFAULT 0,
  failed               INTEGER NOT NULL DEFAULT 0,
  attempts             INTEGER NOT NULL DEFAULT 0,
  failed_attempts      INTEGER NOT NULL DEFAULT 0,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  failing_since        TEXT,
  last_attempt_at      TEXT,
  last_success_at      TEXT,
  last_error           TEXT NOT NULL DEFAULT '',
  buffered             INTEGER NOT NULL DEFAULT 0,
  replayed             INTEGER NOT NULL DEFAULT 0,
  dropped              INTEGER NOT NULL DEFAULT 0,
  purged               INTEGER NOT NULL DEFAULT 0
);

--bun:split

CREATE INDEX event_subscriptions_app_event ON event_subscriptions (app, event);

--bun:split

CREATE TABLE subscription_buffer (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT, -- arrival order
  subscription_id TEXT NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
  message_id      TEXT NOT NULL,
  contact_id      TEXT NOT NULL DEFAULT '',
  body            BLOB NOT NULL,
  occurred_at     TEXT NOT NULL
);

--bun:split

CREATE INDEX subscription_buffer_sub ON subscription_buffer (subscription_id, seq);

--bun:split

CREATE INDEX subscription_buffer_age ON subscription_buffer (occurred_at);

--bun:split

CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id) WHERE subscription_id <> '';

--bun:split

CREATE TABLE notifications (
  id         TEXT PRIMARY KEY,
  type       TEXT NOT NULL,
  subject_id TEXT NOT NULL DEFAULT '',
  message    TEXT NOT NULL,
  data       TEXT, -- JSON object
  created_at TEXT NOT NULL
);
