-- events_contact served no query (see the PostgreSQL migration); every
-- stored event paid an index entry for it.

DROP INDEX events_contact;
