-- Sluice schema, PostgreSQL. Times are timestamptz (microseconds). JSON
-- that may be queried is jsonb; JSON stored verbatim (graphs, HTTP headers,
-- which may hold \u0000) is json.

CREATE TABLE lists (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  created_at timestamptz NOT NULL
);

--bun:split

CREATE TABLE contacts (
  id                 text PRIMARY KEY,
  email              text NOT NULL,
  email_key          text NOT NULL, -- lower(email), set by the application
  firstname          text NOT NULL DEFAULT '',
  lastname           text NOT NULL DEFAULT '',
  fields             jsonb, -- JSON object
  dates              jsonb, -- JSON object
  group_names        jsonb, -- JSON array
  timezone           text NOT NULL DEFAULT '',
  consent_given_at   timestamptz,
  consent_expires_at timestamptz,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL
);

--bun:split

CREATE UNIQUE INDEX contacts_email_key ON contacts (email_key);

--bun:split

CREATE TABLE list_subscriptions (
  list_id         text NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
  contact_id      text NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  status          text NOT NULL, -- subscribed, unsubscribed
  subscribed_at   timestamptz,
  unsubscribed_at timestamptz,
  PRIMARY KEY (list_id, contact_id)
);

--bun:split

CREATE INDEX list_subscriptions_contact ON list_subscriptions (contact_id);

--bun:split

CREATE TABLE events (
  id          text PRIMARY KEY,
  type        text NOT NULL,
  contact_id  text NOT NULL DEFAULT '',
  list_id     text NOT NULL DEFAULT '',
  data        jsonb, -- JSON object
  occurred_at timestamptz NOT NULL
);

--bun:split

CREATE INDEX events_contact ON events (contact_id, occurred_at);

--bun:split

CREATE TABLE scenarios (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  status         text NOT NULL,
  allow_reentry  boolean NOT NULL DEFAULT false,
  version        integer NOT NULL DEFAULT 0,
  active_version integer NOT NULL DEFAULT 0,
  signing_secret text NOT NULL DEFAULT '', -- sealed (enc:v1:…)
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL
);

--bun:split

CREATE INDEX scenarios_status ON scenarios (status);

--bun:split

CREATE TABLE scenario_versions (
  scenario_id  text NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  number       integer NOT NULL,
  graph        json NOT NULL,
  created_at   timestamptz NOT NULL,
  activated_at timestamptz,
  PRIMARY KEY (scenario_id, number)
);

--bun:split

CREATE TABLE runs (
  id          text PRIMARY KEY,
  scenario_id text NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  version     integer NOT NULL,
  contact_id  text NOT NULL,
  event_id    text NOT NULL DEFAULT '',
  entry_key   text NOT NULL DEFAULT '',
  status      text NOT NULL,
  created_at  timestamptz NOT NULL
);

--bun:split

CREATE UNIQUE INDEX runs_entry ON runs (scenario_id, contact_id, entry_key);

--bun:split

CREATE TABLE steps (
  id          text PRIMARY KEY,
  run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  scenario_id text NOT NULL,
  version     integer NOT NULL,
  node_id     text NOT NULL,
  contact_id  text NOT NULL DEFAULT '',
  event_id    text NOT NULL DEFAULT '',
  status      text NOT NULL,
  due_at      timestamptz NOT NULL,
  error       text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL,
  done_at     timestamptz
);

--bun:split

CREATE UNIQUE INDEX steps_run_node ON steps (run_id, node_id);

--bun:split

CREATE INDEX steps_due ON steps (due_at, id) WHERE status = 'pending';

--bun:split

CREATE INDEX steps_node ON steps (scenario_id, version, node_id);

--bun:split

CREATE TABLE deliveries (
  id               text PRIMARY KEY,
  message_id       text NOT NULL,
  kind             text NOT NULL,
  scenario_id      text REFERENCES scenarios (id) ON DELETE CASCADE, -- NULL for subscriptions
  version          integer NOT NULL DEFAULT 0,
  node_id          text NOT NULL DEFAULT '',
  run_id           text NOT NULL DEFAULT '',
  step_id          text NOT NULL DEFAULT '',
  contact_id       text NOT NULL DEFAULT '',
  subscription_id  text NOT NULL DEFAULT '',
  url              text NOT NULL,
  method           text NOT NULL,
  headers          json, -- JSON object
  body             bytea,
  timeout_ms       bigint NOT NULL DEFAULT 0,
  status           text NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL,
  first_attempt_at timestamptz,
  next_attempt_at  timestamptz,
  last_error       text NOT NULL DEFAULT '',
  done_at          timestamptz
);

--bun:split

CREATE INDEX deliveries_step_status ON deliveries (scenario_id, node_id, status, id);

--bun:split

CREATE INDEX deliveries_step ON deliveries (scenario_id, node_id, id);

--bun:split

CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';

--bun:split

CREATE TABLE attempts (
  delivery_id      text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  number           integer NOT NULL,
  id               text NOT NULL,
  at               timestamptz NOT NULL,
  url              text NOT NULL,
  method           text NOT NULL,
  request_headers  json, -- JSON object
  request_body     bytea,
  status_code      integer NOT NULL DEFAULT 0,
  response_headers json, -- JSON object
  response_body    bytea,
  duration_ms      bigint NOT NULL DEFAULT 0,
  error            text NOT NULL DEFAULT '',
  PRIMARY KEY (delivery_id, number)
);

--bun:split

CREATE TABLE step_stats (
  scenario_id text NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  version     integer NOT NULL,
  node_id     text NOT NULL,
  reached     bigint NOT NULL DEFAULT 0,
  accepted    bigint NOT NULL DEFAULT 0,
  pending     bigint NOT NULL DEFAULT 0,
  failed      bigint NOT NULL DEFAULT 0,
  attempts    bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (scenario_id, version, node_id)
);

--bun:split

CREATE TABLE step_stats_hourly (
  scenario_id text NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  version     integer NOT NULL,
  node_id     text NOT NULL,
  hour        timestamptz NOT NULL,
  reached     bigint NOT NULL DEFAULT 0,
  accepted    bigint NOT NULL DEFAULT 0,
  failed      bigint NOT NULL DEFAULT 0,
  attempts    bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (scenario_id, version, node_id, hour)
);
