package storage_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func TestLists(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		if got, err := s.ListLists(ctx); err != nil || len(got) != 0 {
			t.Fatalf("ListLists on empty = %v, %v; want none", got, err)
		}
		a := &engine.List{ID: "lst_a", Name: "Newsletter", CreatedAt: t0}
		b := &engine.List{ID: "lst_b", Name: "Customers", CreatedAt: at(1)}
		for _, l := range []*engine.List{a, b} {
			if err := s.CreateList(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateList(ctx, a); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("CreateList twice: %v, want ErrConflict", err)
		}
		got, err := s.GetList(ctx, "lst_a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("GetList (-want +got):\n%s", diff)
		}
		if _, err := s.GetList(ctx, "lst_missing"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetList(missing): %v, want ErrNotFound", err)
		}
		all, err := s.ListLists(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]engine.List{*a, *b}, all); diff != "" {
			t.Errorf("ListLists (-want +got):\n%s", diff)
		}
	})
}

func TestSetSubscription(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		f.list("lst_a")
		f.list("lst_b")
		f.contact("con_1", "one@example.org")
		steps := []struct {
			name        string
			list        string
			subscribed  bool
			wantChanged bool
			wantLists   []string
		}{
			{"unsubscribe when never subscribed", "lst_a", false, false, []string{}},
			{"subscribe", "lst_a", true, true, []string{"lst_a"}},
			{"subscribe again", "lst_a", true, false, []string{"lst_a"}},
			{"subscribe to another", "lst_b", true, true, []string{"lst_a", "lst_b"}},
			{"unsubscribe", "lst_a", false, true, []string{"lst_b"}},
			{"unsubscribe again", "lst_a", false, false, []string{"lst_b"}},
			{"resubscribe", "lst_a", true, true, []string{"lst_a", "lst_b"}},
		}
		for i, st := range steps {
			changed, err := s.SetSubscription(f.ctx, st.list, "con_1", st.subscribed, at(i))
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if changed != st.wantChanged {
				t.Errorf("%s: changed = %v, want %v", st.name, changed, st.wantChanged)
			}
			lists, err := s.ContactLists(f.ctx, "con_1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(st.wantLists, lists); diff != "" {
				t.Errorf("%s: ContactLists (-want +got):\n%s", st.name, diff)
			}
		}
		if !checksReferences(s) {
			return
		}
		for _, tc := range []struct{ list, contact string }{{"lst_missing", "con_1"}, {"lst_a", "con_missing"}} {
			if _, err := s.SetSubscription(f.ctx, tc.list, tc.contact, true, t0); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("SetSubscription(%s, %s): %v, want ErrNotFound", tc.list, tc.contact, err)
			}
		}
		if lists, err := s.ContactLists(f.ctx, "con_missing"); err != nil || len(lists) != 0 {
			t.Errorf("ContactLists(missing) = %v, %v; want none", lists, err)
		}
	})
}

func TestContacts(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		full := &engine.Contact{
			ID: "con_1", Email: "John.Doe@Example.org", Firstname: "John", Lastname: "Doe",
			Fields:           map[string]any{"c1": "gold", "score": 42.5, "vip": true, "tags": []any{"a", "b"}},
			Dates:            map[string]string{"birthday": "1990-05-17"},
			Groups:           []string{"beta", "staff"},
			Timezone:         "Europe/Paris",
			ConsentGivenAt:   ptr(at(-48 * 3600)),
			ConsentExpiresAt: ptr(at(365 * 24 * 3600)),
			CreatedAt:        t0, UpdatedAt: at(5),
		}
		bare := &engine.Contact{ID: "con_2", Email: "bare@example.org", CreatedAt: t0, UpdatedAt: t0}
		inserts := []struct {
			name string
			c    *engine.Contact
			want bool
		}{
			{"full", full, true},
			{"bare", bare, true},
			{"same email other case", &engine.Contact{ID: "con_3", Email: "JOHN.DOE@EXAMPLE.ORG", CreatedAt: t0, UpdatedAt: t0}, false},
			{"same id", &engine.Contact{ID: "con_1", Email: "other@example.org", CreatedAt: t0, UpdatedAt: t0}, false},
		}
		for _, tc := range inserts {
			ok, err := s.InsertContact(ctx, tc.c)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if ok != tc.want {
				t.Errorf("InsertContact %s = %v, want %v", tc.name, ok, tc.want)
			}
		}
		for _, tc := range []struct {
			name string
			get  func() (*engine.Contact, error)
			want *engine.Contact
		}{
			{"by id", func() (*engine.Contact, error) { return s.GetContact(ctx, "con_1") }, full},
			{"by email", func() (*engine.Contact, error) { return s.GetContactByEmail(ctx, "john.doe@example.ORG") }, full},
			{"bare", func() (*engine.Contact, error) { return s.GetContact(ctx, "con_2") }, bare},
		} {
			got, err := tc.get()
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("get contact %s (-want +got):\n%s", tc.name, diff)
			}
		}
		if _, err := s.GetContact(ctx, "con_missing"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetContact(missing): %v, want ErrNotFound", err)
		}
		if _, err := s.GetContactByEmail(ctx, "nobody@example.org"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetContactByEmail(missing): %v, want ErrNotFound", err)
		}

		// Update every field, clearing some.
		upd := *bare
		upd.Email = "Bare.New@example.org"
		upd.Firstname = "Bare"
		upd.Fields = map[string]any{"c2": "x"}
		upd.Groups = []string{"g"}
		upd.ConsentGivenAt = ptr(at(7))
		upd.UpdatedAt = at(9)
		if err := s.UpdateContact(ctx, &upd); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetContactByEmail(ctx, "bare.new@EXAMPLE.org")
		if err != nil {
			t.Fatal(err)
		}
		upd.Version++ // every update bumps it
		if diff := cmp.Diff(&upd, got); diff != "" {
			t.Errorf("after UpdateContact (-want +got):\n%s", diff)
		}
		if _, err := s.GetContactByEmail(ctx, "bare@example.org"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("old email still found: %v", err)
		}
		clash := upd
		clash.Email = "JOHN.doe@example.org"
		if err := s.UpdateContact(ctx, &clash); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("UpdateContact to another contact's email: %v, want ErrConflict", err)
		}
		if err := s.UpdateContact(ctx, &engine.Contact{ID: "con_missing", Email: "m@example.org"}); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("UpdateContact(missing): %v, want ErrNotFound", err)
		}
	})
}

func TestEvents(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		ctx := newFixture(t, s).ctx
		evs := []*engine.Event{
			{ID: "evt_1", Type: engine.EventSignup, ContactID: "con_1", ListID: "lst_a", Data: map[string]any{"plan": "pro", "n": 3.0}, OccurredAt: t0},
			{ID: "evt_2", Type: "custom.thing", ContactID: "con_1", OccurredAt: at(1)},
		}
		if err := s.InsertEvents(ctx, nil); err != nil {
			t.Fatalf("InsertEvents(nil): %v", err)
		}
		if err := s.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for _, want := range evs {
			got, err := s.GetEvent(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("GetEvent(%s) (-want +got):\n%s", want.ID, diff)
			}
		}
		if _, err := s.GetEvent(ctx, "evt_missing"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetEvent(missing): %v, want ErrNotFound", err)
		}
		if err := s.InsertEvents(ctx, evs[:1]); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("InsertEvents twice: %v, want ErrConflict", err)
		}
	})
}
