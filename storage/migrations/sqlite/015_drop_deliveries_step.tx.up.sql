-- deliveries_step served only the listing of a step's deliveries of every
-- status, which now merges the pages deliveries_step_status gives per
-- status (see the PostgreSQL migration).

DROP INDEX deliveries_step;
