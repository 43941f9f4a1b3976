package storage

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
)

// The many-rows forms of the engine's hot writes and reads: each is one
// statement whatever the number of rows, so a batch of events or of step
// outcomes costs a handful of round trips instead of a handful per row.

// GetContactsByEmail returns the contacts with any of the emails
// (case-insensitively), in no particular order, and the entries of those
// contacts into the scenarios given: the runs they have with no entry key.
// The entries are a subquery per contact found, so asking costs no round
// trip, and each is an index lookup (runs_entry): a join was planned as a
// scan of the scenario's runs.
func (r *repo) GetContactsByEmail(ctx context.Context, emails, scenarios []string) ([]*engine.Contact, []engine.Entry, error) {
	if len(emails) == 0 {
		return nil, nil, nil
	}
	keys := make([]string, len(emails))
	for i, e := range emails {
		keys[i] = emailKey(e)
	}
	var rows []contactEntryRow
	q := r.conn(ctx).NewSelect().Model(&rows).Where("c.email_key IN (?)", bun.In(keys))
	if len(scenarios) > 0 {
		agg := "json_group_array" // SQLite's; '[]' for no rows
		if r.st.postgres {
			agg = "json_agg" // NULL for no rows
		}
		q = q.ColumnExpr("c.*").ColumnExpr("(SELECT "+agg+"(r.scenario_id) FROM runs AS r"+
			" WHERE r.scenario_id IN (?) AND r.contact_id = c.id AND r.entry_key = '') AS entered", bun.In(scenarios))
	}
	// A plain read: first in a transaction, it goes ahead of BEGIN.
	if err := q.Scan(readFirst(ctx)); err != nil {
		return nil, nil, wrap(err, "get %d contacts by email", len(emails))
	}
	out := make([]*engine.Contact, len(rows))
	var entries []engine.Entry
	for i := range rows {
		out[i] = rows[i].contact()
		if rows[i].Entered == nil {
			continue
		}
		var ids []string
		if err := json.Unmarshal([]byte(*rows[i].Entered), &ids); err != nil {
			return nil, nil, fmt.Errorf("get %d contacts by email: entries of %s: %w", len(emails), rows[i].ID, err)
		}
		for _, id := range ids {
			entries = append(entries, engine.Entry{ScenarioID: id, ContactID: rows[i].ID})
		}
	}
	return out, entries, nil
}

// contactEntryRow is a contact and the scenarios it entered (a JSON array
// of their ids), when asked.
type contactEntryRow struct {
	contactRow `bun:",extend"`
	Entered    *string `bun:"entered,scanonly"`
}

// InsertContacts inserts the contacts whose id and email (case-insensitively)
// are new, with their dates, and reports for each whether it did.
func (r *repo) InsertContacts(ctx context.Context, cs []*engine.Contact) ([]bool, error) {
	inserted := make([]bool, len(cs))
	if len(cs) == 0 {
		return inserted, nil
	}
	err := r.atomic(ctx, func(ctx context.Context, r *repo) error {
		rows := make([]contactRow, len(cs))
		for i, c := range cs {
			rows[i] = *newContactRow(c)
		}
		var got []struct {
			ID       string `bun:"id"`
			EmailKey string `bun:"email_key"`
		}
		err := r.conn(ctx).NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Returning("id, email_key").Scan(ctx, &got)
		if err != nil {
			return wrap(err, "insert %d contacts", len(cs))
		}
		keys := make([]string, len(got))
		for i, g := range got {
			keys[i] = rowKey(g.ID, g.EmailKey)
		}
		var dates []contactDateRow
		for i, ok := range markInserted(keys, cs, func(c *engine.Contact) string { return rowKey(c.ID, emailKey(c.Email)) }) {
			inserted[i] = ok
			if ok {
				dates = appendDates(dates, cs[i])
			}
		}
		if len(dates) == 0 {
			return nil
		}
		err = r.insertLater(ctx, &dates)
		return wrap(err, "write dates of %d contacts", len(cs))
	})
	return inserted, err
}

// InsertNewContacts inserts contacts whose emails the transaction has just
// looked up and not found, with their dates, in statements sent later
// (later): nothing needs to come back. A contact that another transaction
// created since is a conflict (engine.ErrConflict) of this transaction,
// from whichever call sends the statement, or from the commit.
func (r *repo) InsertNewContacts(ctx context.Context, cs []*engine.Contact) error {
	if err := insertAllLater(ctx, r, cs, func(c *engine.Contact) contactRow { return *newContactRow(c) }, "new contacts"); err != nil {
		return err
	}
	var dates []contactDateRow
	for _, c := range cs {
		dates = appendDates(dates, c)
	}
	if len(dates) == 0 {
		return nil
	}
	return wrap(r.insertLater(ctx, &dates), "write dates of %d contacts", len(cs))
}

// markInserted tells, for each item, whether its key is among keys (the
// RETURNING of a multi-row INSERT … ON CONFLICT DO NOTHING). A key is
// every unique column of the row (rowKey), so that of two items sharing an
// id the one that went in is found; two items with the same key are the
// same row, marked once.
func markInserted[T any](keys []string, items []T, key func(T) string) []bool {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	out := make([]bool, len(items))
	for i, it := range items {
		if k := key(it); set[k] {
			out[i] = true
			delete(set, k)
		}
	}
	return out
}

// rowKey joins a row's unique columns into one comparable key.
func rowKey(cols ...string) string { return strings.Join(cols, "\x00") }

// SetSubscriptions applies list subscription changes — each (list,
// contact) pair at most once — in at most two statements, and reports for
// each whether it changed anything. Subscribing to a list or a contact that
// does not exist is engine.ErrNotFound; unsubscribing from one changes
// nothing.
func (r *repo) SetSubscriptions(ctx context.Context, changes []engine.SubscriptionChange, at time.Time) ([]bool, error) {
	out := make([]bool, len(changes))
	type pair struct {
		ListID    string `bun:"list_id"`
		ContactID string `bun:"contact_id"`
	}
	err := r.atomic(ctx, func(ctx context.Context, r *repo) error {
		for _, st := range subscriptionSQL(changes, at) {
			var got []pair
			if err := r.conn(ctx).NewRaw(st.query+" RETURNING list_id, contact_id", st.args...).Scan(ctx, &got); err != nil {
				return wrap(err, "%s %d contacts", st.what, len(st.idx))
			}
			set := make(map[pair]bool, len(got))
			for _, p := range got {
				set[p] = true
			}
			for _, i := range st.idx {
				out[i] = set[pair{changes[i].ListID, changes[i].ContactID}]
			}
		}
		return nil
	})
	return out, err
}

// SetSubscriptionsLater is SetSubscriptions for a caller that does not
// read what changed: the statements are sent later.
func (r *repo) SetSubscriptionsLater(ctx context.Context, changes []engine.SubscriptionChange, at time.Time) error {
	for _, st := range subscriptionSQL(changes, at) {
		if _, err := r.conn(ctx).ExecContext(later(ctx), st.query, st.args...); err != nil {
			return wrap(err, "%s %d contacts", st.what, len(st.idx))
		}
	}
	return nil
}

// subscriptionStatement is a statement of subscription changes: the
// changes it applies (idx) and what it does.
type subscriptionStatement struct {
	query, what string
	args        []any
	idx         []int
}

// subscriptionSQL returns the statements that apply changes (each list and
// contact pair at most once): an upsert of the subscriptions and an update
// of the unsubscriptions, each only when there are some, each changing
// only the rows whose status changes.
func subscriptionSQL(changes []engine.SubscriptionChange, at time.Time) []subscriptionStatement {
	var subs, unsubs []int
	for i, ch := range changes {
		if ch.Subscribed {
			subs = append(subs, i)
		} else {
			unsubs = append(unsubs, i)
		}
	}
	var out []subscriptionStatement
	if len(subs) > 0 {
		var q strings.Builder
		args := make([]any, 0, 3*len(subs))
		q.WriteString("INSERT INTO list_subscriptions (list_id, contact_id, status, subscribed_at, unsubscribed_at) VALUES ")
		for n, i := range subs {
			if n > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, 'subscribed', ?, NULL)")
			args = append(args, changes[i].ListID, changes[i].ContactID, ut(at))
		}
		q.WriteString(` ON CONFLICT (list_id, contact_id) DO UPDATE
SET status = 'subscribed', subscribed_at = excluded.subscribed_at, unsubscribed_at = NULL
WHERE list_subscriptions.status <> 'subscribed'`)
		out = append(out, subscriptionStatement{query: q.String(), what: "subscribe", args: args, idx: subs})
	}
	if len(unsubs) > 0 {
		var q strings.Builder
		args := make([]any, 0, 1+2*len(unsubs))
		args = append(args, ut(at))
		q.WriteString("UPDATE list_subscriptions SET status = 'unsubscribed', unsubscribed_at = ? WHERE status = 'subscribed' AND (")
		for n, i := range unsubs {
			if n > 0 {
				q.WriteString(" OR ")
			}
			q.WriteString("(list_id = ? AND contact_id = ?)")
			args = append(args, changes[i].ListID, changes[i].ContactID)
		}
		q.WriteString(")")
		out = append(out, subscriptionStatement{query: q.String(), what: "unsubscribe", args: args, idx: unsubs})
	}
	return out
}

// SubscribeNew subscribes contacts created in the same transaction to
// lists, each (list, contact) pair once, in one statement sent later: a new
// contact has no subscription yet, so each is a change and nothing needs to
// come back.
func (r *repo) SubscribeNew(ctx context.Context, changes []engine.SubscriptionChange, at time.Time) error {
	return insertAllLater(ctx, r, changes, func(ch engine.SubscriptionChange) listSubscriptionRow {
		return listSubscriptionRow{ListID: ch.ListID, ContactID: ch.ContactID, Status: "subscribed", SubscribedAt: utp(&at)}
	}, "subscriptions of new contacts")
}

// InsertNewRuns inserts runs the engine knows to be new, each (scenario,
// contact, entry key) once, in one statement sent later: none should
// conflict, and one that does fails the commit (engine.ErrConflict).
func (r *repo) InsertNewRuns(ctx context.Context, runs []*engine.Run) error {
	return insertAllLater(ctx, r, runs, func(run *engine.Run) runRow { return *newRunRow(run) }, "new runs")
}

// InsertRuns inserts the runs whose id, and whose scenario, contact and
// entry key, are new, and returns those it inserted, in input order.
func (r *repo) InsertRuns(ctx context.Context, runs []*engine.Run) ([]*engine.Run, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	rows := make([]runRow, len(runs))
	for i, run := range runs {
		rows[i] = *newRunRow(run)
	}
	var got []runRow
	err := r.conn(ctx).NewInsert().Model(&rows).On("CONFLICT DO NOTHING").
		Returning("id, scenario_id, contact_id, entry_key").Scan(ctx, &got)
	if err != nil {
		return nil, wrap(err, "insert %d runs", len(runs))
	}
	keys := make([]string, len(got))
	for i, g := range got {
		keys[i] = rowKey(g.ID, g.ScenarioID, g.ContactID, g.EntryKey)
	}
	return keepInserted(runs, markInserted(keys, runs, func(r *engine.Run) string {
		return rowKey(r.ID, r.ScenarioID, r.ContactID, r.EntryKey)
	})), nil
}

// keepInserted returns the items marked true, in order.
func keepInserted[T any](items []T, ok []bool) []T {
	out := make([]T, 0, len(items))
	for i, it := range items {
		if ok[i] {
			out = append(out, it)
		}
	}
	return out
}

// CompleteRuns marks completed those of the runs that are active and have
// no pending step left. A run's steps are found through the (run_id,
// node_id) index and only then filtered on status: with a condition on
// status PostgreSQL also scanned the partial index of pending steps
// (steps_due), all of them for each run, when its statistics lagged a
// burst of new steps (17 ms a batch with 30,000 steps queued).
func (r *repo) CompleteRuns(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var done []string
	err := r.conn(ctx).NewRaw(`UPDATE runs SET status = 'completed'
WHERE id IN (?) AND status = 'active'
AND (SELECT COUNT(*) FILTER (WHERE steps.status = 'pending') FROM steps WHERE steps.run_id = runs.id) = 0
RETURNING id`, bun.In(ids)).Scan(ctx, &done)
	return done, wrap(err, "complete %d runs", len(ids))
}

// finishedCTE and completedCTE are the PostgreSQL finish of FinishSteps
// and FinishAll: the steps (arguments: the time, their ids) still pending
// moved to done, then the runs (argument: their ids) of the steps finished
// that are active with nothing else pending completed. The runs' update
// sees the steps as they were before the statement, so the steps it
// finishes are left out of the pending count by id.
const (
	finishedCTE = `WITH finished AS (
  UPDATE steps SET status = 'done', error = '', done_at = ?
  WHERE id IN (?) AND ` + pendingByID + ` RETURNING id, run_id
)`
	completedCTE = `, completed AS (
  UPDATE runs SET status = 'completed'
  WHERE id IN (SELECT run_id FROM finished) AND id IN (?) AND status = 'active'
  AND (SELECT COUNT(*) FILTER (WHERE steps.status = 'pending' AND steps.id NOT IN (SELECT id FROM finished))
       FROM steps WHERE steps.run_id = runs.id) = 0
  RETURNING id
)`
)

// FinishSteps moves those of the steps that are pending to done at at and
// returns their ids; the others (finished meanwhile, or deleted) are left
// alone. Then, if it finished any, it completes those of the runs in
// complete that are active with nothing pending, as CompleteRuns does, and
// returns their ids too. On PostgreSQL both are one statement (only runs
// of the steps it finished): the runs' update sees the steps as they were
// before the statement, so the steps it finishes are left out of the
// pending count by id.
func (r *repo) FinishSteps(ctx context.Context, ids []string, at time.Time, complete []string) (finished, completed []string, err error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	if !r.st.postgres || len(complete) == 0 {
		err := r.atomic(ctx, func(ctx context.Context, r *repo) error {
			var runs []string
			err := r.conn(ctx).NewRaw(`UPDATE steps SET status = 'done', error = '', done_at = ?
WHERE id IN (?) AND `+pendingByID+` RETURNING id, run_id`, ut(at), bun.In(ids)).Scan(ctx, &finished, &runs)
			if err != nil || len(complete) == 0 {
				return wrap(err, "finish %d steps", len(ids))
			}
			ofFinished := make(map[string]bool, len(runs))
			for _, id := range runs {
				ofFinished[id] = true
			}
			completed, err = r.CompleteRuns(ctx, slices.DeleteFunc(slices.Clone(complete), func(id string) bool {
				return !ofFinished[id]
			}))
			return err
		})
		return finished, completed, err
	}
	var rows []struct {
		ID  string `bun:"id"`
		Run bool   `bun:"run"`
	}
	err = r.conn(ctx).NewRaw(finishedCTE+completedCTE+`
SELECT id, false AS run FROM finished UNION ALL SELECT id, true FROM completed`, ut(at), bun.In(ids), bun.In(complete)).Scan(ctx, &rows)
	for _, row := range rows {
		if row.Run {
			completed = append(completed, row.ID)
		} else {
			finished = append(finished, row.ID)
		}
	}
	return finished, completed, wrap(err, "finish %d steps", len(ids))
}

// staleMark is in the error FinishAll's statement makes when a step is no
// longer pending.
const staleMark = "sluice: steps no longer pending"

// FinishAll moves the steps (distinct ids, all pending) to done and
// completes the runs of complete with nothing pending left, as FinishSteps
// does, and inserts the next steps. On PostgreSQL the statement waits for
// the commit (queryLater) and the writes after it join it, so a step's
// finish, the step after it, its delivery, attempt and counters are one
// statement. The next steps are a part of its own WITH, the merge of
// waiting writes taking each table once: they are new rows, and the runs
// they go on in are not among those it completes. A step that is no
// longer pending fails it: PostgreSQL has no RAISE outside PL/pgSQL, so
// the statement casts a text that says so to an integer, which fails
// (raised).
func (r *repo) FinishAll(ctx context.Context, ids []string, at time.Time, complete []string, next []*engine.Step, completed *[]string) error {
	if len(ids) == 0 {
		return nil
	}
	if !r.st.postgres {
		finished, done, err := r.FinishSteps(ctx, ids, at, complete)
		if err != nil {
			return err
		}
		if len(finished) != len(ids) {
			return fmt.Errorf("finish %d steps: %d pending: %w", len(ids), len(finished), engine.ErrStale)
		}
		*completed = done
		return r.InsertNewSteps(ctx, next)
	}
	q := finishedCTE
	args := []any{ut(at), bun.In(ids)}
	main := ""
	if len(complete) > 0 {
		q += completedCTE
		args = append(args, bun.In(complete))
		main = "SELECT id FROM completed UNION ALL "
	}
	if len(next) > 0 {
		rows := make([]stepRow, len(next))
		for i, s := range next {
			rows[i] = newStepRow(s)
		}
		insert, err := insertSQL(r.st.db.Dialect().Tables(), r.st.db.QueryGen(), &rows)
		if err != nil {
			return err
		}
		q += ", next_steps AS (?)"
		args = append(args, bun.Safe(insert))
	}
	q += "\n" + main + "SELECT CAST(? || COUNT(*) || ' of ' || ? AS integer)::text FROM finished HAVING COUNT(*) <> ?"
	args = append(args, staleMark+": finished ", len(ids), len(ids))
	sink := func(row []driver.Value) error {
		id, err := textValue(row[0])
		if err != nil {
			return fmt.Errorf("a completed run: %w", err)
		}
		*completed = append(*completed, id)
		return nil
	}
	_, err := r.conn(ctx).ExecContext(queryLater(ctx, sink), q, args...)
	return wrap(err, "finish %d steps", len(ids))
}

// InsertDeliveries inserts the deliveries whose id is new and reports for
// each whether it did.
func (r *repo) InsertDeliveries(ctx context.Context, ds []*engine.Delivery) ([]bool, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	rows := make([]deliveryRow, len(ds))
	for i, d := range ds {
		rows[i] = *newDeliveryRow(d)
	}
	var ids []string
	err := r.conn(ctx).NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Returning("id").Scan(ctx, &ids)
	if err != nil {
		return nil, wrap(err, "insert %d deliveries", len(ds))
	}
	return markInserted(ids, ds, func(d *engine.Delivery) string { return d.ID }), nil
}

// InsertNewDeliveries inserts the deliveries of steps the transaction has
// just finished, in one statement sent later: a step's delivery is stored
// only with its finish, so none can exist yet.
func (r *repo) InsertNewDeliveries(ctx context.Context, ds []*engine.Delivery) error {
	return insertAllLater(ctx, r, ds, func(d *engine.Delivery) deliveryRow { return *newDeliveryRow(d) }, "new deliveries")
}

// InsertAttempts inserts attempts in one statement (engine.ErrConflict if
// a delivery already has an attempt with that number).
func (r *repo) InsertAttempts(ctx context.Context, as []*engine.Attempt) error {
	return insertAllLater(ctx, r, as, func(a *engine.Attempt) attemptRow { return *newAttemptRow(a) }, "attempts")
}

// stepLoadRow is a step with its contact and event, read in one query.
type stepLoadRow struct {
	stepRow `bun:",extend"`
	Contact *contactRow `bun:"rel:belongs-to,join:contact_id=id"`
	Event   *eventRow   `bun:"rel:belongs-to,join:event_id=id"`
}

// LoadSteps returns the steps with the ids, each with its contact and
// event, in one query. Missing steps are left out; a step whose contact or
// event is missing has nil there.
func (r *repo) LoadSteps(ctx context.Context, ids []string) ([]engine.StepLoad, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []stepLoadRow
	err := r.reader(ctx).NewSelect().Model(&rows).Relation("Contact").Relation("Event").
		Where("st.id IN (?)", bun.In(ids)).Scan(ctx)
	if err != nil {
		return nil, wrap(err, "load %d steps", len(ids))
	}
	out := make([]engine.StepLoad, len(rows))
	for i := range rows {
		st := rows[i].step()
		out[i].Step = &st
		if c := rows[i].Contact; c != nil && c.ID != "" {
			out[i].Contact = c.contact()
		}
		if ev := rows[i].Event; ev != nil && ev.ID != "" {
			out[i].Event = ev.event()
		}
	}
	return out, nil
}
