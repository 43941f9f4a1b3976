package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
)

// Event subscriptions, their buffered events and notifications
// (migration 003). Subscription secrets are sealed like scenario secrets.

type subscriptionRow struct {
	bun.BaseModel       `bun:"table:event_subscriptions,alias:es"`
	ID                  string `bun:"id,pk"`
	App                 string `bun:"app"`
	Event               string `bun:"event"`
	URL                 string `bun:"url"`
	ListID              string `bun:"list_id"`
	Secret              string `bun:"secret"` // sealed
	Active              bool   `bun:"active"`
	CreatedAt           utime  `bun:"created_at"`
	UpdatedAt           utime  `bun:"updated_at"`
	DeactivatedAt       *utime `bun:"deactivated_at"`
	DeactivationReason  string `bun:"deactivation_reason"`
	Deliveries          int64  `bun:"deliveries"`
	Accepted            int64  `bun:"accepted"`
	Pending             int64  `bun:"pending"`
	Failed              int64  `bun:"failed"`
	Attempts            int64  `bun:"attempts"`
	FailedAttempts      int64  `bun:"failed_attempts"`
	ConsecutiveFailures int64  `bun:"consecutive_failures"`
	FailingSince        *utime `bun:"failing_since"`
	LastAttemptAt       *utime `bun:"last_attempt_at"`
	LastSuccessAt       *utime `bun:"last_success_at"`
	LastError           string `bun:"last_error"`
	Buffered            int64  `bun:"buffered"`
	Replayed            int64  `bun:"replayed"`
	Dropped             int64  `bun:"dropped"`
	Purged              int64  `bun:"purged"`
}

type bufferRow struct {
	bun.BaseModel  `bun:"table:subscription_buffer,alias:sb"`
	Seq            int64  `bun:"seq,pk"`
	SubscriptionID string `bun:"subscription_id"`
	MessageID      string `bun:"message_id"`
	ContactID      string `bun:"contact_id"`
	Body           []byte `bun:"body"`
	OccurredAt     utime  `bun:"occurred_at"`
}

type notificationRow struct {
	bun.BaseModel `bun:"table:notifications,alias:n"`
	ID            string         `bun:"id,pk"`
	Type          string         `bun:"type"`
	SubjectID     string         `bun:"subject_id"`
	Message       string         `bun:"message"`
	Data          map[string]any `bun:"data,nullzero"`
	CreatedAt     utime          `bun:"created_at"`
}

// openSubscription turns a row into a subscription with its secret opened.
func (r *repo) openSubscription(row *subscriptionRow) (engine.Subscription, error) {
	secret, err := r.box().Open(row.Secret)
	if err != nil {
		return engine.Subscription{}, fmt.Errorf("open secret of subscription %s: %w", row.ID, err)
	}
	return engine.Subscription{ID: row.ID, App: row.App, Event: row.Event, URL: row.URL, ListID: row.ListID,
		Secret: secret, Active: row.Active, CreatedAt: row.CreatedAt.T(), UpdatedAt: row.UpdatedAt.T(),
		DeactivatedAt: row.DeactivatedAt.ptr(), DeactivationReason: row.DeactivationReason,
		SubscriptionCounts: engine.SubscriptionCounts{Deliveries: row.Deliveries, Accepted: row.Accepted,
			Pending: row.Pending, Failed: row.Failed, Attempts: row.Attempts, FailedAttempts: row.FailedAttempts,
			ConsecutiveFailures: row.ConsecutiveFailures, FailingSince: row.FailingSince.ptr(),
			LastAttemptAt: row.LastAttemptAt.ptr(), LastSuccessAt: row.LastSuccessAt.ptr(), LastError: row.LastError,
			Buffered: row.Buffered, Replayed: row.Replayed, Dropped: row.Dropped, Purged: row.Purged}}, nil
}

// InsertSubscription inserts s with its secret sealed and its counters at
// zero (engine.ErrConflict if the id exists).
func (r *repo) InsertSubscription(ctx context.Context, s *engine.Subscription) error {
	sealed, err := r.box().Seal(s.Secret)
	if err != nil {
		return fmt.Errorf("seal secret of subscription %s: %w", s.ID, err)
	}
	row := &subscriptionRow{ID: s.ID, App: s.App, Event: s.Event, URL: s.URL, ListID: s.ListID, Secret: sealed,
		Active: s.Active, CreatedAt: ut(s.CreatedAt), UpdatedAt: ut(s.UpdatedAt), DeactivatedAt: utp(s.DeactivatedAt),
		DeactivationReason: s.DeactivationReason}
	_, err = r.conn(ctx).NewInsert().Model(row).Exec(ctx)
	return wrap(err, "insert subscription %s", s.ID)
}

// GetSubscription returns a subscription by id.
func (r *repo) GetSubscription(ctx context.Context, id string) (*engine.Subscription, error) {
	var row subscriptionRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get subscription %s", id)
	}
	s, err := r.openSubscription(&row)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// ListSubscriptions returns the subscriptions of app and event ("" matches
// any), oldest first.
func (r *repo) ListSubscriptions(ctx context.Context, app, event string) ([]engine.Subscription, error) {
	var rows []subscriptionRow
	q := r.conn(ctx).NewSelect().Model(&rows).OrderExpr("created_at, id")
	if app != "" {
		q = q.Where("app = ?", app)
	}
	if event != "" {
		q = q.Where("event = ?", event)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap(err, "list subscriptions")
	}
	out := make([]engine.Subscription, len(rows))
	for i := range rows {
		s, err := r.openSubscription(&rows[i])
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// DeleteSubscription deletes a subscription, its deliveries (their
// attempts cascade) and its buffered events (cascade), atomically.
func (r *repo) DeleteSubscription(ctx context.Context, id string) error {
	return r.atomic(ctx, func(ctx context.Context, r *repo) error {
		if _, err := r.conn(ctx).NewDelete().TableExpr("deliveries").Where("subscription_id = ?", id).Exec(ctx); err != nil {
			return wrap(err, "delete deliveries of subscription %s", id)
		}
		res, err := r.conn(ctx).NewDelete().TableExpr("event_subscriptions").Where("id = ?", id).Exec(ctx)
		if err != nil {
			return wrap(err, "delete subscription %s", id)
		}
		n, err := affected(res)
		if err != nil {
			return wrap(err, "delete subscription %s", id)
		}
		if n == 0 {
			return notFound("delete subscription %s", id)
		}
		return nil
	})
}

// exec runs an UPDATE and returns the rows it changed.
func (r *repo) exec(ctx context.Context, what string, query string, args ...any) (int64, error) {
	res, err := r.conn(ctx).ExecContext(ctx, query, args...)
	if err != nil {
		return 0, wrap(err, "%s", what)
	}
	n, err := affected(res)
	return n, wrap(err, "%s", what)
}

// AddSubscriptionDeliveries counts n new pending deliveries (a missing
// subscription is ignored: it was deleted meanwhile).
func (r *repo) AddSubscriptionDeliveries(ctx context.Context, id string, n int) error {
	_, err := r.exec(ctx, "count deliveries of subscription "+id,
		`UPDATE event_subscriptions SET deliveries = deliveries + ?, pending = pending + ? WHERE id = ?`, n, n, id)
	return err
}

// b01 is a boolean as a 0/1 query argument, which both databases compare
// the same way.
func b01(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RecordSubscriptionAttempt counts one attempt: attempts, failed attempts,
// the failure streak (reset by an accepted attempt, started at a.At by the
// first failed one), last attempt and success times, last error, and the
// accepted/failed/pending counts when the delivery is done.
func (r *repo) RecordSubscriptionAttempt(ctx context.Context, id string, a engine.SubscriptionAttempt) (*engine.Subscription, error) {
	ok, failed := b01(a.Accepted), b01(!a.Accepted)
	accepted, done := b01(a.Status == engine.DeliveryAccepted), b01(a.Status == engine.DeliveryFailed)
	n, err := r.exec(ctx, "count attempt of subscription "+id, `UPDATE event_subscriptions SET
  attempts = attempts + 1,
  failed_attempts = failed_attempts + ?,
  consecutive_failures = CASE WHEN ? = 1 THEN 0 ELSE consecutive_failures + 1 END,
  failing_since = CASE WHEN ? = 1 THEN NULL ELSE COALESCE(failing_since, ?) END,
  last_attempt_at = ?,
  last_success_at = CASE WHEN ? = 1 THEN ? ELSE last_success_at END,
  last_error = ?,
  accepted = accepted + ?,
  failed = failed + ?,
  pending = pending - ?
WHERE id = ?`, failed, ok, ok, ut(a.At), ut(a.At), ok, ut(a.At), cleanText(a.Error),
		accepted, done, accepted+done, id)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, notFound("count attempt of subscription %s", id)
	}
	return r.GetSubscription(ctx, id)
}

// DeactivateSubscription marks an active subscription inactive, and
// reports whether it was active (engine.ErrNotFound if it does not exist).
func (r *repo) DeactivateSubscription(ctx context.Context, id string, at time.Time, reason string) (bool, error) {
	n, err := r.exec(ctx, "deactivate subscription "+id, `UPDATE event_subscriptions
SET active = ?, deactivated_at = ?, deactivation_reason = ?, updated_at = ? WHERE id = ? AND active = ?`,
		false, ut(at), cleanText(reason), ut(at), id, true)
	if err != nil {
		return false, err
	}
	if n == 0 {
		return false, r.mustExist(ctx, "event_subscriptions", id, "deactivate subscription %s", id)
	}
	return true, nil
}

// ActivateSubscription marks an inactive subscription active, clears its
// deactivation and failure streak, and reports whether it was inactive
// (engine.ErrNotFound if it does not exist). Being an UPDATE, it waits for
// a transaction buffering an event for it, so none is left behind.
func (r *repo) ActivateSubscription(ctx context.Context, id string, at time.Time) (bool, error) {
	n, err := r.exec(ctx, "activate subscription "+id, `UPDATE event_subscriptions
SET active = ?, deactivated_at = NULL, deactivation_reason = '', consecutive_failures = 0, failing_since = NULL,
  updated_at = ?
WHERE id = ? AND active = ?`, true, ut(at), id, false)
	if err != nil {
		return false, err
	}
	if n == 0 {
		return false, r.mustExist(ctx, "event_subscriptions", id, "activate subscription %s", id)
	}
	return true, nil
}

// BufferSubscriptionEvent stores ev if its subscription is inactive and
// reports whether it did. The counter's UPDATE comes first: it locks the
// subscription's row, so an activation cannot slip in between.
func (r *repo) BufferSubscriptionEvent(ctx context.Context, ev *engine.BufferedEvent) (bool, error) {
	var stored bool
	err := r.atomic(ctx, func(ctx context.Context, r *repo) error {
		n, err := r.exec(ctx, "buffer event for subscription "+ev.SubscriptionID,
			`UPDATE event_subscriptions SET buffered = buffered + 1 WHERE id = ? AND active = ?`, ev.SubscriptionID, false)
		if err != nil || n == 0 {
			return err
		}
		_, err = r.conn(ctx).NewInsert().Model(&bufferRow{SubscriptionID: ev.SubscriptionID, MessageID: ev.MessageID,
			ContactID: ev.ContactID, Body: ev.Body, OccurredAt: ut(ev.OccurredAt)}).ExcludeColumn("seq").Exec(ctx)
		if err != nil {
			return wrap(err, "buffer event for subscription %s", ev.SubscriptionID)
		}
		stored = true
		return nil
	})
	return stored, err
}

// BufferedEvents returns up to limit buffered events of a subscription with
// seq above afterSeq, oldest first.
func (r *repo) BufferedEvents(ctx context.Context, subscriptionID string, afterSeq int64, limit int) ([]engine.BufferedEvent, error) {
	if limit <= 0 {
		limit = defaultDueLimit
	}
	var rows []bufferRow
	err := r.conn(ctx).NewSelect().Model(&rows).Where("subscription_id = ? AND seq > ?", subscriptionID, afterSeq).
		OrderExpr("seq").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, wrap(err, "buffered events of subscription %s", subscriptionID)
	}
	out := make([]engine.BufferedEvent, len(rows))
	for i, b := range rows {
		out[i] = engine.BufferedEvent{Seq: b.Seq, SubscriptionID: b.SubscriptionID, MessageID: b.MessageID,
			ContactID: b.ContactID, Body: b.Body, OccurredAt: b.OccurredAt.T()}
	}
	return out, nil
}

// outcomeColumns are the counters of engine.BufferOutcome values.
var outcomeColumns = map[engine.BufferOutcome]string{
	engine.BufferReplayed: "replayed", engine.BufferDropped: "dropped", engine.BufferPurged: "purged"}

// ClearBufferedEvents deletes the subscription's buffered events with seq
// up to upToSeq and moves their count from buffered to outcome's counter.
func (r *repo) ClearBufferedEvents(ctx context.Context, subscriptionID string, upToSeq int64, outcome engine.BufferOutcome) (int, error) {
	col, ok := outcomeColumns[outcome]
	if !ok {
		return 0, fmt.Errorf("clear buffered events: unknown outcome %q", outcome)
	}
	var deleted int64
	err := r.atomic(ctx, func(ctx context.Context, r *repo) error {
		n, err := r.exec(ctx, "clear buffered events of subscription "+subscriptionID,
			`DELETE FROM subscription_buffer WHERE subscription_id = ? AND seq <= ?`, subscriptionID, upToSeq)
		if err != nil || n == 0 {
			return err
		}
		deleted = n
		_, err = r.exec(ctx, "count cleared events of subscription "+subscriptionID,
			`UPDATE event_subscriptions SET buffered = buffered - ?, `+col+` = `+col+` + ? WHERE id = ?`, n, n, subscriptionID)
		return err
	})
	return int(deleted), err
}

// PurgeBufferedEvents deletes the buffered events that occurred before t,
// counts them as purged on their subscriptions and returns how many.
func (r *repo) PurgeBufferedEvents(ctx context.Context, before time.Time) (int, error) {
	total := 0
	err := r.atomic(ctx, func(ctx context.Context, r *repo) error {
		var per []struct {
			SubscriptionID string `bun:"subscription_id"`
			N              int64  `bun:"n"`
			MaxSeq         int64  `bun:"max_seq"`
		}
		err := r.conn(ctx).NewRaw(`SELECT subscription_id, COUNT(*) AS n, MAX(seq) AS max_seq FROM subscription_buffer
WHERE occurred_at < ? GROUP BY subscription_id`, ut(before)).Scan(ctx, &per)
		if err != nil {
			return wrap(err, "purge buffered events")
		}
		for _, p := range per {
			n, err := r.exec(ctx, "purge buffered events of subscription "+p.SubscriptionID,
				`DELETE FROM subscription_buffer WHERE subscription_id = ? AND occurred_at < ? AND seq <= ?`,
				p.SubscriptionID, ut(before), p.MaxSeq)
			if err != nil {
				return err
			}
			if _, err := r.exec(ctx, "count purged events of subscription "+p.SubscriptionID,
				`UPDATE event_subscriptions SET buffered = buffered - ?, purged = purged + ? WHERE id = ?`,
				n, n, p.SubscriptionID); err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// ListSubscriptionDeliveries returns one page of a subscription's
// deliveries, newest first (limit defaults to 50, at most 500).
func (r *repo) ListSubscriptionDeliveries(ctx context.Context, subscriptionID string, status engine.DeliveryStatus, limit int, cursor string) ([]engine.Delivery, error) {
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize+1)
	var rows []deliveryRow
	q := r.conn(ctx).NewSelect().Model(&rows).Where("subscription_id = ?", subscriptionID).
		OrderExpr("id DESC").Limit(int64(limit))
	if status != "" {
		q = q.Where("status = ?", string(status))
	}
	if cursor != "" {
		q = q.Where("id < ?", cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap(err, "list deliveries of subscription %s", subscriptionID)
	}
	out := make([]engine.Delivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}

// InsertNotification records a notification.
func (r *repo) InsertNotification(ctx context.Context, n *engine.Notification) error {
	_, err := r.conn(ctx).NewInsert().Model(&notificationRow{ID: n.ID, Type: n.Type, SubjectID: n.SubjectID,
		Message: cleanText(n.Message), Data: n.Data, CreatedAt: ut(n.CreatedAt)}).Exec(ctx)
	return wrap(err, "insert notification %s", n.ID)
}

// ListNotifications returns up to limit notifications, newest first.
func (r *repo) ListNotifications(ctx context.Context, limit int) ([]engine.Notification, error) {
	if limit <= 0 {
		limit = defaultPageSize
	}
	var rows []notificationRow
	if err := r.conn(ctx).NewSelect().Model(&rows).OrderExpr("created_at DESC, id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, wrap(err, "list notifications")
	}
	out := make([]engine.Notification, len(rows))
	for i, n := range rows {
		out[i] = engine.Notification{ID: n.ID, Type: n.Type, SubjectID: n.SubjectID, Message: n.Message,
			Data: n.Data, CreatedAt: n.CreatedAt.T()}
	}
	return out, nil
}
