package storage_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func TestImports(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		a := &engine.Import{ImportSummary: engine.ImportSummary{ID: "imp_a", Format: engine.ImportCSV,
			Status: engine.ImportRunning, CreatedAt: t0}, Errors: []engine.ImportRowError{}}
		b := &engine.Import{ImportSummary: engine.ImportSummary{ID: "imp_b", Format: engine.ImportNDJSON, ListID: "lst_1",
			Status: engine.ImportRunning, CreatedAt: at(1)}, Errors: []engine.ImportRowError{}}
		for _, imp := range []*engine.Import{a, b} {
			if err := s.InsertImport(ctx, imp); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.InsertImport(ctx, a); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("InsertImport twice: %v, want ErrConflict", err)
		}

		// Progress, then the end: what UpdateImport writes reads back.
		a.Rows, a.Accepted, a.Refused = 1000, 998, 2
		a.Errors = []engine.ImportRowError{{Line: 3, Email: "bad", Field: "email", Message: `"bad" is not a valid email address`},
			{Line: 7, Email: "élodie@example.org", Field: "c3", Message: "is longer than 4096 characters"}}
		if err := s.UpdateImport(ctx, a); err != nil {
			t.Fatal(err)
		}
		finished := at(60)
		a.Status, a.FinishedAt, a.Failure = engine.ImportFailed, &finished, "stopped reading the body: unexpected EOF"
		if err := s.UpdateImport(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetImport(ctx, "imp_a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("GetImport (-want +got):\n%s", diff)
		}
		if got, err := s.GetImport(ctx, "imp_b"); err != nil || got.Errors == nil || len(got.Errors) != 0 {
			t.Errorf("GetImport without errors: %+v, %v; want errors []", got, err)
		}

		list, err := s.ListImports(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]engine.ImportSummary{b.ImportSummary, a.ImportSummary}, list); diff != "" {
			t.Errorf("ListImports: newest first (-want +got):\n%s", diff)
		}
		if list, err := s.ListImports(ctx, 1); err != nil || len(list) != 1 || list[0].ID != "imp_b" {
			t.Errorf("ListImports(1): %+v, %v", list, err)
		}

		if _, err := s.GetImport(ctx, "imp_nope"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetImport of a missing import: %v, want ErrNotFound", err)
		}
		missing := &engine.Import{ImportSummary: engine.ImportSummary{ID: "imp_nope"}}
		if err := s.UpdateImport(ctx, missing); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("UpdateImport of a missing import: %v, want ErrNotFound", err)
		}
	})
}
