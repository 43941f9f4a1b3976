package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/sluicehq/sluice/cmd/sluice/app"
)

// TestStoreDefaults: with SLUICE_WORKER_CONCURRENCY unset a worker runs
// 128 steps at once and commits their outcomes in two lanes on
// PostgreSQL, 64 in one lane on SQLite (its one writer); set, the
// variable is kept on both.
func TestStoreDefaults(t *testing.T) {
	eachStack(t, func(t *testing.T, s stack) {
		want, lanes := 64, 1
		if s.dbURL != "" {
			want, lanes = 128, 2
		}
		for _, set := range []int{0, 8} {
			cfg := config(t, s)
			cfg.Concurrency = set
			a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			w := want
			if set != 0 {
				w = set
			}
			if got := a.Concurrency(); got != w {
				t.Errorf("SLUICE_WORKER_CONCURRENCY %d: concurrency %d, want %d", set, got, w)
			}
			if got := a.CommitLanes(); got != lanes {
				t.Errorf("%d commit lanes, want %d", got, lanes)
			}
			a.Close()
		}
	})
}
