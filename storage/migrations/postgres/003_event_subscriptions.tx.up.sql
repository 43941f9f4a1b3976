-- Event subscriptions (outbound webhooks outside scenarios), the events
-- buffered for the inactive ones, and notifications. PostgreSQL.

CREATE TABLE event_subscriptions (
  id                   text PRIMARY KEY,
  app                  text NOT NULL DEFAULT '',
  event                text NOT NULL,
  url                  text NOT NULL,
  list_id              text NOT NULL DEFAULT '',
  secret               text NOT NULL, -- sealed (enc:v1:…)
  active               boolean NOT NULL DEFAULT true,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL,
  deactivated_at       timestamptz,
  deactivation_reason  text NOT NULL DEFAULT '',
  deliveries           bigint NOT NULL DEFAULT 0,
  accepted             bigint NOT NULL DEFAULT 0,
  pending              bigint NOT NULL DEFAULT 0,
  failed               bigint NOT NULL DEFAULT 0,
  attempts             bigint NOT NULL DEFAULT 0,
  failed_attempts      bigint NOT NULL DEFAULT 0,
  consecutive_failures bigint NOT NULL DEFAULT 0,
  failing_since        timestamptz,
  last_attempt_at      timestamptz,
  last_success_at      timestamptz,
  last_error           text NOT NULL DEFAULT '',
  buffered             bigint NOT NULL DEFAULT 0,
  replayed             bigint NOT NULL DEFAULT 0,
  dropped              bigint NOT NULL DEFAULT 0,
  purged               bigint NOT NULL DEFAULT 0
);

--bun:split

CREATE INDEX event_subscriptions_app_event ON event_subscriptions (app, event);

--bun:split

CREATE TABLE subscription_buffer (
  seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- arrival order
  subscription_id text NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
  message_id      text NOT NULL,
  contact_id      text NOT NULL DEFAULT '',
  body            bytea NOT NULL,
  occurred_at     timestamptz NOT NULL
);

--bun:split

CREATE INDEX subscription_buffer_sub ON subscription_buffer (subscription_id, seq);

--bun:split

CREATE INDEX subscription_buffer_age ON subscription_buffer (occurred_at);

--bun:split

CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id) WHERE subscription_id <> '';

--bun:split

CREATE TABLE notifications (
  id         text PRIMARY KEY,
  type       text NOT NULL,
  subject_id text NOT NULL DEFAULT '',
  message    text NOT NULL,
  data       jsonb, -- JSON object
  created_at timestamptz NOT NULL
);
