-- steps_node (scenario_id, version, node_id) served only the rebuild of a
-- version's statistics, a rare repair, yet every step paid for it twice:
-- one index entry when it was stored, another when it finished (the finish
-- changes status, which steps_due's predicate reads, so it is never a HOT
-- update). The rebuild now finds a version's steps through its runs
-- (runs_entry, then steps_run_node).

DROP INDEX steps_node;
