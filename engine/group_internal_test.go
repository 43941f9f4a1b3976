package engine

import (
	"slices"
	"testing"
	"time"
)

// TestGroupSteps: steps due already go together as due now; later ones go
// by the second they are due in, each group at its latest due time; no
// group holds more than stepGroup.
func TestGroupSteps(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 500e6, time.UTC)
	var steps []*Step
	add := func(id string, at time.Time) { steps = append(steps, &Step{ID: id, DueAt: at}) }
	add("past", now.Add(-time.Hour))
	add("now", now)
	add("later1", now.Add(10*time.Second+100*time.Millisecond))
	add("soon", now.Add(200*time.Millisecond))
	add("later2", now.Add(10*time.Second+300*time.Millisecond))
	add("other", now.Add(11*time.Second))
	for i := range stepGroup {
		add(string(rune('a'+i%26))+"-bulk", now.Add(-time.Minute))
	}
	got := groupSteps(steps, now)
	type want struct {
		ids int
		at  time.Time
	}
	wants := []want{
		{stepGroup, now.Add(200 * time.Millisecond)},        // past, now, soon and 61 of the bulk
		{2, now.Add(10*time.Second + 300*time.Millisecond)}, // later1, later2
		{1, now.Add(11 * time.Second)},                      // other
		{3, now},                                            // the rest of the bulk
	}
	if len(got) != len(wants) {
		t.Fatalf("%d groups, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		if len(got[i].ids) != w.ids || !got[i].at.Equal(w.at) {
			t.Errorf("group %d: %d steps at %s, want %d at %s", i, len(got[i].ids), got[i].at, w.ids, w.at)
		}
	}
	if !slices.Equal(got[0].ids[:3], []string{"past", "now", "soon"}) || !slices.Equal(got[1].ids, []string{"later1", "later2"}) {
		t.Errorf("groups out of order: %v, %v", got[0].ids[:3], got[1].ids)
	}
}
