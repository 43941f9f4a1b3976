package engine

import "context"

// ImportTx holds the storage operations of contact imports; it is part of Tx.
type ImportTx interface {
	// InsertImport records a new import (ErrConflict if the id exists).
	InsertImport(ctx context.Context, imp *Import) error
	// UpdateImport writes an import's status, counts, errors, failure and
	// finish time (ErrNotFound if it does not exist).
	UpdateImport(ctx context.Context, imp *Import) error
	// GetImport returns an import with its errors; ErrorsTruncated is
	// left for the engine to work out.
	GetImport(ctx context.Context, id string) (*Import, error)
	// ListImports returns the latest imports without their errors, newest
	// first.
	ListImports(ctx context.Context, limit int) ([]ImportSummary, error)
}
