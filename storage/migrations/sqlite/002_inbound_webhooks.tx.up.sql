-- Inbound webhooks (issue 4): the webhooks, their hourly activity and
-- their last refusals. Keys are sealed (enc:v1:…).

CREATE TABLE inbound_webhooks (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  list_id         TEXT NOT NULL REFERENCES lists (id),
  action          TEXT NOT NULL, -- subscribe, unsubscribe
  allowed_methods TEXT, -- JSON array
  allowed_headers TEXT, -- JSON object: name → required value
  allowed_ips     TEXT, -- JSON array of addresses and CIDR ranges
  custom_fields   TEXT, -- JSON array of {key, name}
  api_key         TEXT NOT NULL, -- sealed
  secret_key      TEXT NOT NULL, -- sealed
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);

--bun:split

CREATE TABLE inbound_activity (
  webhook_id TEXT NOT NULL REFERENCES inbound_webhooks (id) ON DELETE CASCADE,
  hour       TEXT NOT NULL,
  accepted   INTEGER NOT NULL DEFAULT 0,
  refused    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (webhook_id, hour)
) WITHOUT ROWID;

--bun:split

CREATE TABLE inbound_refusals (
  id         TEXT PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES inbound_webhooks (id) ON DELETE CASCADE,
  at         TEXT NOT NULL,
  code       TEXT NOT NULL, -- wrong_key, method_not_allowed, ip_not_allowed, header_not_allowed, bad_payload
  reason     TEXT NOT NULL DEFAULT '',
  method     TEXT NOT NULL DEFAULT '',
  remote_ip  TEXT NOT NULL DEFAULT ''
);

--bun:split

CREATE INDEX inbound_refusals_webhook ON inbound_refusals (webhook_id, at, id);
