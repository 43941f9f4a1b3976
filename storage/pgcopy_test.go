package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
)

// awkward is text with what COPY's text format and SQL literals escape.
const awkward = "tab\there, new\nline, cr\r, back\\slash \\N, quote ' \"dq\", ünïcødé ✓, \\x41"

// TestCopyKeepsEveryValue writes the same awkward rows as INSERT … VALUES
// and as COPY, and reads back the same, as written: text, JSON, bytes,
// NULLs and times.
func TestCopyKeepsEveryValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  storage.Config
	}{
		{"values", storage.Config{CopyMinRows: -1}},
		{"copy", storage.Config{CopyMinRows: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openPostgres(t, tc.cfg)
			ctx := context.Background()
			f := newFixture(t, s)
			f.scenario("scn_a")
			c := &engine.Contact{ID: "con_1", Email: "Awkward@example.org", Firstname: awkward, Lastname: "",
				Fields: map[string]any{"note": awkward, "n": 3.5, "nested": map[string]any{"k": `a"b\c`}},
				Dates:  map[string]string{"birthday": "1990-03-10"}, Groups: []string{"vip", awkward},
				CreatedAt: t0, UpdatedAt: t0}
			ev := &engine.Event{ID: "evt_1", Type: "signup", ContactID: "con_1",
				Data: map[string]any{"text": awkward, "none": nil}, OccurredAt: t0}
			d := delivery("dlv_1", "scn_a", "hook", t0)
			d.Headers = map[string]string{"X-Awkward": awkward}
			d.Body = []byte("\x00\x01\\\t\n'\xff" + awkward)
			d.NextAttemptAt = nil
			a := &engine.Attempt{ID: "att_1", DeliveryID: "dlv_1", Number: 1, At: at(1), URL: "https://example.org/hook",
				Method: "POST", RequestHeaders: map[string]string{"A": awkward}, RequestBody: awkward, StatusCode: 500,
				ResponseHeaders: map[string]string{"B": "b"}, ResponseBody: awkward, DurationMS: 12, Error: awkward}
			err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				return errors.Join(tx.InsertNewContacts(ctx, []*engine.Contact{c}), tx.InsertEvents(ctx, []*engine.Event{ev}),
					tx.InsertNewDeliveries(ctx, []*engine.Delivery{d}), tx.InsertAttempts(ctx, []*engine.Attempt{a}))
			})
			if err != nil {
				t.Fatal(err)
			}
			gotC, err := s.GetContact(ctx, "con_1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c, gotC); diff != "" {
				t.Errorf("contact (-wrote +read):\n%s", diff)
			}
			gotE, err := s.GetEvent(ctx, "evt_1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ev, gotE); diff != "" {
				t.Errorf("event (-wrote +read):\n%s", diff)
			}
			gotD, err := s.GetDelivery(ctx, "dlv_1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(d, gotD); diff != "" {
				t.Errorf("delivery (-wrote +read):\n%s", diff)
			}
			gotA, err := s.ListAttempts(ctx, []string{"dlv_1"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]engine.Attempt{*a}, gotA["dlv_1"]); diff != "" {
				t.Errorf("attempt (-wrote +read):\n%s", diff)
			}
		})
	}
}

// TestCopyTravelsWithCommit: rows sent as COPY go with COMMIT, in the
// transaction's one round trip; a query after them sends them first; a
// COPY that fails fails its transaction as a conflict, writes nothing,
// and leaves the connection fit for the next transaction.
func TestCopyTravelsWithCommit(t *testing.T) {
	t.Parallel()
	s := openPostgres(t, storage.Config{MaxOpenConns: 1, CopyMinRows: 1})
	ctx := context.Background()
	f := newFixture(t, s)
	f.contact("ctc_1", "a@example.org")
	events := func(from, n int) []*engine.Event {
		evs := make([]*engine.Event, n)
		for i := range evs {
			evs[i] = event(fmt.Sprintf("evt_%03d", from+i))
		}
		return evs
	}
	rt, _, err := trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			return errors.Join(tx.InsertEvents(ctx, events(0, 40)), tx.InsertEvents(ctx, events(40, 10)))
		})
	})
	if err != nil || rt != 1 {
		t.Fatalf("a transaction of two COPYs: %d round trips, %v; want 1, nil", rt, err)
	}
	rt, _, err = trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			if err := tx.InsertEvents(ctx, events(50, 5)); err != nil {
				return err
			}
			if _, err := tx.GetEvent(ctx, "evt_052"); err != nil {
				return fmt.Errorf("a COPY's row read back in its transaction: %w", err)
			}
			return nil
		})
	})
	if err != nil || rt != 3 {
		t.Errorf("COPY, a read, COMMIT: %d round trips, %v; want 3, nil", rt, err)
	}
	for _, id := range []string{"evt_000", "evt_049", "evt_054"} {
		if _, err := s.GetEvent(ctx, id); err != nil {
			t.Errorf("GetEvent(%s) after commit: %v", id, err)
		}
	}

	err = s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
		return errors.Join(tx.InsertEvents(ctx, events(60, 5)), tx.InsertEvents(ctx, events(0, 2)), tx.InsertEvents(ctx, events(70, 5)))
	})
	if !errors.Is(err, engine.ErrConflict) {
		t.Errorf("a COPY meeting stored ids: %v, want ErrConflict", err)
	}
	for _, id := range []string{"evt_060", "evt_070"} {
		if _, err := s.GetEvent(ctx, id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetEvent(%s) of the failed transaction: %v, want ErrNotFound", id, err)
		}
	}
	err = s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error { return tx.InsertEvents(ctx, events(80, 3)) })
	if err != nil {
		t.Fatalf("the next transaction on the same connection: %v", err)
	}
	if e, err := s.GetEvent(ctx, "evt_081"); err != nil || !e.OccurredAt.Equal(t0) {
		t.Errorf("GetEvent(evt_081) = %+v, %v", e, err)
	}
	// Outside a transaction a COPY goes at once.
	ctxTimeout, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.InsertEvents(ctxTimeout, events(90, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetEvent(ctx, "evt_091"); err != nil {
		t.Errorf("GetEvent(evt_091) after a COPY outside a transaction: %v", err)
	}
}
