package engine

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// recentSteps remembers, for a moment, the steps this process's
// transactions have just created, with the contact and the event they
// run with, so that the worker that runs one right after does not read it
// back. Reading a batch of steps with their contacts and events was 14%
// of PostgreSQL's CPU per delivery in the end-to-end benchmark.
//
// It is only an optimisation of a step's first run, and changes nothing
// of what the step does:
//   - take removes the entry: a retried or repeated run reads the database
//     (and finds a finished step finished);
//   - an entry lives one to two recentSpan at most, so under a backlog a
//     step is read from the database, with its contact as it is by then;
//   - what is remembered is what the transaction committed, copied, so
//     that no later change in memory reaches it.
//
// It is off until EnableRecentSteps: only a process that runs steps keeps
// entries (the api role would only fill it).
type recentSteps struct {
	on        atomic.Bool
	mu        sync.Mutex
	cur, prev map[string]StepLoad
	turned    time.Time // when cur began
}

const (
	// recentSpan is how long a generation of entries is current; an entry
	// is dropped one to two spans after it was put.
	recentSpan = time.Second
	// recentMax caps the entries of one generation (beyond it, steps are
	// read from the database as before): twice the 2,500 steps a second
	// of the latency target, a few MiB of copies.
	recentMax = 5000
)

// EnableRecentSteps makes the engine remember the steps its transactions
// create for the step runs of this process (recentSteps). The app calls it
// in the roles that run workers.
func (e *Engine) EnableRecentSteps() {
	e.recent.on.Store(true)
}

// turn starts a new generation when the current one is a span old, and
// drops both when the last turn was two spans ago. r.mu is held.
func (r *recentSteps) turn(now time.Time) {
	switch age := now.Sub(r.turned); {
	case age >= 2*recentSpan:
		r.cur, r.prev, r.turned = nil, nil, now
	case age >= recentSpan:
		r.prev, r.cur, r.turned = r.cur, nil, now
	}
}

// put remembers committed steps, each with copies of its contact and
// event of its own, as a read from the database gives (a step's commit
// changes its contact in place).
func (r *recentSteps) put(loads []StepLoad) {
	if len(loads) == 0 || !r.on.Load() {
		return
	}
	entries := make([]StepLoad, len(loads))
	for i, l := range loads {
		st := *l.Step
		entries[i] = StepLoad{Step: &st, Contact: cloneContact(l.Contact), Event: cloneEvent(l.Event)}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.turn(time.Now())
	if r.cur == nil {
		r.cur = make(map[string]StepLoad, len(entries))
	}
	for _, l := range entries {
		if len(r.cur) >= recentMax {
			return
		}
		r.cur[l.Step.ID] = l
	}
}

// waiting is how many remembered steps no worker has taken yet.
func (r *recentSteps) waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.turn(time.Now())
	return len(r.cur) + len(r.prev)
}

// take returns and forgets the step with the id, if it is remembered.
func (r *recentSteps) take(id string) (StepLoad, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil && r.prev == nil {
		return StepLoad{}, false
	}
	r.turn(time.Now())
	for _, m := range []map[string]StepLoad{r.cur, r.prev} {
		if l, ok := m[id]; ok {
			delete(m, id)
			return l, true
		}
	}
	return StepLoad{}, false
}

// cloneContact returns a deep copy of c (nil for nil).
func cloneContact(c *Contact) *Contact {
	if c == nil {
		return nil
	}
	out := *c
	out.Fields = cloneJSONMap(c.Fields)
	out.Dates = maps.Clone(c.Dates)
	out.Groups = slices.Clone(c.Groups)
	if c.ConsentGivenAt != nil {
		t := *c.ConsentGivenAt
		out.ConsentGivenAt = &t
	}
	if c.ConsentExpiresAt != nil {
		t := *c.ConsentExpiresAt
		out.ConsentExpiresAt = &t
	}
	return &out
}

// cloneEvent returns a deep copy of ev (nil for nil).
func cloneEvent(ev *Event) *Event {
	if ev == nil {
		return nil
	}
	out := *ev
	out.Data = cloneJSONMap(ev.Data)
	return &out
}

// cloneJSONMap deep-copies a decoded JSON object.
func cloneJSONMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneJSON(v)
	}
	return out
}

// cloneJSON deep-copies a decoded JSON value: objects and arrays are
// copied, other values are immutable.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneJSONMap(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneJSON(x)
		}
		return out
	default:
		return v
	}
}
