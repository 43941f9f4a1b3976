package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
)

// importRow is a contact import with its first refused rows (JSON).
type importRow struct {
	bun.BaseModel `bun:"table:imports,alias:imp"`
	ID            string                  `bun:"id,pk"`
	Format        string                  `bun:"format"`
	ListID        string                  `bun:"list_id,nullzero"`
	Status        string                  `bun:"status"`
	Rows          int64                   `bun:"rows"`
	Accepted      int64                   `bun:"accepted"`
	Refused       int64                   `bun:"refused"`
	Errors        []engine.ImportRowError `bun:"errors,nullzero"`
	Failure       string                  `bun:"failure"`
	CreatedAt     utime                   `bun:"created_at"`
	UpdatedAt     utime                   `bun:"updated_at"`
	FinishedAt    *utime                  `bun:"finished_at"`
}

// importSummaryColumns are the columns of an import but its errors.
var importSummaryColumns = []string{"id", "format", "list_id", "status", "rows", "accepted", "refused",
	"failure", "created_at", "updated_at", "finished_at"}

func newImportRow(imp *engine.Import) *importRow {
	return &importRow{ID: imp.ID, Format: imp.Format, ListID: imp.ListID, Status: string(imp.Status),
		Rows: imp.Rows, Accepted: imp.Accepted, Refused: imp.Refused, Errors: imp.Errors, Failure: imp.Failure,
		CreatedAt: ut(imp.CreatedAt), UpdatedAt: ut(imp.UpdatedAt), FinishedAt: utp(imp.FinishedAt)}
}

func (r *importRow) summary() engine.ImportSummary {
	return engine.ImportSummary{ID: r.ID, Format: r.Format, ListID: r.ListID, Status: engine.ImportStatus(r.Status),
		Rows: r.Rows, Accepted: r.Accepted, Refused: r.Refused, Failure: r.Failure,
		CreatedAt: r.CreatedAt.T(), UpdatedAt: r.UpdatedAt.T(), FinishedAt: r.FinishedAt.ptr()}
}

// InsertImport records a new import (engine.ErrConflict if the id exists).
func (r *repo) InsertImport(ctx context.Context, imp *engine.Import) error {
	_, err := r.conn(ctx).NewInsert().Model(newImportRow(imp)).Exec(ctx)
	return wrap(err, "insert import %s", imp.ID)
}

// UpdateImport writes an import's status, counts, errors, failure, update
// and finish times (engine.ErrNotFound if it does not exist).
func (r *repo) UpdateImport(ctx context.Context, imp *engine.Import) error {
	res, err := r.conn(ctx).NewUpdate().Model(newImportRow(imp)).
		Column("status", "rows", "accepted", "refused", "errors", "failure", "updated_at", "finished_at").
		WherePK().Exec(ctx)
	if err != nil {
		return wrap(err, "update import %s", imp.ID)
	}
	n, err := affected(res)
	if err != nil {
		return wrap(err, "update import %s", imp.ID)
	}
	if n == 0 {
		return notFound("update import %s", imp.ID)
	}
	return nil
}

// GetImport returns an import with its errors ([] when there are none).
func (r *repo) GetImport(ctx context.Context, id string) (*engine.Import, error) {
	var row importRow
	if err := r.conn(ctx).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(err, "get import %s", id)
	}
	imp := &engine.Import{ImportSummary: row.summary(), Errors: row.Errors}
	if imp.Errors == nil {
		imp.Errors = []engine.ImportRowError{}
	}
	return imp, nil
}

// ListImports returns the latest imports without their errors, newest
// first; limit is capped at maxPageSize.
func (r *repo) ListImports(ctx context.Context, limit int) ([]engine.ImportSummary, error) {
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)
	var rows []importRow
	err := r.conn(ctx).NewSelect().Model(&rows).Column(importSummaryColumns...).
		OrderExpr("created_at DESC, id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, wrap(err, "list imports")
	}
	out := make([]engine.ImportSummary, len(rows))
	for i := range rows {
		out[i] = rows[i].summary()
	}
	return out, nil
}

// TouchImport sets a running import's updated_at to at (a heartbeat).
func (r *repo) TouchImport(ctx context.Context, id string, at time.Time) error {
	_, err := r.conn(ctx).ExecContext(ctx, "UPDATE imports SET updated_at = ? WHERE id = ? AND status = 'running'", ut(at), id)
	return wrap(err, "touch import %s", id)
}

// FailStaleImports marks failed, with failure and finish time at, the
// running imports not updated since before, and returns how many.
func (r *repo) FailStaleImports(ctx context.Context, before, at time.Time, failure string) (int, error) {
	res, err := r.conn(ctx).ExecContext(ctx, `UPDATE imports SET status = 'failed', failure = ?, finished_at = ?, updated_at = ?
WHERE status = 'running' AND updated_at < ?`, failure, ut(at), ut(at), ut(before))
	if err != nil {
		return 0, wrap(err, "fail stale imports")
	}
	n, err := affected(res)
	return int(n), wrap(err, "fail stale imports")
}
