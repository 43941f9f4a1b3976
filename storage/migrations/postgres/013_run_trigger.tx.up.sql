-- The trigger node that started a run. Each run used to store a step for
-- its trigger, already done, only so that the trigger's reach could be
-- rebuilt from rows like every other node's: a row and two index entries
-- per run (a tenth of PostgreSQL's CPU per delivery at full speed). The
-- run now names its trigger, and the rebuild counts runs for it. Runs
-- stored before this migration keep '' here and their trigger's step.

ALTER TABLE runs ADD COLUMN trigger_node text NOT NULL DEFAULT '';
