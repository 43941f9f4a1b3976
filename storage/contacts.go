package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
)

// CreateList inserts a list (engine.ErrConflict if its id exists).
func (r *repo) CreateList(ctx context.Context, l *engine.List) error {
	_, err := r.conn(ctx).NewInsert().Model(newListRow(l)).Exec(ctx)
	return wrap(err, "create list %s", l.ID)
}

// GetList returns a list by id.
func (r *repo) GetList(ctx context.Context, id string) (*engine.List, error) {
	var row listRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get list %s", id)
	}
	l := row.list()
	return &l, nil
}

// ListLists returns every list, oldest first.
func (r *repo) ListLists(ctx context.Context) ([]engine.List, error) {
	var rows []listRow
	if err := r.conn(ctx).NewSelect().Model(&rows).OrderExpr("created_at, id").Scan(ctx); err != nil {
		return nil, wrap(err, "list lists")
	}
	out := make([]engine.List, len(rows))
	for i := range rows {
		out[i] = rows[i].list()
	}
	return out, nil
}

// SetSubscription subscribes or unsubscribes a contact in one statement
// (SetSubscriptions with one change) and reports whether that changed
// anything. Unsubscribing a contact that was never subscribed changes
// nothing. engine.ErrNotFound when subscribing a list or a contact that
// does not exist.
func (r *repo) SetSubscription(ctx context.Context, listID, contactID string, subscribed bool, at time.Time) (bool, error) {
	changed, err := r.SetSubscriptions(ctx, []engine.SubscriptionChange{{ListID: listID, ContactID: contactID, Subscribed: subscribed}}, at)
	return err == nil && changed[0], err
}

// ContactLists returns the ids of the lists the contact is subscribed to,
// sorted.
func (r *repo) ContactLists(ctx context.Context, contactID string) ([]string, error) {
	ids := []string{}
	err := r.conn(ctx).NewRaw(`SELECT list_id FROM list_subscriptions
WHERE contact_id = ? AND status = 'subscribed' ORDER BY list_id`, contactID).Scan(ctx, &ids)
	return ids, wrap(err, "lists of contact %s", contactID)
}

// emailKey is the case-insensitive form of an email, unique in contacts.
func emailKey(email string) string { return engine.EmailKey(email) }

// InsertContact inserts c unless its id or email (case-insensitively)
// exists, and reports whether it did.
func (r *repo) InsertContact(ctx context.Context, c *engine.Contact) (bool, error) {
	ok, err := r.InsertContacts(ctx, []*engine.Contact{c})
	return err == nil && ok[0], err
}

// GetContact returns a contact by id.
func (r *repo) GetContact(ctx context.Context, id string) (*engine.Contact, error) {
	var row contactRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get contact %s", id)
	}
	return row.contact(), nil
}

// LockContacts returns the contacts with the ids, in id order, and on
// PostgreSQL locks their rows in that order until the transaction ends
// (FOR UPDATE): a read-modify-write of a whole contact then overwrites
// nothing another transaction commits in between. SQLite's one writer
// needs no lock. A missing id is left out.
func (r *repo) LockContacts(ctx context.Context, ids []string) ([]*engine.Contact, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []contactRow
	q := r.conn(ctx).NewSelect().Model(&rows).Where("id IN (?)", bun.In(ids)).Order("id")
	if r.st.postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap(err, "lock %d contacts", len(ids))
	}
	out := make([]*engine.Contact, len(rows))
	for i := range rows {
		out[i] = rows[i].contact()
	}
	return out, nil
}

// GetContactByEmail returns a contact by email, case-insensitively.
func (r *repo) GetContactByEmail(ctx context.Context, email string) (*engine.Contact, error) {
	var row contactRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("email_key = ?", emailKey(email)).Scan(ctx); err != nil {
		return nil, wrap(err, "get contact by email")
	}
	return row.contact(), nil
}

// UpdateContact writes every field of c but its id and creation time
// (engine.ErrConflict if the new email belongs to another contact).
func (r *repo) UpdateContact(ctx context.Context, c *engine.Contact) error {
	return r.atomic(ctx, func(ctx context.Context, r *repo) error {
		if err := r.updateContact(ctx, c); err != nil {
			return err
		}
		return r.syncDates(ctx, c) // storage/scheduler.go
	})
}

// UpdateContactsLater is UpdateContact for contacts the transaction read
// by email and keeps the emails of, in statements sent later: contacts are
// never deleted and the emails stay theirs, so nothing needs an answer.
// On PostgreSQL the contacts may have been read before the transaction
// began, so an update committed since would be overwritten: the statement
// fails instead when a contact's version is no longer the one read (a
// text cast to an integer, as FinishAll's; engine.ErrConflict), and the
// caller reads it again. Only the dates of the contacts in redated are
// rewritten.
func (r *repo) UpdateContactsLater(ctx context.Context, cs, redated []*engine.Contact) error {
	for _, c := range cs {
		q := r.contactUpdate(ctx, c)
		if r.st.postgres {
			q = q.Set("version = CASE WHEN c.version = ? THEN c.version + 1 ELSE CAST(? || c.id AS bigint) END", c.Version, changedMark+": ")
		} else {
			q = q.Set("version = c.version + 1") // read in the transaction, the one writer's
		}
		if _, err := q.Exec(later(ctx)); err != nil {
			return wrap(err, "update contact %s", c.ID)
		}
	}
	return r.syncDates(ctx, redated...)
}

// changedMark is in the error UpdateContactsLater's statement makes when a
// contact changed since it was read.
const changedMark = "sluice: contact changed since read"

// contactUpdate is the statement that writes every field of c but its id,
// creation time and version (the caller sets it).
func (r *repo) contactUpdate(ctx context.Context, c *engine.Contact) *bun.UpdateQuery {
	return r.conn(ctx).NewUpdate().Model(newContactRow(c)).
		Column("email", "email_key", "firstname", "lastname", "fields", "dates", "group_names", "timezone",
			"consent_given_at", "consent_expires_at", "updated_at").
		WherePK()
}

func (r *repo) updateContact(ctx context.Context, c *engine.Contact) error {
	res, err := r.contactUpdate(ctx, c).Set("version = c.version + 1").Exec(ctx)
	if err != nil {
		return wrap(err, "update contact %s", c.ID)
	}
	if n, err := affected(res); err != nil || n == 0 {
		if err != nil {
			return wrap(err, "update contact %s", c.ID)
		}
		return notFound("update contact %s", c.ID)
	}
	return nil
}

// InsertEvents inserts events in one statement (engine.ErrConflict if an
// id exists).
func (r *repo) InsertEvents(ctx context.Context, evs []*engine.Event) error {
	return insertAllLater(ctx, r, evs, newEventRow, "events")
}

// GetEvent returns an event by id.
func (r *repo) GetEvent(ctx context.Context, id string) (*engine.Event, error) {
	var row eventRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get event %s", id)
	}
	return row.event(), nil
}
