-- events_contact (contact_id, occurred_at) served no query: events are
-- read by id only (GetEvent), and contacts are never deleted. Every
-- stored event paid an index entry for it, one in sixteen of the index
-- entries a delivery writes. A contact's timeline, when the API has one,
-- brings the index back with it.

DROP INDEX events_contact;
