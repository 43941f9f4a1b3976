package storage

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/secrets"
)

// The embedded store's pages come from the page cache pool set up before
// SQLite starts (configureSQLite), not one allocation each.
func TestSQLitePagesComeFromPool(t *testing.T) {
	if pageCacheUsed() < 0 {
		t.Skip("the cgo SQLite driver keeps its own page cache")
	}
	box, err := secrets.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: "sqlite://" + filepath.Join(t.TempDir(), "pool.db"), Secrets: box})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertEvents(ctx, []*engine.Event{{ID: "evt_1", Type: "signup"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetEvent(ctx, "evt_1"); err != nil {
		t.Fatal(err)
	}
	if n := pageCacheUsed(); n <= 0 {
		t.Fatalf("%d pages of the pool in use with a database open; want its pages there", n)
	}
}
