package storage

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
)

// InsertDelivery inserts d unless its id exists, and reports whether it
// did.
func (r *repo) InsertDelivery(ctx context.Context, d *engine.Delivery) (bool, error) {
	ok, err := r.InsertDeliveries(ctx, []*engine.Delivery{d})
	return err == nil && ok[0], err
}

// GetDelivery returns a delivery by id.
func (r *repo) GetDelivery(ctx context.Context, id string) (*engine.Delivery, error) {
	var row deliveryRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get delivery %s", id)
	}
	d := row.delivery()
	return &d, nil
}

// UpdateDelivery writes status, attempts, first/next attempt times, last
// error and done time if the stored row is pending with prevAttempts
// attempts, and reports whether it did (engine.ErrNotFound if the delivery
// does not exist).
func (r *repo) UpdateDelivery(ctx context.Context, d *engine.Delivery, prevAttempts int) (bool, error) {
	res, err := r.conn(ctx).ExecContext(ctx, `UPDATE deliveries
SET status = ?, attempts = ?, first_attempt_at = ?, next_attempt_at = ?, last_error = ?, done_at = ?
WHERE id = ? AND `+pendingByID+` AND attempts = ?`,
		string(d.Status), d.Attempts, utArg(d.FirstAttemptAt), utArg(d.NextAttemptAt), cleanText(d.LastError), utArg(d.DoneAt),
		d.ID, prevAttempts)
	if err != nil {
		return false, wrap(err, "update delivery %s", d.ID)
	}
	n, err := affected(res)
	if err != nil {
		return false, wrap(err, "update delivery %s", d.ID)
	}
	if n == 0 {
		return false, r.mustExist(ctx, "deliveries", d.ID, "update delivery %s", d.ID)
	}
	return true, nil
}

// InsertAttempt inserts an attempt (engine.ErrConflict if its delivery
// already has an attempt with that number, engine.ErrNotFound if the
// delivery does not exist). Bodies are stored as bytes, exactly.
func (r *repo) InsertAttempt(ctx context.Context, a *engine.Attempt) error {
	return r.InsertAttempts(ctx, []*engine.Attempt{a})
}

// ListDeliveries returns one page of deliveries, newest first: those
// matching every set field of f, with ids below f.Cursor. Limit defaults
// to 50 and is capped at 500.
//
// A step's deliveries of every status are the newest of each status's
// page, merged: deliveries_step_status (scenario, node, status, id) gives
// each of those pages in order, so no second index on (scenario, node, id)
// has to be written with every delivery for this listing alone.
func (r *repo) ListDeliveries(ctx context.Context, f engine.DeliveryFilter) ([]engine.Delivery, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)
	if f.Status != "" || f.ScenarioID == "" || f.NodeID == "" {
		return r.listDeliveries(ctx, f, limit)
	}
	var out []engine.Delivery
	for _, st := range engine.DeliveryStatuses {
		f.Status = st
		page, err := r.listDeliveries(ctx, f, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	slices.SortFunc(out, func(a, b engine.Delivery) int { return strings.Compare(b.ID, a.ID) })
	return out[:min(limit, len(out))], nil
}

// listDeliveries is ListDeliveries in one query, limit set.
func (r *repo) listDeliveries(ctx context.Context, f engine.DeliveryFilter, limit int) ([]engine.Delivery, error) {
	var rows []deliveryRow
	q := r.conn(ctx).NewSelect().Model(&rows).OrderExpr("id DESC").Limit(int64(limit))
	if f.ScenarioID != "" {
		q = q.Where("scenario_id = ?", f.ScenarioID)
	}
	if f.NodeID != "" {
		q = q.Where("node_id = ?", f.NodeID)
	}
	if f.Version > 0 {
		q = q.Where("version = ?", f.Version)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Cursor != "" {
		q = q.Where("id < ?", f.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap(err, "list deliveries")
	}
	out := make([]engine.Delivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}

// ListAttempts returns the attempts of the given deliveries, oldest first,
// by delivery id (deliveries without attempts are absent).
func (r *repo) ListAttempts(ctx context.Context, deliveryIDs []string) (map[string][]engine.Attempt, error) {
	out := map[string][]engine.Attempt{}
	if len(deliveryIDs) == 0 {
		return out, nil
	}
	var rows []attemptRow
	err := r.conn(ctx).NewSelect().Model(&rows).Where("delivery_id IN (?)", bun.In(deliveryIDs)).
		OrderExpr("delivery_id, number").Scan(ctx)
	if err != nil {
		return nil, wrap(err, "list attempts")
	}
	for i := range rows {
		out[rows[i].DeliveryID] = append(out[rows[i].DeliveryID], rows[i].attempt())
	}
	return out, nil
}

// DueDeliveries returns pending deliveries whose next attempt is at or
// before t, oldest first (limit <= 0 means 100).
func (r *repo) DueDeliveries(ctx context.Context, t time.Time, limit int) ([]engine.Delivery, error) {
	if limit <= 0 {
		limit = defaultDueLimit
	}
	var rows []deliveryRow
	err := r.reader(ctx).NewRaw(`SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?
ORDER BY next_attempt_at, id LIMIT ?`, ut(t), limit).Scan(ctx, &rows)
	if err != nil {
		return nil, wrap(err, "due deliveries")
	}
	out := make([]engine.Delivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}
