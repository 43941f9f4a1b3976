package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// receiver is the loopback webhook target: it answers 200 to everything,
// counts deliveries and keeps, for each, the latency from the send
// timestamp the body carries in extra.sent_at to its arrival.
type receiver struct {
	srv *http.Server
	url string

	mu        sync.Mutex
	want      int
	count     int
	unstamped int // deliveries without a readable sent_at
	latencies []time.Duration
	last      time.Time // arrival of the latest delivery
	done      chan struct{}
}

// startReceiver listens on a loopback port.
func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	rc := &receiver{url: "http://" + ln.Addr().String() + "/hook", done: make(chan struct{})}
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go rc.srv.Serve(ln)
	return rc, nil
}

// close stops the receiver.
func (rc *receiver) close() { rc.srv.Close() }

// ServeHTTP records one delivery.
func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(r.Body)
	sent, ok := sentAt(body)
	rc.mu.Lock()
	rc.count++
	if ok {
		rc.latencies = append(rc.latencies, now.Sub(time.Unix(0, sent)))
	} else {
		rc.unstamped++
	}
	if now.After(rc.last) {
		rc.last = now
	}
	if rc.count == rc.want {
		close(rc.done)
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// sentAt reads extra.sent_at, unix nanoseconds as a string (Sluice keeps
// the type of a single placeholder, and the event carries a string) or,
// to be lenient, as a number.
func sentAt(body []byte) (int64, bool) {
	var b struct {
		Extra struct {
			SentAt json.RawMessage `json:"sent_at"`
		} `json:"extra"`
	}
	if json.Unmarshal(body, &b) != nil || len(b.Extra.SentAt) == 0 {
		return 0, false
	}
	var s string
	if json.Unmarshal(b.Extra.SentAt, &s) != nil {
		s = string(b.Extra.SentAt)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// expect starts a measurement of n deliveries, forgetting earlier ones.
func (rc *receiver) expect(n int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.want, rc.count, rc.unstamped = n, 0, 0
	rc.latencies = make([]time.Duration, 0, n)
	rc.last = time.Time{}
	rc.done = make(chan struct{})
}

// wait returns once the expected deliveries have arrived, or an error at
// the timeout.
func (rc *receiver) wait(ctx context.Context, timeout time.Duration) error {
	rc.mu.Lock()
	done := rc.done
	rc.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return fmt.Errorf("the receiver got %d of %d webhooks in %s (-timeout)", rc.count, rc.want, timeout)
	}
}

// delivered is what a measurement received.
type delivered struct {
	count     int
	unstamped int
	latencies []time.Duration // sorted
	last      time.Time
}

// result returns what the current measurement has received so far.
func (rc *receiver) result() delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	lat := slices.Clone(rc.latencies)
	slices.Sort(lat)
	return delivered{count: rc.count, unstamped: rc.unstamped, latencies: lat, last: rc.last}
}
