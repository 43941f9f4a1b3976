package engine

import (
	"math/rand/v2"
	"time"
)

// RetryWindow is how long after its first attempt a delivery keeps being retried.
const RetryWindow = 12 * time.Hour

// backoff is the base delay before attempt n+1 (n attempts made): about
// 30 s, 2 min, 10 min, 30 min, 1 h, then hourly.
var backoff = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}

// NextAttempt returns when to try a delivery again after attempts failed
// tries, or ok=false when the retry window (12 h after first) has closed.
// The delay gets ±20 % jitter; a Retry-After longer than it wins.
func NextAttempt(first, now time.Time, attempts int, retryAfter time.Duration) (at time.Time, ok bool) {
	base := time.Hour
	if attempts >= 1 && attempts <= len(backoff) {
		base = backoff[attempts-1]
	}
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(base))
	delay := base + jitter
	if retryAfter > delay {
		delay = retryAfter
	}
	at = now.Add(delay)
	deadline := first.Add(RetryWindow)
	if !now.Before(deadline) {
		return time.Time{}, false
	}
	if at.After(deadline) {
		at = deadline // one last try at the close of the window
	}
	return at, true
}
