-- A step's foreign key to its run: a query per stored step (two per
-- delivery: the trigger's and the webhook's), for a cascade that
-- DeleteScenario now does itself. Nothing else deletes runs.
--
-- No step can be stored for a run DeleteScenario is deleting: a
-- transaction that stores steps bumps their scenario's counters, and
-- DeleteScenario deletes the scenario (and so its counter rows) first, so
-- such a transaction either committed before that statement ended (its
-- steps are then seen by the deletes that follow) or is refused by the
-- counters' foreign key.

ALTER TABLE steps DROP CONSTRAINT steps_run_id_fkey;
