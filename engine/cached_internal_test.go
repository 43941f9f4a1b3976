package engine

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// An expired value asked for by many goroutines at once is loaded once;
// the others get the value it replaces meanwhile.
func TestCachedLoadsOnceWhenExpired(t *testing.T) {
	var c cached[int]
	if v, err := c.get(time.Hour, func() (int, error) { return 1, nil }); v != 1 || err != nil {
		t.Fatalf("first get = %d, %v", v, err)
	}
	c.mu.Lock()
	c.loaded = time.Now().Add(-2 * time.Hour) // expired
	c.mu.Unlock()

	release := make(chan struct{})
	var loads atomic.Int32
	slow := func() (int, error) {
		loads.Add(1)
		<-release
		return 2, nil
	}
	loaderDone := make(chan int)
	go func() {
		v, _ := c.get(time.Hour, slow)
		loaderDone <- v
	}()
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.loading != nil })

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if v, err := c.get(time.Hour, slow); v != 1 || err != nil {
				t.Errorf("get during the load = %d, %v; want the old value 1", v, err)
			}
		})
	}
	wg.Wait()
	close(release)
	if v := <-loaderDone; v != 2 {
		t.Fatalf("loader got %d, want 2", v)
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads, want 1", n)
	}
	if v, _ := c.get(time.Hour, slow); v != 2 {
		t.Fatalf("after the load: %d, want 2", v)
	}
}

// With no value yet, callers wait for the one load in flight; a failed
// load is not kept and the next caller loads again.
func TestCachedWaitsForFirstLoad(t *testing.T) {
	var c cached[string]
	release := make(chan struct{})
	var loads atomic.Int32
	load := func() (string, error) {
		loads.Add(1)
		<-release
		return "v", nil
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if v, err := c.get(time.Hour, load); v != "v" || err != nil {
				t.Errorf("get = %q, %v", v, err)
			}
		})
	}
	waitFor(t, func() bool { return loads.Load() == 1 })
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads, want 1", n)
	}

	var d cached[string]
	boom := errors.New("boom")
	if _, err := d.get(time.Hour, func() (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("failed load: %v", err)
	}
	if v, err := d.get(time.Hour, func() (string, error) { return "ok", nil }); v != "ok" || err != nil {
		t.Fatalf("after a failed load: %q, %v", v, err)
	}
}

// A load that panics does not leave the cache waiting for ever.
func TestCachedSurvivesPanic(t *testing.T) {
	var c cached[int]
	func() {
		defer func() { _ = recover() }()
		_, _ = c.get(time.Hour, func() (int, error) { panic("load") })
	}()
	got := make(chan int)
	go func() {
		v, _ := c.get(time.Hour, func() (int, error) { return 7, nil })
		got <- v
	}()
	select {
	case v := <-got:
		if v != 7 {
			t.Fatalf("got %d, want 7", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("get hung after a panicking load")
	}
}

// forget during a load: what that load read is not kept, since it may
// predate the local change forget announces.
func TestCachedForgetDuringLoad(t *testing.T) {
	var c cached[int]
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		_, _ = c.get(time.Hour, func() (int, error) { <-release; return 1, nil })
		close(done)
	}()
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.loading != nil })
	c.forget()
	close(release)
	<-done
	if v, _ := c.get(time.Hour, func() (int, error) { return 2, nil }); v != 2 {
		t.Fatalf("got %d after forget, want a fresh load (2)", v)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}
