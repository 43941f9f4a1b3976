package app

import (
	"strings"
	"testing"
	"time"
)

// TestLingerConfig: the group-commit lingers default to 5ms and 20ms,
// take 0 (none) to 1s, and refuse anything else with the variable's name.
func TestLingerConfig(t *testing.T) {
	tests := []struct {
		name           string
		env            map[string]string
		ingest, commit time.Duration
		err            string
	}{
		{"defaults", nil, 5 * time.Millisecond, 20 * time.Millisecond, ""},
		{"set", map[string]string{"SLUICE_INGEST_LINGER": "2ms", "SLUICE_COMMIT_LINGER": "1s"}, 2 * time.Millisecond, time.Second, ""},
		{"off", map[string]string{"SLUICE_INGEST_LINGER": "0", "SLUICE_COMMIT_LINGER": "0s"}, 0, 0, ""},
		{"negative", map[string]string{"SLUICE_INGEST_LINGER": "-1ms"}, 0, 0, "SLUICE_INGEST_LINGER"},
		{"too long", map[string]string{"SLUICE_COMMIT_LINGER": "2s"}, 0, 0, "SLUICE_COMMIT_LINGER"},
		{"not a duration", map[string]string{"SLUICE_COMMIT_LINGER": "soon"}, 0, 0, "SLUICE_COMMIT_LINGER"},
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
			if c.IngestLinger != tt.ingest || c.CommitLinger != tt.commit {
				t.Errorf("lingers %v / %v, want %v / %v", c.IngestLinger, c.CommitLinger, tt.ingest, tt.commit)
			}
			if got := orNone(c.IngestLinger); (c.IngestLinger == 0) != (got < 0) {
				t.Errorf("orNone(%v) = %v: 0 must reach the engine as none (negative)", c.IngestLinger, got)
			}
		})
	}
}

// TestIngestFillConfig: SLUICE_INGEST_FILL defaults to 4 and takes 1 to
// 1000 (the largest event batch).
func TestIngestFillConfig(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  int
		ok    bool
	}{{"", 4, true}, {"16", 16, true}, {"1", 1, true}, {"1000", 1000, true}, {"0", 0, false}, {"1001", 0, false}, {"many", 0, false}} {
		c, err := FromEnv(func(k string) string {
			if k == "SLUICE_INGEST_FILL" {
				return tt.value
			}
			return ""
		})
		switch {
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), "SLUICE_INGEST_FILL")):
			t.Errorf("SLUICE_INGEST_FILL=%q: err = %v, want one naming the variable", tt.value, err)
		case tt.ok && err != nil:
			t.Errorf("SLUICE_INGEST_FILL=%q: %v", tt.value, err)
		case tt.ok && c.IngestFill != tt.want:
			t.Errorf("SLUICE_INGEST_FILL=%q: IngestFill %d, want %d", tt.value, c.IngestFill, tt.want)
		}
	}
}

// TestConcurrencyConfig: SLUICE_WORKER_CONCURRENCY unset is 0 (New picks
// by store, TestStoreDefaults), set is 1 to 1000, anything else is
// refused with the variable's name.
func TestConcurrencyConfig(t *testing.T) {
	for _, tt := range []struct {
		set  string
		want int
		err  bool
	}{{"", 0, false}, {"1", 1, false}, {"1000", 1000, false}, {"0", 0, true}, {"1001", 0, true}, {"many", 0, true}} {
		c, err := FromEnv(func(k string) string {
			if k == "SLUICE_WORKER_CONCURRENCY" {
				return tt.set
			}
			return ""
		})
		if tt.err {
			if err == nil || !strings.Contains(err.Error(), "SLUICE_WORKER_CONCURRENCY") {
				t.Errorf("%q: err = %v, want one naming SLUICE_WORKER_CONCURRENCY", tt.set, err)
			}
			continue
		}
		if err != nil || c.Concurrency != tt.want {
			t.Errorf("%q: concurrency %d, %v; want %d", tt.set, c.Concurrency, err, tt.want)
		}
	}
}
