-- deliveries_step (scenario_id, node_id, id) served one query: a step's
-- deliveries of every status, newest first. deliveries_step_status
-- (scenario_id, node_id, status, id) gives each status's newest in order,
-- and ListDeliveries now merges those pages, so every delivery stops
-- paying an index entry for the listing alone. What else read the index
-- (a scenario's deliveries, for its deletion and the rebuild of its
-- counters) reads deliveries_step_status by the same first column.

DROP INDEX deliveries_step;
