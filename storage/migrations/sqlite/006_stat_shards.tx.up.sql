-- Counter shards (see the PostgreSQL migration): the same columns and keys
-- here, so that one set of statements serves both databases. SQLite cannot
-- change a primary key in place: the tables are rebuilt.

CREATE TABLE step_stats_new (
  scenario_id TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  version     INTEGER NOT NULL,
  node_id     TEXT NOT NULL,
  shard       INTEGER NOT NULL DEFAULT 0,
  reached     INTEGER NOT NULL DEFAULT 0,
  accepted    INTEGER NOT NULL DEFAULT 0,
  pending     INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  attempts    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scenario_id, version, node_id, shard)
) WITHOUT ROWID;

--bun:split

INSERT INTO step_stats_new (scenario_id, version, node_id, shard, reached, accepted, pending, failed, attempts)
SELECT scenario_id, version, node_id, 0, reached, accepted, pending, failed, attempts FROM step_stats;

--bun:split

DROP TABLE step_stats;

--bun:split

ALTER TABLE step_stats_new RENAME TO step_stats;

--bun:split

CREATE TABLE step_stats_hourly_new (
  scenario_id TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
  version     INTEGER NOT NULL,
  node_id     TEXT NOT NULL,
  hour        TEXT NOT NULL,
  shard       INTEGER NOT NULL DEFAULT 0,
  reached     INTEGER NOT NULL DEFAULT 0,
  accepted    INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  attempts    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scenario_id, version, node_id, hour, shard)
) WITHOUT ROWID;

--bun:split

INSERT INTO step_stats_hourly_new (scenario_id, version, node_id, hour, shard, reached, accepted, failed, attempts)
SELECT scenario_id, version, node_id, hour, 0, reached, accepted, failed, attempts FROM step_stats_hourly;

--bun:split

DROP TABLE step_stats_hourly;

--bun:split

ALTER TABLE step_stats_hourly_new RENAME TO step_stats_hourly;
