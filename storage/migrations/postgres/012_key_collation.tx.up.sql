-- Ids and keys compare as bytes. They were compared under the database's
-- collation, and PostgreSQL sorts text under any collation but "C" and
-- "POSIX" through strcoll, even C.UTF-8: at full speed, 8 % of
-- PostgreSQL's CPU went to comparing text keys while inserting index
-- entries (varstr_cmp), and a database created with en_US.UTF-8 pays
-- several times that. Ids, keys and statuses are ASCII the engine made, so
-- byte order is the order they already had; a date's name (contact_dates)
-- is only ever looked up by equality. Names and other text people read
-- keep the database's collation.
--
-- Only the indexed columns change. A comparison of such a column with one
-- still under the database's collation uses "C" (a column's own collation
-- beats the default), so joins between them keep working. New tables give
-- their indexed text columns COLLATE "C" too.

ALTER TABLE contacts
  ALTER COLUMN id TYPE text COLLATE "C",
  ALTER COLUMN email_key TYPE text COLLATE "C";

--bun:split

ALTER TABLE events
  ALTER COLUMN id TYPE text COLLATE "C",
  ALTER COLUMN contact_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE runs
  ALTER COLUMN id TYPE text COLLATE "C",
  ALTER COLUMN scenario_id TYPE text COLLATE "C",
  ALTER COLUMN contact_id TYPE text COLLATE "C",
  ALTER COLUMN entry_key TYPE text COLLATE "C";

--bun:split

ALTER TABLE steps
  ALTER COLUMN id TYPE text COLLATE "C",
  ALTER COLUMN run_id TYPE text COLLATE "C",
  ALTER COLUMN node_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE deliveries
  ALTER COLUMN id TYPE text COLLATE "C",
  ALTER COLUMN scenario_id TYPE text COLLATE "C",
  ALTER COLUMN node_id TYPE text COLLATE "C",
  ALTER COLUMN status TYPE text COLLATE "C",
  ALTER COLUMN subscription_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE attempts
  ALTER COLUMN delivery_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE step_stats
  ALTER COLUMN scenario_id TYPE text COLLATE "C",
  ALTER COLUMN node_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE step_stats_hourly
  ALTER COLUMN scenario_id TYPE text COLLATE "C",
  ALTER COLUMN node_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE scenarios
  ALTER COLUMN id TYPE text COLLATE "C",
  ALTER COLUMN status TYPE text COLLATE "C";

--bun:split

ALTER TABLE scenario_versions
  ALTER COLUMN scenario_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE lists
  ALTER COLUMN id TYPE text COLLATE "C";

--bun:split

ALTER TABLE list_subscriptions
  ALTER COLUMN list_id TYPE text COLLATE "C",
  ALTER COLUMN contact_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE contact_dates
  ALTER COLUMN contact_id TYPE text COLLATE "C",
  ALTER COLUMN name TYPE text COLLATE "C",
  ALTER COLUMN date TYPE text COLLATE "C",
  ALTER COLUMN month_day TYPE text COLLATE "C";

--bun:split

ALTER TABLE event_subscriptions
  ALTER COLUMN id TYPE text COLLATE "C",
  ALTER COLUMN app TYPE text COLLATE "C",
  ALTER COLUMN event TYPE text COLLATE "C";

--bun:split

ALTER TABLE subscription_buffer
  ALTER COLUMN subscription_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE inbound_webhooks
  ALTER COLUMN id TYPE text COLLATE "C";

--bun:split

ALTER TABLE inbound_activity
  ALTER COLUMN webhook_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE inbound_refusals
  ALTER COLUMN id TYPE text COLLATE "C",
  ALTER COLUMN webhook_id TYPE text COLLATE "C";

--bun:split

ALTER TABLE imports
  ALTER COLUMN id TYPE text COLLATE "C";

--bun:split

ALTER TABLE notifications
  ALTER COLUMN id TYPE text COLLATE "C";
