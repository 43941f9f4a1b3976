-- Counter shards: every transaction that counts (an event's runs, a batch of
-- step outcomes) used to update the same step_stats row per node, so all
-- of them queued on that row's lock until the one holding it committed.
-- A transaction now adds to one of a few shards of each counter, picked at
-- random; readers sum the shards.

ALTER TABLE step_stats ADD COLUMN shard smallint NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE step_stats DROP CONSTRAINT step_stats_pkey;

--bun:split

ALTER TABLE step_stats ADD PRIMARY KEY (scenario_id, version, node_id, shard);

--bun:split

ALTER TABLE step_stats_hourly ADD COLUMN shard smallint NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE step_stats_hourly DROP CONSTRAINT step_stats_hourly_pkey;

--bun:split

ALTER TABLE step_stats_hourly ADD PRIMARY KEY (scenario_id, version, node_id, hour, shard);
