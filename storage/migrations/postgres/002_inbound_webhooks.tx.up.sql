-- Inbound webhooks (issue 4): the webhooks, their hourly activity and
-- their last refusals. Keys are sealed (enc:v1:…).

CREATE TABLE inbound_webhooks (
  id              text PRIMARY KEY,
  name            text NOT NULL,
  list_id         text NOT NULL REFERENCES lists (id),
  action          text NOT NULL, -- subscribe, unsubscribe
  allowed_methods jsonb, -- JSON array
  allowed_headers jsonb, -- JSON object: name → required value
  allowed_ips     jsonb, -- JSON array of addresses and CIDR ranges
  custom_fields   jsonb, -- JSON array of {key, name}
  api_key         text NOT NULL, -- sealed
  secret_key      text NOT NULL, -- sealed
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);

--bun:split

CREATE TABLE inbound_activity (
  webhook_id text NOT NULL REFERENCES inbound_webhooks (id) ON DELETE CASCADE,
  hour       timestamptz NOT NULL,
  accepted   bigint NOT NULL DEFAULT 0,
  refused    bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (webhook_id, hour)
);

--bun:split

CREATE TABLE inbound_refusals (
  id         text PRIMARY KEY,
  webhook_id text NOT NULL REFERENCES inbound_webhooks (id) ON DELETE CASCADE,
  at         timestamptz NOT NULL,
  code       text NOT NULL, -- wrong_key, method_not_allowed, ip_not_allowed, header_not_allowed, bad_payload
  reason     text NOT NULL DEFAULT '',
  method     text NOT NULL DEFAULT '',
  remote_ip  text NOT NULL DEFAULT ''
);

--bun:split

CREATE INDEX inbound_refusals_webhook ON inbound_refusals (webhook_id, at, id);
