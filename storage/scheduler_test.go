package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// TestContactDates checks that contact_dates follows the contacts' dates
// as they are inserted and updated, and the scheduler's two queries.
func TestContactDates(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		exp := t0.Add(40 * 24 * time.Hour)
		for i, dates := range []map[string]string{
			{"birthday": "1990-03-10", "renewal": "2026-03-10"},
			{"birthday": "2000-02-29"},
			{"birthday": "1990-03-10"},
			{},
		} {
			c := &engine.Contact{ID: fmt.Sprintf("ctc_%d", i), Email: fmt.Sprintf("c%d@x.org", i), Dates: dates,
				Timezone: "Europe/Paris", CreatedAt: t0, UpdatedAt: t0}
			if i == 3 {
				c.ConsentExpiresAt = &exp
			}
			if ok, err := s.InsertContact(ctx, c); err != nil || !ok {
				t.Fatalf("InsertContact: %v %v", ok, err)
			}
		}
		byDate := func(q engine.DateQuery) []string {
			t.Helper()
			got, err := s.ContactsByDate(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, c := range got {
				out = append(out, c.ContactID+" "+c.Date+" "+c.Timezone)
			}
			return out
		}
		for _, tc := range []struct {
			q    engine.DateQuery
			want []string
		}{
			{engine.DateQuery{Name: "birthday", MonthDays: []string{"03-10"}},
				[]string{"ctc_0 1990-03-10 Europe/Paris", "ctc_2 1990-03-10 Europe/Paris"}},
			{engine.DateQuery{Name: "birthday", MonthDays: []string{"03-10", "02-29"}, Limit: 2},
				[]string{"ctc_0 1990-03-10 Europe/Paris", "ctc_1 2000-02-29 Europe/Paris"}},
			{engine.DateQuery{Name: "birthday", MonthDays: []string{"03-10", "02-29"}, AfterID: "ctc_1"},
				[]string{"ctc_2 1990-03-10 Europe/Paris"}},
			{engine.DateQuery{Name: "renewal", Dates: []string{"2026-03-10"}}, []string{"ctc_0 2026-03-10 Europe/Paris"}},
			{engine.DateQuery{Name: "renewal", Dates: []string{"2027-03-10"}}, []string{}},
			{engine.DateQuery{Name: "birthday"}, []string{}},
		} {
			if diff := cmp.Diff(tc.want, byDate(tc.q)); diff != "" {
				t.Errorf("ContactsByDate(%+v) (-want +got):\n%s", tc.q, diff)
			}
		}
		// An update replaces the contact's dates.
		c, err := s.GetContact(ctx, "ctc_0")
		if err != nil {
			t.Fatal(err)
		}
		c.Dates = map[string]string{"birthday": "1991-02-29", "anniversary": "2010-03-10"} // 1991-02-29 is no date: not scheduled
		if err := s.UpdateContact(ctx, c); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"ctc_2 1990-03-10 Europe/Paris"}, byDate(engine.DateQuery{Name: "birthday", MonthDays: []string{"03-10", "02-29"}, AfterID: "ctc_1"})); diff != "" {
			t.Errorf("after update (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"ctc_0 2010-03-10 Europe/Paris"}, byDate(engine.DateQuery{Name: "anniversary", MonthDays: []string{"03-10"}})); diff != "" {
			t.Errorf("new date (-want +got):\n%s", diff)
		}
		if got := byDate(engine.DateQuery{Name: "renewal", Dates: []string{"2026-03-10"}}); len(got) != 0 {
			t.Errorf("removed date still found: %v", got)
		}
		for _, tc := range []struct {
			after, upTo time.Time
			want        int
		}{{exp.Add(-time.Hour), exp, 1}, {exp, exp.Add(time.Hour), 0}, {exp.Add(-2 * time.Hour), exp.Add(-time.Hour), 0}} {
			got, err := s.ConsentExpiring(ctx, tc.after, tc.upTo, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want || (tc.want == 1 && (got[0].ContactID != "ctc_3" || !got[0].At.Equal(exp))) {
				t.Errorf("ConsentExpiring(%v, %v) = %+v, want %d (ctc_3)", tc.after, tc.upTo, got, tc.want)
			}
		}
	})
}

// TestContactDatesBackfill runs the last statement of migration 004 (which
// fills contact_dates from the contacts written before it) again on
// emptied rows, on both databases, and finds the rows back.
func TestContactDatesBackfill(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		for i, dates := range []map[string]string{{"birthday": "1990-03-10", "renewal": "2026-12-31"}, nil, {}} {
			c := &engine.Contact{ID: fmt.Sprintf("ctc_%d", i), Email: fmt.Sprintf("c%d@x.org", i), Dates: dates, CreatedAt: t0, UpdatedAt: t0}
			if _, err := s.InsertContact(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		dir := "sqlite"
		if s.Postgres() {
			dir = "postgres"
		}
		raw, err := os.ReadFile(filepath.Join("migrations", dir, "004_contact_dates.tx.up.sql"))
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(string(raw), "--bun:split")
		for _, q := range []string{"DELETE FROM contact_dates", parts[len(parts)-1]} {
			if _, err := s.DB().ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var got []string
		if err := s.DB().NewRaw(`SELECT contact_id || ' ' || name || ' ' || month_day || ' ' || date FROM contact_dates
ORDER BY contact_id, name`).Scan(ctx, &got); err != nil {
			t.Fatal(err)
		}
		want := []string{"ctc_0 birthday 03-10 1990-03-10", "ctc_0 renewal 12-31 2026-12-31"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("backfilled rows (-want +got):\n%s", diff)
		}
	})
}

// TestUpdateContactsLater: the contacts' fields are written, and the dates
// of those redated only, in one round trip on PostgreSQL.
func TestUpdateContactsLater(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		var cs []*engine.Contact
		for i := range 3 {
			c := &engine.Contact{ID: fmt.Sprintf("ctc_%d", i), Email: fmt.Sprintf("c%d@x.org", i),
				Dates: map[string]string{"birthday": "1990-03-10"}, CreatedAt: t0, UpdatedAt: t0}
			if ok, err := s.InsertContact(ctx, c); err != nil || !ok {
				t.Fatalf("InsertContact: %v %v", ok, err)
			}
			c.Firstname = fmt.Sprint("Ann ", i)
			c.Dates = map[string]string{"birthday": "2000-02-29"}
			cs = append(cs, c)
		}
		trips := s.RoundTrips()
		err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			return tx.UpdateContactsLater(ctx, cs[:2], cs[1:2]) // ctc_2 unchanged; ctc_0's dates not rewritten
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := s.RoundTrips() - trips; s.Postgres() && n != 1 {
			t.Errorf("%d round trips, want 1", n)
		}
		for i, want := range []string{"Ann 0", "Ann 1", ""} {
			c, err := s.GetContact(ctx, fmt.Sprintf("ctc_%d", i))
			if err != nil || c.Firstname != want {
				t.Errorf("contact %d: %+v, %v; want firstname %q", i, c, err, want)
			}
		}
		got, err := s.ContactsByDate(ctx, engine.DateQuery{Name: "birthday", MonthDays: []string{"03-10", "02-29"}})
		if err != nil {
			t.Fatal(err)
		}
		var dates []string
		for _, c := range got {
			dates = append(dates, c.ContactID+" "+c.Date)
		}
		if diff := cmp.Diff([]string{"ctc_0 1990-03-10", "ctc_1 2000-02-29", "ctc_2 1990-03-10"}, dates); diff != "" {
			t.Errorf("scheduled dates (-want +got):\n%s", diff)
		}
	})
}
