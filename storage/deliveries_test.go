package storage_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func TestDeliveries(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		d := delivery("dlv_1", "scn_a", "hook", t0)
		d.Body = []byte{0, 1, 2, 0xff, '{'} // bodies are bytes
		if ok, err := s.InsertDelivery(ctx, d); err != nil || !ok {
			t.Fatalf("InsertDelivery = %v, %v", ok, err)
		}
		if ok, err := s.InsertDelivery(ctx, d); err != nil || ok {
			t.Errorf("InsertDelivery twice = %v, %v; want false", ok, err)
		}
		got, err := s.GetDelivery(ctx, "dlv_1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d, got); diff != "" {
			t.Errorf("GetDelivery (-want +got):\n%s", diff)
		}
		if _, err := s.GetDelivery(ctx, "dlv_missing"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetDelivery(missing): %v, want ErrNotFound", err)
		}

		// First attempt failed: retry later.
		upd := *d
		upd.Attempts, upd.FirstAttemptAt, upd.NextAttemptAt, upd.LastError = 1, ptr(at(1)), ptr(at(31)), "HTTP 500"
		for _, tc := range []struct {
			name string
			prev int
			want bool
		}{
			{"stale attempts count", 1, false},
			{"current", 0, true},
			{"same update again", 0, false},
		} {
			ok, err := s.UpdateDelivery(ctx, &upd, tc.prev)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if ok != tc.want {
				t.Errorf("UpdateDelivery %s = %v, want %v", tc.name, ok, tc.want)
			}
		}
		// Second attempt accepted: done.
		done := upd
		done.Status, done.Attempts, done.NextAttemptAt, done.LastError, done.DoneAt = engine.DeliveryAccepted, 2, nil, "", ptr(at(40))
		if ok, err := s.UpdateDelivery(ctx, &done, 1); err != nil || !ok {
			t.Fatalf("UpdateDelivery to accepted = %v, %v", ok, err)
		}
		got, err = s.GetDelivery(ctx, "dlv_1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&done, got); diff != "" {
			t.Errorf("after UpdateDelivery (-want +got):\n%s", diff)
		}
		// No longer pending: nothing changes.
		late := done
		late.Status, late.Attempts = engine.DeliveryFailed, 3
		if ok, err := s.UpdateDelivery(ctx, &late, 2); err != nil || ok {
			t.Errorf("UpdateDelivery of an accepted delivery = %v, %v; want false", ok, err)
		}
		if _, err := s.UpdateDelivery(ctx, &engine.Delivery{ID: "dlv_missing"}, 0); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("UpdateDelivery(missing): %v, want ErrNotFound", err)
		}
	})
}

func TestAttempts(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		f.delivery(delivery("dlv_1", "scn_a", "hook", t0))
		f.delivery(delivery("dlv_2", "scn_a", "hook", t0))
		f.delivery(delivery("dlv_3", "scn_a", "hook", t0))
		attempt := func(d string, n int) *engine.Attempt {
			return &engine.Attempt{ID: fmt.Sprintf("att_%s_%d", d, n), DeliveryID: d, Number: n, At: at(n),
				URL: "https://example.org/hook", Method: "POST",
				RequestHeaders: map[string]string{"Content-Type": "application/json", "webhook-id": "msg_1"},
				RequestBody:    `{"id":"msg_1"}`, StatusCode: 500 + n,
				ResponseHeaders: map[string]string{"Server": "x"},
				ResponseBody:    "binary \x00\xff\xfe kept", DurationMS: int64(100 * n), Error: ""}
		}
		// Inserted out of order.
		for _, a := range []*engine.Attempt{attempt("dlv_1", 2), attempt("dlv_2", 1), attempt("dlv_1", 1)} {
			if err := s.InsertAttempt(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.InsertAttempt(ctx, attempt("dlv_1", 1)); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("InsertAttempt twice: %v, want ErrConflict", err)
		}
		if err := s.InsertAttempt(ctx, attempt("dlv_missing", 1)); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("InsertAttempt of a missing delivery: %v, want ErrNotFound", err)
		}
		bare := &engine.Attempt{ID: "att_bare", DeliveryID: "dlv_3", Number: 1, At: t0, URL: "u", Method: "POST", Error: "dial tcp: refused"}
		if err := s.InsertAttempt(ctx, bare); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListAttempts(ctx, []string{"dlv_1", "dlv_2", "dlv_3", "dlv_none"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]engine.Attempt{
			"dlv_1": {*attempt("dlv_1", 1), *attempt("dlv_1", 2)},
			"dlv_2": {*attempt("dlv_2", 1)},
			"dlv_3": {*bare},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListAttempts (-want +got):\n%s", diff)
		}
		if got, err := s.ListAttempts(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("ListAttempts(nil) = %v, %v", got, err)
		}
	})
}

func TestListDeliveries(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		f.scenario("scn_b")
		// 12 deliveries of scn_a/hook: even ones accepted but 10,
		// failed; 4..7 on
		// version 2. Plus noise on another node and scenario.
		all := seq("dlv", 12)
		for i, id := range all {
			d := delivery(id, "scn_a", "hook", at(i))
			if i%2 == 0 {
				d.Status = engine.DeliveryAccepted
			}
			if i == 10 {
				d.Status = engine.DeliveryFailed
			}
			if i >= 4 && i < 8 {
				d.Version = 2
			}
			f.delivery(d)
		}
		f.delivery(delivery("dlv_other_node", "scn_a", "hook2", t0))
		f.delivery(delivery("dlv_other_scn", "scn_b", "hook", t0))

		rev := func(xs []string) []string {
			out := make([]string, len(xs))
			for i, x := range xs {
				out[len(xs)-1-i] = x
			}
			return out
		}
		pick := func(idx ...int) []string {
			out := make([]string, len(idx))
			for i, j := range idx {
				out[i] = all[j]
			}
			return out
		}
		base := engine.DeliveryFilter{ScenarioID: "scn_a", NodeID: "hook"}
		with := func(mod func(*engine.DeliveryFilter)) engine.DeliveryFilter {
			f := base
			mod(&f)
			return f
		}
		for _, tc := range []struct {
			name   string
			filter engine.DeliveryFilter
			want   []string
		}{
			{"node, newest first", base, rev(all)},
			{"status", with(func(f *engine.DeliveryFilter) { f.Status = engine.DeliveryPending }), pick(11, 9, 7, 5, 3, 1)},
			{"version", with(func(f *engine.DeliveryFilter) { f.Version = 2 }), pick(7, 6, 5, 4)},
			{"version and status", with(func(f *engine.DeliveryFilter) { f.Version = 2; f.Status = engine.DeliveryAccepted }), pick(6, 4)},
			{"limit", with(func(f *engine.DeliveryFilter) { f.Limit = 3 }), pick(11, 10, 9)},
			{"cursor", with(func(f *engine.DeliveryFilter) { f.Limit = 3; f.Cursor = all[9] }), pick(8, 7, 6)},
			{"cursor with status", with(func(f *engine.DeliveryFilter) { f.Limit = 2; f.Status = engine.DeliveryAccepted; f.Cursor = all[6] }), pick(4, 2)},
			{"last page", with(func(f *engine.DeliveryFilter) { f.Limit = 5; f.Cursor = all[2] }), pick(1, 0)},
			{"past the end", with(func(f *engine.DeliveryFilter) { f.Cursor = all[0] }), []string{}},
			{"other node", with(func(f *engine.DeliveryFilter) { f.NodeID = "hook2" }), []string{"dlv_other_node"}},
			{"missing scenario", with(func(f *engine.DeliveryFilter) { f.ScenarioID = "scn_missing" }), []string{}},
		} {
			got, err := s.ListDeliveries(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ids(got, func(d engine.Delivery) string { return d.ID })); diff != "" {
				t.Errorf("ListDeliveries %s (-want +got):\n%s", tc.name, diff)
			}
		}

		// Paging through with the default limit, then the cap.
		many := seq("dlv_many", 520)
		for _, id := range many {
			f.delivery(delivery(id, "scn_b", "bulk", t0))
		}
		var seen []string
		cursor := ""
		for {
			page, err := s.ListDeliveries(ctx, engine.DeliveryFilter{ScenarioID: "scn_b", NodeID: "bulk", Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 50 {
				t.Fatalf("default page has %d deliveries, want at most 50", len(page))
			}
			if len(page) == 0 {
				break
			}
			seen = append(seen, ids(page, func(d engine.Delivery) string { return d.ID })...)
			cursor = page[len(page)-1].ID
		}
		if diff := cmp.Diff(rev(many), seen); diff != "" {
			t.Errorf("paged ids (-want +got):\n%s", diff)
		}
		page, err := s.ListDeliveries(ctx, engine.DeliveryFilter{ScenarioID: "scn_b", NodeID: "bulk", Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 500 {
			t.Errorf("Limit 10000 returned %d deliveries, want the cap of 500", len(page))
		}
	})
}

func TestDueDeliveries(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		next := map[string]int{"dlv_c": 30, "dlv_a": -10, "dlv_b": 0, "dlv_e": 3600, "dlv_f": -20}
		for _, id := range []string{"dlv_c", "dlv_a", "dlv_b", "dlv_e", "dlv_f"} {
			d := delivery(id, "scn_a", "hook", t0)
			d.NextAttemptAt = ptr(at(next[id]))
			if id == "dlv_f" {
				d.Status = engine.DeliveryFailed
			}
			f.delivery(d)
		}
		d := delivery("dlv_d", "scn_a", "hook", t0)
		d.NextAttemptAt = ptr(t0.Add(500e6)) // sub-second later than dlv_b
		f.delivery(d)
		for _, tc := range []struct {
			name  string
			now   int
			limit int
			want  []string
		}{
			{"all due", 60, 10, []string{"dlv_a", "dlv_b", "dlv_d", "dlv_c"}},
			{"limit", 60, 3, []string{"dlv_a", "dlv_b", "dlv_d"}},
			{"at the time", 0, 10, []string{"dlv_a", "dlv_b"}},
			{"nothing due", -100, 10, []string{}},
		} {
			got, err := s.DueDeliveries(ctx, at(tc.now), tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ids(got, func(d engine.Delivery) string { return d.ID })); diff != "" {
				t.Errorf("DueDeliveries %s (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}
