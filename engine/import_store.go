package engine

import (
	"context"
	"time"
)

// ImportTx holds the storage operations of contact imports; it is part of Tx.
type ImportTx interface {
	// InsertImport records a new import (ErrConflict if the id exists).
	InsertImport(ctx context.Context, imp *Import) error
	// UpdateImport writes an import's status, counts, errors, failure,
	// update and finish times (ErrNotFound if it does not exist).
	UpdateImport(ctx context.Context, imp *Import) error
	// TouchImport sets a running import's update time to at.
	TouchImport(ctx context.Context, id string, at time.Time) error
	// FailStaleImports marks failed, with failure and finish time at, the
	// running imports not updated since before, and returns how many.
	FailStaleImports(ctx context.Context, before, at time.Time, failure string) (int, error)
	// GetImport returns an import with its errors; ErrorsTruncated is
	// left for the engine to work out.
	GetImport(ctx context.Context, id string) (*Import, error)
	// ListImports returns the latest imports without their errors, newest
	// first.
	ListImports(ctx context.Context, limit int) ([]ImportSummary, error)
}
