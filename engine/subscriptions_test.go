package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// sink is a loopback receiver that records every request in order and
// answers 500 while fail is set, else 200.
type sink struct {
	*httptest.Server
	fail atomic.Bool
	mu   sync.Mutex
	got  []received
}

// received is one request a sink got.
type received struct {
	header http.Header
	body   []byte
	msg    struct {
		ID            string         `json:"id"`
		Event         string         `json:"event"`
		Timestamp     string         `json:"timestamp"`
		Data          map[string]any `json:"data"`
		ChangedFields []string       `json:"changed_fields"`
	}
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc := received{header: r.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &rc.msg); err != nil {
			t.Errorf("sink: body %s: %v", body, err)
		}
		s.mu.Lock()
		s.got = append(s.got, rc)
		s.mu.Unlock()
		if s.fail.Load() {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(s.Close)
	return s
}

// requests returns a copy of what the sink got so far.
func (s *sink) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// sortedEmails returns the contact emails of the requests, sorted (the
// workers run in parallel: requests of different events may cross).
func (s *sink) sortedEmails() []string {
	return slices.Sorted(slices.Values(s.emails()))
}

// emails returns the contact email of every request, in order.
func (s *sink) emails() []string {
	var out []string
	for _, r := range s.requests() {
		out = append(out, r.msg.Data["email"].(string))
	}
	return out
}

// manual is an engine with an injected clock and no workers: the test
// makes every attempt itself with drive.
func manual(t *testing.T, st *storage.Store) *bundle {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	e, _ := newEngine(t, st, clk)
	return &bundle{e: e, st: st, clock: clk}
}

// drive attempts every delivery due at the clock's time, oldest first,
// until none is due; it returns how many attempts it made.
func (b *bundle) drive(t *testing.T) int {
	t.Helper()
	n := 0
	for round := 0; ; round++ {
		due, err := b.st.DueDeliveries(context.Background(), b.clock.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) == 0 {
			return n
		}
		if round > 100 {
			t.Fatal("deliveries keep being due")
		}
		for _, d := range due {
			if err := b.e.AttemptDelivery(context.Background(), d.ID); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
}

// retryUntilDone moves the clock from one due attempt to the next until
// no delivery is pending; it returns how many attempts it made.
func (b *bundle) retryUntilDone(t *testing.T) int {
	t.Helper()
	n := b.drive(t)
	for i := 0; i < 100; i++ {
		due, err := b.st.DueDeliveries(context.Background(), b.clock.Now().Add(48*time.Hour), 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) == 0 {
			return n
		}
		if next := *due[0].NextAttemptAt; next.After(b.clock.Now()) {
			b.clock.Add(next.Sub(b.clock.Now()))
		}
		n += b.drive(t)
	}
	t.Fatal("deliveries stay pending")
	return n
}

func (b *bundle) subscribe(t *testing.T, in engine.SubscriptionInput) *engine.Subscription {
	t.Helper()
	s, err := b.e.CreateSubscription(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *bundle) subscription(t *testing.T, id string) *engine.Subscription {
	t.Helper()
	s, err := b.e.GetSubscription(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *bundle) newContact(t *testing.T, email string) *engine.Contact {
	t.Helper()
	c, err := b.e.CreateContact(context.Background(), engine.ContactInput{Email: email})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSubscriptionEvents: optin_finalized, optout_finalized,
// profile_updated (with the changed fields) and contact_created reach the
// subscriptions that match them (event, list) through the real workers,
// signed with each subscription's secret, and are counted and logged.
func TestSubscriptionEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := setup(t, st)
		ctx := context.Background()
		l1, err := b.e.CreateList(ctx, "One")
		if err != nil {
			t.Fatal(err)
		}
		l2, err := b.e.CreateList(ctx, "Two")
		if err != nil {
			t.Fatal(err)
		}
		optin, optinL2, optout, profile, created := newSink(t), newSink(t), newSink(t), newSink(t), newSink(t)
		sOptin := b.subscribe(t, engine.SubscriptionInput{App: "crm", Event: "optin_finalized", URL: optin.URL})
		sOptinL2 := b.subscribe(t, engine.SubscriptionInput{App: "crm", Event: "optin_finalized", URL: optinL2.URL, ListID: l2.ID})
		b.subscribe(t, engine.SubscriptionInput{App: "erp", Event: "optout_finalized", URL: optout.URL})
		b.subscribe(t, engine.SubscriptionInput{App: "crm", Event: "profile_updated", URL: profile.URL})
		// Narrowed to a list, profile_updated goes out for its members only.
		profileL1, profileL2 := newSink(t), newSink(t)
		b.subscribe(t, engine.SubscriptionInput{App: "list", Event: "profile_updated", URL: profileL1.URL, ListID: l1.ID})
		b.subscribe(t, engine.SubscriptionInput{App: "list", Event: "profile_updated", URL: profileL2.URL, ListID: l2.ID})
		sCreated := b.subscribe(t, engine.SubscriptionInput{App: "erp", Event: "contact_created", URL: created.URL,
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
		if sCreated.Secret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" || !strings.HasPrefix(sOptin.Secret, "whsec_") || !sOptin.Active {
			t.Fatalf("created: %+v, %+v", sCreated, sOptin)
		}

		// A scenario that subscribes to list two on "go" (applyChanges).
		b.activate(t, engine.Graph{Nodes: []engine.Node{node("t1", "custom_event", `{"name":"go"}`),
			node("s1", "subscribe_to_list", `{"list_id":"`+l2.ID+`"}`)}, Edges: []engine.Edge{{From: "t1", To: "s1"}}}, false)

		b.ingest(t, engine.EventInput{Type: "signup", Email: "a@example.org", ListID: l1.ID,
			Contact: &engine.ContactInput{Firstname: ptr("Ann")}})
		b.ingest(t, engine.EventInput{Type: "signup", Email: "a@example.org", ListID: l1.ID}) // no change: no opt-in
		a, err := b.e.FindContact(ctx, "a@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.e.UpdateContact(ctx, a.ID, engine.ContactInput{Lastname: ptr("Lee"), Fields: map[string]any{"c3": "pro"}}, false); err != nil {
			t.Fatal(err)
		}
		b.ingest(t, engine.EventInput{Type: "unsubscribe", Email: "a@example.org", ListID: l1.ID})
		b.newContact(t, "b@example.org")
		b.ingest(t, engine.EventInput{Type: "go", Email: "b@example.org"})

		waitFor(t, "every request", func() bool {
			return len(optin.requests()) == 2 && len(optinL2.requests()) == 1 && len(optout.requests()) == 1 &&
				len(profile.requests()) == 1 && len(created.requests()) == 2 && len(profileL1.requests()) == 1
		})
		if n := len(profileL2.requests()); n != 0 {
			t.Errorf("profile_updated narrowed to a list the contact is not on: %d requests", n)
		}
		if diff := cmp.Diff([]string{"a@example.org", "b@example.org"}, optin.sortedEmails()); diff != "" {
			t.Errorf("optin_finalized (-want +got):\n%s", diff)
		}
		if r := optinL2.requests()[0]; r.msg.Data["email"] != "b@example.org" || r.msg.Data["list_id"] != l2.ID {
			t.Errorf("optin on list two: %s", r.body)
		}
		if r := optout.requests()[0]; r.msg.Event != "optout_finalized" || r.msg.Data["list_id"] != l1.ID {
			t.Errorf("optout: %s", r.body)
		}
		r := profile.requests()[0]
		slices.Sort(r.msg.ChangedFields)
		if diff := cmp.Diff([]string{"c3", "lastname"}, r.msg.ChangedFields); diff != "" || r.msg.Data["lastname"] != "Lee" {
			t.Errorf("profile_updated %s; changed fields (-want +got):\n%s", r.body, diff)
		}
		if diff := cmp.Diff([]string{"a@example.org", "b@example.org"}, created.sortedEmails()); diff != "" {
			t.Errorf("contact_created (-want +got):\n%s", diff)
		}
		// Signed with the subscription's own secret.
		for _, c := range []struct {
			s    *sink
			sub  *engine.Subscription
			name string
		}{{optin, sOptin, "optin"}, {created, sCreated, "created"}, {optinL2, sOptinL2, "optin list two"}} {
			wh, err := standardwebhooks.NewWebhook(c.sub.Secret)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.s.requests() {
				if err := wh.Verify(r.body, r.header); err != nil {
					t.Errorf("%s: signature: %v", c.name, err)
				}
				if r.header.Get("webhook-id") != r.msg.ID {
					t.Errorf("%s: webhook-id %q, body id %q", c.name, r.header.Get("webhook-id"), r.msg.ID)
				}
			}
		}

		waitFor(t, "counters", func() bool { return b.subscription(t, sOptin.ID).Accepted == 2 })
		got := b.subscription(t, sOptin.ID).SubscriptionCounts
		if got.Deliveries != 2 || got.Attempts != 2 || got.Pending != 0 || got.Failed != 0 || got.LastSuccessAt == nil {
			t.Errorf("optin counters: %+v", got)
		}
		ds, next, err := b.e.SubscriptionDeliveries(ctx, sOptin.ID, "", 1, "")
		if err != nil || len(ds) != 1 || next == "" || len(ds[0].AttemptLog) != 1 || ds[0].AttemptLog[0].StatusCode != 200 {
			t.Fatalf("deliveries page 1: %+v, %q, %v", ds, next, err)
		}
		if ds2, next2, err := b.e.SubscriptionDeliveries(ctx, sOptin.ID, engine.DeliveryAccepted, 1, next); err != nil ||
			len(ds2) != 1 || next2 != "" || ds2[0].ID == ds[0].ID {
			t.Fatalf("deliveries page 2: %+v, %q, %v", ds2, next2, err)
		}

		for _, f := range []struct {
			app, event string
			want       int
		}{{"", "", 7}, {"crm", "", 3}, {"list", "profile_updated", 2}, {"", "optin_finalized", 2}, {"erp", "contact_created", 1}, {"erp", "optin_finalized", 0}} {
			list, err := b.e.Subscriptions(ctx, f.app, f.event)
			if err != nil || len(list) != f.want {
				t.Errorf("Subscriptions(%q, %q): %d, %v; want %d", f.app, f.event, len(list), err, f.want)
			}
		}

		// Deleting a subscription takes its deliveries with it.
		if err := b.e.DeleteSubscription(ctx, sOptin.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.e.SubscriptionDeliveries(ctx, sOptin.ID, "", 0, ""); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("deliveries of a deleted subscription: %v", err)
		}
		b.newContact(t, "c@example.org")
		waitFor(t, "contact_created of c", func() bool { return len(created.requests()) == 3 })
		if len(optin.requests()) != 2 {
			t.Error("a deleted subscription still receives")
		}
	})
}

// TestSubscriptionInput: bad input is refused with the field named.
func TestSubscriptionInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := manual(t, st)
		for _, c := range []struct {
			in    engine.SubscriptionInput
			field string
		}{
			{engine.SubscriptionInput{Event: "signup", URL: "https://example.org"}, "event"},
			{engine.SubscriptionInput{Event: "optin_finalized", URL: "ftp://example.org"}, "url"},
			{engine.SubscriptionInput{Event: "optin_finalized", URL: "https://example.org", ListID: "lst_nope"}, "list_id"},
			{engine.SubscriptionInput{Event: "optin_finalized", URL: "https://example.org", Secret: "abc"}, "secret"},
			{engine.SubscriptionInput{Event: "optin_finalized", URL: "https://example.org", Secret: "whsec_c2hvcnQ="}, "secret"},
			{engine.SubscriptionInput{App: strings.Repeat("a", 101), Event: "optin_finalized", URL: "https://example.org"}, "app"},
		} {
			_, err := b.e.CreateSubscription(context.Background(), c.in)
			var inv *engine.InvalidError
			if !errors.As(err, &inv) || inv.Field != c.field {
				t.Errorf("%+v: %v, want an invalid %s", c.in, err, c.field)
			}
		}
	})
}

// TestSubscriptionDeactivationAndReplay: a URL that keeps failing is not
// deactivated before its failures span 24 hours, then is, with a
// notification; events are buffered meanwhile and replayed in their
// original order, throttled, once it is activated with replay_events.
func TestSubscriptionDeactivationAndReplay(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := manual(t, st)
		ctx := context.Background()
		rcv := newSink(t)
		rcv.fail.Store(true)
		sub := b.subscribe(t, engine.SubscriptionInput{App: "crm", Event: "contact_created", URL: rcv.URL})
		t0 := b.clock.Now()

		// One event retried for its 12-hour window: many failures, but
		// not 24 hours of them.
		b.newContact(t, "first@example.org")
		n := b.retryUntilDone(t)
		s := b.subscription(t, sub.ID)
		if !s.Active || s.ConsecutiveFailures < engine.DeactivateAfterFailures || s.Failed != 1 || s.Attempts != int64(n) ||
			s.FailingSince == nil || !s.FailingSince.Equal(t0) {
			t.Fatalf("after 12 h of failures: %d attempts, %+v", n, s)
		}

		// 24 hours after the first failure, the next failure deactivates it.
		b.clock.Add(t0.Add(engine.DeactivateWindow + time.Minute).Sub(b.clock.Now()))
		b.newContact(t, "second@example.org")
		if b.drive(t) != 1 {
			t.Fatal("the second event was not attempted")
		}
		s = b.subscription(t, sub.ID)
		if s.Active || s.DeactivatedAt == nil || !strings.Contains(s.DeactivationReason, "in a row") {
			t.Fatalf("after 24 h of failures: %+v", s)
		}
		notes, err := b.e.Notifications(ctx, 0)
		if err != nil || len(notes) != 1 || notes[0].Type != engine.NotificationSubscriptionDeactivated ||
			notes[0].SubjectID != sub.ID || !strings.Contains(notes[0].Message, rcv.URL) {
			t.Fatalf("notifications: %+v, %v", notes, err)
		}

		// Events while inactive are buffered, not sent.
		sent := len(rcv.requests())
		for _, e := range []string{"b1@example.org", "b2@example.org", "b3@example.org"} {
			b.newContact(t, e)
			b.clock.Add(time.Minute)
		}
		b.ingest(t, engine.EventInput{Type: "signup", Email: "b4@example.org"})
		b.drive(t) // the second event's retries go on; none of these is sent
		for _, e := range rcv.emails()[sent:] {
			if strings.HasPrefix(e, "b") {
				t.Errorf("sent while inactive: %s", e)
			}
		}
		if s = b.subscription(t, sub.ID); s.Buffered != 4 {
			t.Fatalf("while inactive: %d buffered", s.Buffered)
		}

		// Activated with replay: in order, one per ReplayInterval.
		rcv.fail.Store(false)
		s, err = b.e.ActivateSubscription(ctx, sub.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Active || s.Buffered != 0 || s.Replayed != 4 || s.ConsecutiveFailures != 0 || s.DeactivatedAt != nil {
			t.Fatalf("activated: %+v", s)
		}
		ds, _, err := b.e.SubscriptionDeliveries(ctx, sub.ID, engine.DeliveryPending, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		var due []time.Time
		for _, d := range ds {
			if d.Attempts == 0 {
				due = append(due, *d.NextAttemptAt)
			}
		}
		slices.SortFunc(due, func(a, b time.Time) int { return a.Compare(b) })
		if len(due) != 4 || due[1].Sub(due[0]) != engine.ReplayInterval || due[3].Sub(due[0]) != 3*engine.ReplayInterval {
			t.Fatalf("replay schedule: %v", due)
		}
		b.clock.Add(time.Second)
		b.drive(t)
		var replayed []string
		for _, e := range rcv.emails()[sent:] {
			if strings.HasPrefix(e, "b") {
				replayed = append(replayed, e)
			}
		}
		if diff := cmp.Diff([]string{"b1@example.org", "b2@example.org", "b3@example.org", "b4@example.org"}, replayed); diff != "" {
			t.Errorf("replay order (-want +got):\n%s", diff)
		}
		if s = b.subscription(t, sub.ID); s.Accepted < 4 || s.LastSuccessAt == nil {
			t.Errorf("after the replay: %+v", s.SubscriptionCounts)
		}
		// Active again: new events go straight out.
		b.newContact(t, "live@example.org")
		b.drive(t)
		if got := rcv.emails(); got[len(got)-1] != "live@example.org" {
			t.Errorf("after reactivation: %v", got)
		}
	})
}

// TestSubscriptionBufferPurgeAndDrop: buffered events older than 5 days
// are purged by the periodic purge and never replayed; activating without
// replay drops the rest and counts them.
func TestSubscriptionBufferPurgeAndDrop(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := manual(t, st)
		ctx := context.Background()
		rcv := newSink(t)
		replay := b.subscribe(t, engine.SubscriptionInput{Event: "contact_created", URL: rcv.URL + "/replay"})
		drop := b.subscribe(t, engine.SubscriptionInput{Event: "contact_created", URL: rcv.URL + "/drop"})
		for _, id := range []string{replay.ID, drop.ID} {
			if s, err := b.e.DeactivateSubscription(ctx, id); err != nil || s.Active {
				t.Fatalf("deactivate: %+v, %v", s, err)
			}
		}
		b.newContact(t, "old@example.org")
		b.clock.Add(4 * 24 * time.Hour)
		b.newContact(t, "recent@example.org")
		if n, err := b.e.PurgeSubscriptionBuffers(ctx); err != nil || n != 0 {
			t.Fatalf("purge after 4 days: %d, %v", n, err)
		}
		b.clock.Add(24*time.Hour + time.Minute)
		if n, err := b.e.PurgeSubscriptionBuffers(ctx); err != nil || n != 2 {
			t.Fatalf("purge after 5 days: %d, %v", n, err)
		}
		if s := b.subscription(t, replay.ID); s.Buffered != 1 || s.Purged != 1 {
			t.Fatalf("after the purge: %+v", s.SubscriptionCounts)
		}

		s, err := b.e.ActivateSubscription(ctx, replay.ID, true)
		if err != nil || s.Replayed != 1 || s.Buffered != 0 {
			t.Fatalf("activate with replay: %+v, %v", s, err)
		}
		s, err = b.e.ActivateSubscription(ctx, drop.ID, false)
		if err != nil || s.Dropped != 1 || s.Buffered != 0 || s.Deliveries != 0 || !s.Active {
			t.Fatalf("activate without replay: %+v, %v", s, err)
		}
		b.clock.Add(time.Second)
		b.drive(t)
		got := rcv.requests()
		if len(got) != 1 || got[0].msg.Data["email"] != "recent@example.org" {
			t.Fatalf("requests after activation: %d", len(got))
		}
		// Activating an active subscription changes nothing.
		if s, err = b.e.ActivateSubscription(ctx, drop.ID, true); err != nil || s.Dropped != 1 || s.Replayed != 0 {
			t.Errorf("activate twice: %+v, %v", s, err)
		}
		if _, err := b.e.ActivateSubscription(ctx, "whk_nope", true); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("activate a missing subscription: %v", err)
		}
	})
}
