-- A contact's version, bumped by every update of the row (see the
-- PostgreSQL migration). SQLite has one writer and ingest reads its
-- contacts inside its transaction, so nothing can come in between there;
-- the column keeps the two schemas alike.

ALTER TABLE contacts ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
