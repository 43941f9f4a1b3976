package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
)

// InsertRun inserts r unless a run with its id, or with the same scenario,
// contact and entry key, exists, and reports whether it did.
func (r *repo) InsertRun(ctx context.Context, run *engine.Run) (bool, error) {
	in, err := r.InsertRuns(ctx, []*engine.Run{run})
	return len(in) > 0, err
}

// GetRun returns a run by id.
func (r *repo) GetRun(ctx context.Context, id string) (*engine.Run, error) {
	var row runRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get run %s", id)
	}
	return row.run(), nil
}

// SetRunStatus sets the status of a run.
func (r *repo) SetRunStatus(ctx context.Context, id string, status engine.RunStatus) error {
	res, err := r.conn(ctx).ExecContext(ctx, "UPDATE runs SET status = ? WHERE id = ?", string(status), id)
	if err != nil {
		return wrap(err, "set status of run %s", id)
	}
	n, err := affected(res)
	if err != nil {
		return wrap(err, "set status of run %s", id)
	}
	if n == 0 {
		return notFound("set status of run %s", id)
	}
	return nil
}

// InsertNewSteps inserts the first steps of runs created in the same
// transaction, in one statement sent later (later): their runs are new, so
// no step can conflict, and nothing needs to come back.
func (r *repo) InsertNewSteps(ctx context.Context, steps []*engine.Step) error {
	return insertAllLater(ctx, r, steps, newStepRow, "new steps")
}

// InsertSteps inserts steps in one statement, skipping those whose id or
// (run, node) exists, and returns those it inserted, in input order.
func (r *repo) InsertSteps(ctx context.Context, steps []*engine.Step) ([]*engine.Step, error) {
	if len(steps) == 0 {
		return nil, nil
	}
	rows := make([]stepRow, len(steps))
	for i, s := range steps {
		rows[i] = newStepRow(s)
	}
	var got []stepRow
	err := r.conn(ctx).NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Returning("id, run_id, node_id").Scan(ctx, &got)
	if err != nil {
		return nil, wrap(err, "insert %d steps", len(steps))
	}
	keys := make([]string, len(got))
	for i, g := range got {
		keys[i] = rowKey(g.ID, g.RunID, g.NodeID)
	}
	return keepInserted(steps, markInserted(keys, steps, func(s *engine.Step) string { return rowKey(s.ID, s.RunID, s.NodeID) })), nil
}

// GetStep returns a step by id.
func (r *repo) GetStep(ctx context.Context, id string) (*engine.Step, error) {
	var row stepRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get step %s", id)
	}
	s := row.step()
	return &s, nil
}

// FinishStep moves a pending step to status and reports whether it did
// (false if it was not pending; engine.ErrNotFound if it does not exist).
func (r *repo) FinishStep(ctx context.Context, id string, status engine.StepStatus, errMsg string, at time.Time) (bool, error) {
	res, err := r.conn(ctx).ExecContext(ctx,
		"UPDATE steps SET status = ?, error = ?, done_at = ? WHERE id = ? AND "+pendingByID,
		string(status), cleanText(errMsg), ut(at), id)
	if err != nil {
		return false, wrap(err, "finish step %s", id)
	}
	n, err := affected(res)
	if err != nil {
		return false, wrap(err, "finish step %s", id)
	}
	if n == 0 {
		return false, r.mustExist(ctx, "steps", id, "finish step %s", id)
	}
	return true, nil
}

// mustExist returns engine.ErrNotFound unless table has a row with id.
// Conditional updates call it only when they changed nothing.
func (r *repo) mustExist(ctx context.Context, table, id string, format string, args ...any) error {
	var n int
	err := r.conn(ctx).NewRaw("SELECT COUNT(*) FROM ? WHERE id = ?", bun.Ident(table), id).Scan(ctx, &n)
	if err != nil {
		return wrap(err, format, args...)
	}
	if n == 0 {
		return notFound(format, args...)
	}
	return nil
}

// DueSteps returns pending steps due at or before t, oldest first (limit
// <= 0 means 100).
func (r *repo) DueSteps(ctx context.Context, t time.Time, limit int) ([]engine.Step, error) {
	if limit <= 0 {
		limit = defaultDueLimit
	}
	var rows []stepRow
	err := r.reader(ctx).NewRaw(`SELECT * FROM steps WHERE status = 'pending' AND due_at <= ?
ORDER BY due_at, id LIMIT ?`, ut(t), limit).Scan(ctx, &rows)
	if err != nil {
		return nil, wrap(err, "due steps")
	}
	out := make([]engine.Step, len(rows))
	for i := range rows {
		out[i] = rows[i].step()
	}
	return out, nil
}
