package app

import (
	"strings"
	"testing"
	"time"
)

// TestLingerConfig: the group-commit lingers default to 5ms and 20ms and
// the ingest hold to 500ms; each takes 0 (none) to 1s, and anything else
// is refused with the variable's name.
func TestLingerConfig(t *testing.T) {
	const hold = 500 * time.Millisecond
	tests := []struct {
		name                 string
		env                  map[string]string
		ingest, commit, held time.Duration
		err                  string
	}{
		{"defaults", nil, 5 * time.Millisecond, 20 * time.Millisecond, hold, ""},
		{"set", map[string]string{"SLUICE_INGEST_LINGER": "2ms", "SLUICE_COMMIT_LINGER": "1s", "SLUICE_INGEST_HOLD": "50ms"},
			2 * time.Millisecond, time.Second, 50 * time.Millisecond, ""},
		{"off", map[string]string{"SLUICE_INGEST_LINGER": "0", "SLUICE_COMMIT_LINGER": "0s", "SLUICE_INGEST_HOLD": "0"}, 0, 0, 0, ""},
		{"negative", map[string]string{"SLUICE_INGEST_LINGER": "-1ms"}, 0, 0, 0, "SLUICE_INGEST_LINGER"},
		{"too long", map[string]string{"SLUICE_COMMIT_LINGER": "2s"}, 0, 0, 0, "SLUICE_COMMIT_LINGER"},
		{"hold too long", map[string]string{"SLUICE_INGEST_HOLD": "1m"}, 0, 0, 0, "SLUICE_INGEST_HOLD"},
		{"not a duration", map[string]string{"SLUICE_COMMIT_LINGER": "soon"}, 0, 0, 0, "SLUICE_COMMIT_LINGER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tt.env[k] })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.IngestLinger != tt.ingest || c.CommitLinger != tt.commit || c.IngestHold != tt.held {
				t.Errorf("lingers %v / %v, hold %v, want %v / %v, %v",
					c.IngestLinger, c.CommitLinger, c.IngestHold, tt.ingest, tt.commit, tt.held)
			}
			if got := orNone(c.IngestLinger); (c.IngestLinger == 0) != (got < 0) {
				t.Errorf("orNone(%v) = %v: 0 must reach the engine as none (negative)", c.IngestLinger, got)
			}
		})
	}
}

// TestIntConfig: SLUICE_INGEST_FILL defaults to 16 and takes 1 to 1000
// (the largest event batch); SLUICE_WORKER_CONCURRENCY unset is 0 (New
// picks by store, TestStoreDefaults) and takes 1 to 1000. Anything else
// is refused with the variable's name.
func TestIntConfig(t *testing.T) {
	fill := func(c Config) int { return c.IngestFill }
	conc := func(c Config) int { return c.Concurrency }
	for _, tt := range []struct {
		name, value string
		get         func(Config) int
		want        int
		ok          bool
	}{
		{"SLUICE_INGEST_FILL", "", fill, 16, true},
		{"SLUICE_INGEST_FILL", "4", fill, 4, true},
		{"SLUICE_INGEST_FILL", "1", fill, 1, true},
		{"SLUICE_INGEST_FILL", "1000", fill, 1000, true},
		{"SLUICE_INGEST_FILL", "0", fill, 0, false},
		{"SLUICE_INGEST_FILL", "1001", fill, 0, false},
		{"SLUICE_INGEST_FILL", "many", fill, 0, false},
		{"SLUICE_WORKER_CONCURRENCY", "", conc, 0, true},
		{"SLUICE_WORKER_CONCURRENCY", "1", conc, 1, true},
		{"SLUICE_WORKER_CONCURRENCY", "1000", conc, 1000, true},
		{"SLUICE_WORKER_CONCURRENCY", "0", conc, 0, false},
		{"SLUICE_WORKER_CONCURRENCY", "1001", conc, 0, false},
		{"SLUICE_WORKER_CONCURRENCY", "many", conc, 0, false},
	} {
		c, err := FromEnv(func(k string) string {
			if k == tt.name {
				return tt.value
			}
			return ""
		})
		switch {
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), tt.name)):
			t.Errorf("%s=%q: err = %v, want one naming the variable", tt.name, tt.value, err)
		case tt.ok && err != nil:
			t.Errorf("%s=%q: %v", tt.name, tt.value, err)
		case tt.ok && tt.get(c) != tt.want:
			t.Errorf("%s=%q: %d, want %d", tt.name, tt.value, tt.get(c), tt.want)
		}
	}
}
