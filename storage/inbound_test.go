package storage_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func inboundHook(id, listID string) *engine.InboundWebhook {
	return &engine.InboundWebhook{ID: id, Name: "Lead form " + id, ListID: listID, Action: engine.InboundSubscribe,
		AllowedMethods: []string{"GET", "POST"}, AllowedHeaders: map[string]string{"X-Source": "crm"},
		AllowedIPs: []string{"203.0.113.0/24", "2001:db8::/32"}, CustomFields: []engine.CustomField{{Key: "c3", Name: "First name"}},
		APIKey: "api-key-" + id, SecretKey: strings.Repeat("ab", 32), CreatedAt: t0, UpdatedAt: t0}
}

func TestInboundWebhooks(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.list("lst_1")
		f.list("lst_2")
		a := inboundHook("inb_a", "lst_1")
		b := &engine.InboundWebhook{ID: "inb_b", Name: "Bare", ListID: "lst_2", Action: engine.InboundUnsubscribe,
			AllowedMethods: []string{}, AllowedHeaders: map[string]string{}, AllowedIPs: []string{},
			CustomFields: []engine.CustomField{}, APIKey: "k", SecretKey: strings.Repeat("cd", 32), CreatedAt: at(1), UpdatedAt: at(1)}
		for _, w := range []*engine.InboundWebhook{a, b} {
			if err := s.InsertInbound(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.InsertInbound(ctx, a); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("InsertInbound twice: %v, want ErrConflict", err)
		}
		if err := s.InsertInbound(ctx, inboundHook("inb_c", "lst_missing")); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("InsertInbound with a missing list: %v, want ErrNotFound", err)
		}
		got, err := s.GetInbound(ctx, "inb_a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("GetInbound (-want +got):\n%s", diff)
		}
		all, err := s.ListInbound(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]engine.InboundWebhook{*b, *a}, all); diff != "" {
			t.Errorf("ListInbound (-want +got):\n%s", diff)
		}

		// The keys are sealed at rest.
		var apiKey, secretKey string
		if err := s.DB().NewRaw("SELECT api_key, secret_key FROM inbound_webhooks WHERE id = ?", "inb_a").Scan(ctx, &apiKey, &secretKey); err != nil {
			t.Fatal(err)
		}
		for _, stored := range []string{apiKey, secretKey} {
			if !strings.HasPrefix(stored, "enc:v1:") || strings.Contains(stored, a.APIKey) || strings.Contains(stored, a.SecretKey) {
				t.Errorf("a key is stored in the clear: %q", stored)
			}
		}

		upd := *a
		upd.Name, upd.ListID, upd.Action, upd.AllowedMethods = "Renamed", "lst_2", engine.InboundUnsubscribe, []string{"POST"}
		upd.AllowedHeaders, upd.AllowedIPs, upd.CustomFields = map[string]string{}, []string{"::1"}, []engine.CustomField{{Key: "c1", Name: "c1"}}
		upd.APIKey, upd.SecretKey, upd.UpdatedAt = "new-key", strings.Repeat("ef", 32), at(60)
		upd.CreatedAt = at(99) // not written
		if err := s.UpdateInbound(ctx, &upd); err != nil {
			t.Fatal(err)
		}
		upd.CreatedAt = a.CreatedAt
		if got, err = s.GetInbound(ctx, "inb_a"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&upd, got); diff != "" {
			t.Errorf("after UpdateInbound (-want +got):\n%s", diff)
		}
		missing := inboundHook("inb_missing", "lst_1")
		if err := s.UpdateInbound(ctx, missing); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("UpdateInbound(missing): %v, want ErrNotFound", err)
		}
		if _, err := s.GetInbound(ctx, "inb_missing"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetInbound(missing): %v, want ErrNotFound", err)
		}

		if err := s.DeleteInbound(ctx, "inb_b"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteInbound(ctx, "inb_b"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("DeleteInbound twice: %v, want ErrNotFound", err)
		}
	})
}

func TestInboundActivity(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.list("lst_1")
		for _, id := range []string{"inb_a", "inb_b"} {
			if err := s.InsertInbound(ctx, inboundHook(id, "lst_1")); err != nil {
				t.Fatal(err)
			}
		}
		record := func(id string, when time.Time, accepted bool, n int) {
			t.Helper()
			call := &engine.InboundCall{WebhookID: id, At: when, Accepted: accepted}
			if !accepted {
				call.Refusal = engine.InboundRefusal{ID: fmt.Sprintf("irf_%s_%03d", when.Format("150405"), n),
					Code: "wrong_key", Reason: fmt.Sprintf("refusal %d\x00", n), Method: "POST", RemoteIP: "203.0.113.7"}
			}
			if err := s.RecordInboundCall(ctx, call); err != nil {
				t.Fatal(err)
			}
		}
		h0 := t0.Truncate(time.Hour)
		record("inb_a", t0.Add(-2*time.Hour), true, 0)
		record("inb_a", t0, true, 0)
		record("inb_a", t0.Add(time.Minute), true, 0)
		for i := range engine.InboundRefusalsKept + 5 {
			record("inb_a", t0.Add(time.Duration(i)*time.Second), false, i)
		}
		record("inb_b", t0, false, 0)

		act, err := s.GetInboundActivity(ctx, "inb_a", t0.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if act.Accepted != 3 || act.Refused != int64(engine.InboundRefusalsKept+5) {
			t.Errorf("totals %d accepted, %d refused", act.Accepted, act.Refused)
		}
		wantHours := []engine.InboundHour{{Hour: h0, Accepted: 2, Refused: int64(engine.InboundRefusalsKept + 5)}}
		if diff := cmp.Diff(wantHours, act.Hours); diff != "" {
			t.Errorf("hours (-want +got):\n%s", diff)
		}
		if len(act.Refusals) != engine.InboundRefusalsKept {
			t.Fatalf("%d refusals kept, want %d", len(act.Refusals), engine.InboundRefusalsKept)
		}
		newest := engine.InboundRefusalsKept + 4
		want := engine.InboundRefusal{ID: act.Refusals[0].ID, At: t0.Add(time.Duration(newest) * time.Second),
			Code: "wrong_key", Reason: fmt.Sprintf("refusal %d\uFFFD", newest), Method: "POST", RemoteIP: "203.0.113.7"}
		if diff := cmp.Diff(want, act.Refusals[0]); diff != "" {
			t.Errorf("newest refusal (-want +got):\n%s", diff)
		}
		if last := act.Refusals[len(act.Refusals)-1]; last.Reason != "refusal 5\uFFFD" {
			t.Errorf("oldest kept refusal %q, want refusal 5", last.Reason)
		}

		other, err := s.GetInboundActivity(ctx, "inb_b", t0.Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if other.Accepted != 0 || other.Refused != 1 || len(other.Refusals) != 1 || len(other.Hours) != 1 {
			t.Errorf("inb_b activity %+v", other)
		}

		// Deleting a webhook deletes its activity.
		if err := s.DeleteInbound(ctx, "inb_a"); err != nil {
			t.Fatal(err)
		}
		gone, err := s.GetInboundActivity(ctx, "inb_a", t0.Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if gone.Accepted != 0 || gone.Refused != 0 || len(gone.Hours) != 0 || len(gone.Refusals) != 0 {
			t.Errorf("activity left after delete: %+v", gone)
		}
		if err := s.RecordInboundCall(ctx, &engine.InboundCall{WebhookID: "inb_a", At: t0, Accepted: true}); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("RecordInboundCall for a deleted webhook: %v, want ErrNotFound", err)
		}
	})
}
