-- A contact's version, bumped by every update of the row. Ingest reads a
-- batch's stored contacts before its transaction begins and writes each
-- whole contact back with the commit; an update another transaction (the
-- API, a step) committed in between would be lost. The write now checks
-- that the version is still the one it read, and fails otherwise, so that
-- the batch reads the contact again.

ALTER TABLE contacts ADD COLUMN version bigint NOT NULL DEFAULT 0;
