package app

import (
	"math"
	"runtime/debug"
	"testing"
)

// gcSettings reads the collector's percent and memory limit.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

func TestTuneGC(t *testing.T) {
	percent0, limit0 := gcSettings()
	t.Cleanup(func() {
		debug.SetGCPercent(percent0)
		debug.SetMemoryLimit(limit0)
	})
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}

	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	TuneGC(env(nil))
	if p, l := gcSettings(); p != defaultGCPercent || l != defaultMemoryLimit {
		t.Fatalf("defaults: GOGC %d, limit %d; want %d, %d", p, l, defaultGCPercent, defaultMemoryLimit)
	}

	// The runtime read GOGC and GOMEMLIMIT at start; TuneGC leaves them.
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	TuneGC(env(map[string]string{"GOGC": "100", "GOMEMLIMIT": "off"}))
	if p, l := gcSettings(); p != 100 || l != math.MaxInt64 {
		t.Fatalf("with GOGC and GOMEMLIMIT set: GOGC %d, limit %d; want them untouched", p, l)
	}
}
