-- Date triggers (date_reached, consent_expiring): the scheduler finds the
-- contacts due in a short window through these indexes, never by scanning
-- every contact. contact_dates mirrors contacts.dates, one row per date,
-- kept in step by storage whenever a contact is written.

CREATE TABLE contact_dates (
  contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  name       TEXT NOT NULL, -- the date's name (birthday, renewal…)
  month_day  TEXT NOT NULL, -- MM-DD, for yearly triggers
  date       TEXT NOT NULL, -- YYYY-MM-DD, for one-off triggers
  PRIMARY KEY (contact_id, name)
) WITHOUT ROWID;

--bun:split

CREATE INDEX contact_dates_month_day ON contact_dates (name, month_day, contact_id);

--bun:split

CREATE INDEX contact_dates_date ON contact_dates (name, date, contact_id);

--bun:split

CREATE INDEX contacts_consent_expires ON contacts (consent_expires_at, id) WHERE consent_expires_at IS NOT NULL;

--bun:split

INSERT INTO contact_dates (contact_id, name, month_day, date)
SELECT c.id, d.key, substr(d.value, 6, 5), substr(d.value, 1, 10)
FROM contacts c, json_each(c.dates) d
WHERE json_valid(c.dates) AND json_type(c.dates) = 'object' AND d.type = 'text'
  AND d.value GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]';
