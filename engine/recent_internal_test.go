package engine

import (
	"fmt"
	"testing"
	"time"
)

func recentLoad(id string) StepLoad {
	return StepLoad{Step: &Step{ID: id, Status: StepPending},
		Contact: &Contact{ID: "c", Fields: map[string]any{"c3": map[string]any{"a": []any{"x"}}}, Groups: []string{"g"}},
		Event:   &Event{ID: "e", Data: map[string]any{"plan": "pro"}}}
}

// Off, nothing is kept; on, a step is taken once, as a copy that later
// changes to what was put do not reach, nor changes to one taken copy
// reach another.
func TestRecentStepsTakeOnceAndCopies(t *testing.T) {
	var r recentSteps
	r.put([]StepLoad{recentLoad("s0")})
	if _, ok := r.take("s0"); ok {
		t.Fatal("kept a step while off")
	}
	r.on.Store(true)
	a, b := recentLoad("s1"), recentLoad("s2")
	b.Contact = a.Contact // two steps of one contact
	r.put([]StepLoad{a, b})
	a.Contact.Fields["c3"].(map[string]any)["a"].([]any)[0] = "changed"
	a.Contact.Groups[0] = "changed"
	a.Event.Data["plan"] = "changed"
	a.Step.Status = StepDone

	got, ok := r.take("s1")
	if !ok {
		t.Fatal("s1 not remembered")
	}
	if _, again := r.take("s1"); again {
		t.Fatal("s1 taken twice")
	}
	if v := got.Contact.Fields["c3"].(map[string]any)["a"].([]any)[0]; v != "x" || got.Contact.Groups[0] != "g" ||
		got.Event.Data["plan"] != "pro" || got.Step.Status != StepPending {
		t.Fatalf("the copy changed with the original: %+v %+v %+v", got.Step, got.Contact, got.Event)
	}
	got.Contact.Groups = append(got.Contact.Groups, "vip") // as a commit does
	got.Contact.Fields["c4"] = "set"
	other, ok := r.take("s2")
	if !ok {
		t.Fatal("s2 not remembered")
	}
	if len(other.Contact.Groups) != 1 || other.Contact.Fields["c4"] != nil {
		t.Fatalf("a change to one step's contact reached another's: %+v", other.Contact)
	}
}

// An entry lives one to two spans; then the step is read from the
// database.
func TestRecentStepsExpire(t *testing.T) {
	var r recentSteps
	r.on.Store(true)
	r.put([]StepLoad{recentLoad("old")})
	r.mu.Lock()
	r.turned = r.turned.Add(-recentSpan) // a span has passed
	r.mu.Unlock()
	r.put([]StepLoad{recentLoad("new")})
	if _, ok := r.take("old"); !ok {
		t.Fatal("an entry one span old is gone")
	}
	r.put([]StepLoad{recentLoad("old2")})
	r.mu.Lock()
	r.turned = r.turned.Add(-2 * recentSpan)
	r.mu.Unlock()
	for _, id := range []string{"new", "old2"} {
		if _, ok := r.take(id); ok {
			t.Fatalf("%s kept two spans after its generation began", id)
		}
	}
}

// A generation holds at most recentMax entries.
func TestRecentStepsCap(t *testing.T) {
	var r recentSteps
	r.on.Store(true)
	loads := make([]StepLoad, recentMax+10)
	for i := range loads {
		loads[i] = StepLoad{Step: &Step{ID: fmt.Sprint(i)}}
	}
	r.put(loads)
	if n := len(r.cur); n != recentMax {
		t.Fatalf("%d entries, want %d", n, recentMax)
	}
}

// admit waits while admitAhead remembered steps are not started and half
// the step slots are busy, and goes on as soon as one of them is started,
// or once IngestHold has passed; with recent steps off, IngestHold
// negative, or the slots mostly free, it never waits.
func TestAdmitWaitsForTheWorkers(t *testing.T) {
	e := Engine{slots: make(chan struct{}, 4)}
	e.cfg.Metrics, e.cfg.IngestHold = NopMetrics{}, time.Hour
	loads := make([]StepLoad, admitAhead)
	for i := range loads {
		loads[i] = recentLoad(fmt.Sprintf("s%d", i))
	}
	e.recent.on.Store(true)
	e.recent.put(loads)
	// Each of these returns at once, or the test times out.
	e.slots <- struct{}{}
	e.admit() // one slot of 4 busy: the workers have room
	e.slots <- struct{}{}
	e.recent.on.Store(false)
	e.admit() // off
	e.recent.on.Store(true)
	e.cfg.IngestHold = -1
	e.admit() // never waits
	e.cfg.IngestHold = time.Hour

	done := make(chan struct{})
	go func() { e.admit(); close(done) }()
	select {
	case <-done:
		t.Fatalf("admitted with %d steps not started and half the slots busy", admitAhead)
	case <-time.After(100 * time.Millisecond):
	}
	if _, ok := e.recent.take("s0"); !ok {
		t.Fatal("s0 not remembered")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting with one step fewer than admitAhead not started")
	}

	e.recent.put([]StepLoad{recentLoad("s0")})
	e.cfg.IngestHold = 20 * time.Millisecond
	e.admit() // bounded: returns after IngestHold, or the test times out
}
