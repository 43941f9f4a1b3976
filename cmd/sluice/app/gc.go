package app

import "runtime/debug"

// The garbage collector's defaults for the sluice binary. Go's own (GOGC
// 100, no memory limit) collect whenever the heap doubles, and Sluice's
// live heap is small (10-20 MiB under load), so under load it collected
// many times a second: its mark workers took about a tenth of Sluice's
// CPU. Letting the heap grow to 5 × the live heap instead cut Sluice's CPU
// per delivery by 9-11 % at 2,500 events/s (interleaved pairs), for 60
// MiB peak RSS instead of 43. The soft memory limit makes the collector
// work harder as the heap nears it, so that the process stays within its
// 200 MB budget under load whatever is live: the 100k batch (1,000 events
// a request) peaked at 163-174 MiB with a limit of 150 MiB and 138-144
// MiB with 120 MiB, for 14 % more CPU on the embedded stack.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 128 << 20 // bytes
)

// TuneGC sets the collector's defaults, each unless the environment sets
// it for the Go runtime (GOGC, GOMEMLIMIT), which then wins.
func TuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
