package storage_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func (f *fixture) subscription(id, app, event string) *engine.Subscription {
	f.t.Helper()
	s := &engine.Subscription{ID: id, App: app, Event: event, URL: "https://example.org/" + id, Secret: testSecret,
		Active: true, CreatedAt: t0, UpdatedAt: t0}
	if err := f.s.InsertSubscription(f.ctx, s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

// TestSubscriptionRows: insert, get and filter subscriptions; the secret
// is sealed at rest; delete takes deliveries and buffered events along.
func TestSubscriptionRows(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		a := f.subscription("whk_a", "crm", "optin_finalized")
		f.subscription("whk_b", "crm", "contact_created")
		f.subscription("whk_c", "erp", "optin_finalized")
		if err := s.InsertSubscription(ctx, a); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("insert twice: %v", err)
		}
		got, err := s.GetSubscription(ctx, "whk_a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("get (-want +got):\n%s", diff)
		}
		var raw string
		if err := s.DB().NewRaw("SELECT secret FROM event_subscriptions WHERE id = 'whk_a'").Scan(ctx, &raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "MfKQ9r8") {
			t.Errorf("secret stored in clear: %s", raw)
		}
		for _, c := range []struct {
			app, event string
			want       []string
		}{{"", "", []string{"whk_a", "whk_b", "whk_c"}}, {"crm", "", []string{"whk_a", "whk_b"}},
			{"", "optin_finalized", []string{"whk_a", "whk_c"}}, {"erp", "contact_created", []string{}}} {
			list, err := s.ListSubscriptions(ctx, c.app, c.event)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, ids(list, func(s engine.Subscription) string { return s.ID })); diff != "" {
				t.Errorf("list %q %q (-want +got):\n%s", c.app, c.event, diff)
			}
		}

		d := delivery("dlv_1", "", "", t0)
		d.Kind, d.ScenarioID, d.Version, d.SubscriptionID = engine.KindSubscription, "", 0, "whk_a"
		f.delivery(d)
		other := delivery("dlv_2", "", "", t0)
		other.Kind, other.ScenarioID, other.Version, other.SubscriptionID = engine.KindSubscription, "", 0, "whk_b"
		f.delivery(other)
		ds, err := s.ListSubscriptionDeliveries(ctx, "whk_a", "", 0, "")
		if err != nil || len(ds) != 1 || ds[0].ID != "dlv_1" {
			t.Fatalf("deliveries of whk_a: %v, %v", ds, err)
		}
		if ds, err := s.ListSubscriptionDeliveries(ctx, "whk_a", engine.DeliveryAccepted, 0, ""); err != nil || len(ds) != 0 {
			t.Errorf("accepted deliveries of whk_a: %v, %v", ds, err)
		}
		if err := s.DeleteSubscription(ctx, "whk_a"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetDelivery(ctx, "dlv_1"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("delivery of a deleted subscription: %v", err)
		}
		if _, err := s.GetDelivery(ctx, "dlv_2"); err != nil {
			t.Errorf("delivery of another subscription: %v", err)
		}
		if err := s.DeleteSubscription(ctx, "whk_a"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("delete twice: %v", err)
		}
	})
}

// TestSubscriptionCounters: attempts move the counters and the failure
// streak; activation clears the streak.
func TestSubscriptionCounters(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.subscription("whk_a", "", "profile_updated")
		if err := s.AddSubscriptionDeliveries(ctx, "whk_a", 2); err != nil {
			t.Fatal(err)
		}
		steps := []engine.SubscriptionAttempt{
			{At: at(1), Status: engine.DeliveryPending, Error: "HTTP 500"},
			{At: at(2), Status: engine.DeliveryFailed, Error: "HTTP 410"},
			{At: at(3), Status: engine.DeliveryPending, Error: "HTTP 503"},
		}
		var got *engine.Subscription
		for _, a := range steps {
			var err error
			if got, err = s.RecordSubscriptionAttempt(ctx, "whk_a", a); err != nil {
				t.Fatal(err)
			}
		}
		want := engine.SubscriptionCounts{Deliveries: 2, Pending: 1, Failed: 1, Attempts: 3, FailedAttempts: 3,
			ConsecutiveFailures: 3, FailingSince: ptr(at(1)), LastAttemptAt: ptr(at(3)), LastError: "HTTP 503"}
		if diff := cmp.Diff(want, got.SubscriptionCounts); diff != "" {
			t.Errorf("after three failures (-want +got):\n%s", diff)
		}
		if got, err := s.RecordSubscriptionAttempt(ctx, "whk_a", engine.SubscriptionAttempt{At: at(4), Accepted: true,
			Status: engine.DeliveryAccepted}); err != nil || got.ConsecutiveFailures != 0 || got.FailingSince != nil ||
			got.Accepted != 1 || got.Pending != 0 || !got.LastSuccessAt.Equal(at(4)) {
			t.Errorf("after a success: %+v, %v", got, err)
		}
		if _, err := s.RecordSubscriptionAttempt(ctx, "whk_nope", engine.SubscriptionAttempt{At: at(5)}); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("attempt of a missing subscription: %v", err)
		}

		if _, err := s.RecordSubscriptionAttempt(ctx, "whk_a", engine.SubscriptionAttempt{At: at(6), Status: engine.DeliveryPending}); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.DeactivateSubscription(ctx, "whk_a", at(7), "failing"); !ok || err != nil {
			t.Fatalf("deactivate: %v %v", ok, err)
		}
		if ok, err := s.DeactivateSubscription(ctx, "whk_a", at(8), "again"); ok || err != nil {
			t.Errorf("deactivate twice: %v %v", ok, err)
		}
		got, _ = s.GetSubscription(ctx, "whk_a")
		if got.Active || !got.DeactivatedAt.Equal(at(7)) || got.DeactivationReason != "failing" {
			t.Errorf("deactivated: %+v", got)
		}
		if ok, err := s.ActivateSubscription(ctx, "whk_a", at(9)); !ok || err != nil {
			t.Fatalf("activate: %v %v", ok, err)
		}
		got, _ = s.GetSubscription(ctx, "whk_a")
		if !got.Active || got.DeactivatedAt != nil || got.ConsecutiveFailures != 0 || got.FailingSince != nil {
			t.Errorf("activated: %+v", got)
		}
		if _, err := s.ActivateSubscription(ctx, "whk_nope", at(9)); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("activate a missing subscription: %v", err)
		}
	})
}

// TestSubscriptionBuffer: events are buffered only for an inactive
// subscription, read back in arrival order, cleared and purged with
// their counters.
func TestSubscriptionBuffer(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.subscription("whk_a", "", "contact_created")
		f.subscription("whk_b", "", "contact_created")
		ev := func(sub, msg string, when time.Time) *engine.BufferedEvent {
			return &engine.BufferedEvent{SubscriptionID: sub, MessageID: msg, ContactID: "ctc_1",
				Body: []byte(`{"id":"` + msg + `"}`), OccurredAt: when}
		}
		if ok, err := s.BufferSubscriptionEvent(ctx, ev("whk_a", "evt_0", at(0))); ok || err != nil {
			t.Fatalf("buffer for an active subscription: %v %v", ok, err)
		}
		for _, id := range []string{"whk_a", "whk_b"} {
			if _, err := s.DeactivateSubscription(ctx, id, at(0), "test"); err != nil {
				t.Fatal(err)
			}
		}
		// Out of time order on purpose: arrival order wins.
		for i, when := range []time.Time{at(30), at(10), at(20)} {
			if ok, err := s.BufferSubscriptionEvent(ctx, ev("whk_a", seq("evt", 3)[i], when)); !ok || err != nil {
				t.Fatalf("buffer %d: %v %v", i, ok, err)
			}
		}
		if ok, err := s.BufferSubscriptionEvent(ctx, ev("whk_b", "evt_b", at(10))); !ok || err != nil {
			t.Fatal(ok, err)
		}
		evs, err := s.BufferedEvents(ctx, "whk_a", 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"evt_000", "evt_001"}, ids(evs, func(e engine.BufferedEvent) string { return e.MessageID })); diff != "" {
			t.Fatalf("first page (-want +got):\n%s", diff)
		}
		if string(evs[0].Body) != `{"id":"evt_000"}` || !evs[0].OccurredAt.Equal(at(30)) {
			t.Errorf("buffered event: %+v", evs[0])
		}
		rest, err := s.BufferedEvents(ctx, "whk_a", evs[1].Seq, 10)
		if err != nil || len(rest) != 1 || rest[0].MessageID != "evt_002" {
			t.Fatalf("second page: %v %v", rest, err)
		}

		// Purge what occurred before at(15): evt_001 of whk_a, evt_b of whk_b.
		if n, err := s.PurgeBufferedEvents(ctx, at(15)); n != 2 || err != nil {
			t.Fatalf("purge: %d %v", n, err)
		}
		a, _ := s.GetSubscription(ctx, "whk_a")
		b, _ := s.GetSubscription(ctx, "whk_b")
		if a.Buffered != 2 || a.Purged != 1 || b.Buffered != 0 || b.Purged != 1 {
			t.Errorf("after the purge: a %+v, b %+v", a.SubscriptionCounts, b.SubscriptionCounts)
		}
		if n, err := s.ClearBufferedEvents(ctx, "whk_a", evs[0].Seq, engine.BufferReplayed); n != 1 || err != nil {
			t.Fatalf("clear the first: %d %v", n, err)
		}
		if n, err := s.ClearBufferedEvents(ctx, "whk_a", 1<<62, engine.BufferDropped); n != 1 || err != nil {
			t.Fatalf("clear the rest: %d %v", n, err)
		}
		a, _ = s.GetSubscription(ctx, "whk_a")
		if a.Buffered != 0 || a.Replayed != 1 || a.Dropped != 1 || a.Purged != 1 {
			t.Errorf("after clearing: %+v", a.SubscriptionCounts)
		}
		if _, err := s.ClearBufferedEvents(ctx, "whk_a", 1, "lost"); err == nil {
			t.Error("clear with an unknown outcome: no error")
		}
	})
}

// TestNotifications: notifications are listed newest first.
func TestNotifications(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		for i, id := range []string{"ntf_1", "ntf_2", "ntf_3"} {
			n := &engine.Notification{ID: id, Type: "subscription_deactivated", SubjectID: "whk_a", Message: "m " + id,
				Data: map[string]any{"n": float64(i)}, CreatedAt: at(i)}
			if err := s.InsertNotification(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.ListNotifications(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := []engine.Notification{
			{ID: "ntf_3", Type: "subscription_deactivated", SubjectID: "whk_a", Message: "m ntf_3", Data: map[string]any{"n": float64(2)}, CreatedAt: at(2)},
			{ID: "ntf_2", Type: "subscription_deactivated", SubjectID: "whk_a", Message: "m ntf_2", Data: map[string]any{"n": float64(1)}, CreatedAt: at(1)},
		}
		if diff := cmp.Diff(want, list); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
	})
}
