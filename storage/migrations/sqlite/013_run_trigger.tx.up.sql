-- The trigger node that started a run, in place of a done step stored for
-- the trigger (see the PostgreSQL migration). Runs stored before this
-- migration keep '' here and their trigger's step.

ALTER TABLE runs ADD COLUMN trigger_node TEXT NOT NULL DEFAULT '';
