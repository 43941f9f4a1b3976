package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// entered returns "email occurrence-key" for every run of scenario id.
func entered(t *testing.T, st *storage.Store, id string) []string {
	t.Helper()
	var rows []struct {
		Email    string `bun:"email"`
		EntryKey string `bun:"entry_key"`
	}
	err := st.DB().NewRaw(`SELECT c.email, r.entry_key FROM runs r JOIN contacts c ON c.id = r.contact_id
WHERE r.scenario_id = ? ORDER BY c.email, r.entry_key`, id).Scan(context.Background(), &rows)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Email+" "+r.EntryKey)
	}
	return out
}

// dateScenario activates "trigger t1 (typ, cfg) → end".
func dateScenario(t *testing.T, e *engine.Engine, typ, cfg string) string {
	t.Helper()
	return dateScenarioTB(t, e, typ, cfg)
}

// dateScenarioTB is dateScenario for tests and benchmarks.
func dateScenarioTB(t testing.TB, e *engine.Engine, typ, cfg string) string {
	t.Helper()
	ctx := context.Background()
	v, err := e.CreateScenario(ctx, engine.ScenarioInput{Name: "Dates", Graph: engine.Graph{
		Nodes: []engine.Node{node("t1", typ, cfg), node("e1", "end", `{}`)},
		Edges: []engine.Edge{{From: "t1", To: "e1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Activate(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

func mustContact(t *testing.T, e *engine.Engine, email, tz string, dates map[string]string, consent *time.Time) {
	t.Helper()
	in := engine.ContactInput{Email: email, Dates: dates, ConsentExpiresAt: consent}
	if tz != "" {
		in.Timezone = &tz
	}
	if _, err := e.CreateContact(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDateReached covers time zones, DST, leap years and year ends: each
// case activates one trigger, creates contacts, and checks which enter in
// a window (and that the window's neighbours start nothing).
func TestDateReached(t *testing.T) {
	type contact struct {
		email, tz, birthday string
	}
	for _, tc := range []struct {
		name     string
		cfg      string
		contacts []contact
		from, to string
		want     []string
	}{
		{
			name: "contact time zone first, else the trigger's",
			cfg:  `{"field":"birthday","time":"09:00","timezone":"America/New_York"}`,
			contacts: []contact{{"tokyo@x.org", "Asia/Tokyo", "1990-03-10"}, {"ny@x.org", "", "1985-03-10"},
				{"other@x.org", "", "1985-03-11"}},
			// 09:00 JST = 00:00Z; 09:00 EDT (US DST began 8 March 2026) = 13:00Z.
			from: "2026-03-09T23:59:00Z", to: "2026-03-10T13:00:00Z",
			want: []string{"ny@x.org date_reached:t1:2026-03-10",
				"tokyo@x.org date_reached:t1:2026-03-10"},
		},
		{
			name:     "trigger time zone, just before 09:00 local",
			cfg:      `{"field":"birthday","time":"09:00","timezone":"America/New_York"}`,
			contacts: []contact{{"ny@x.org", "", "1985-03-10"}},
			from:     "2026-03-10T12:00:00Z", to: "2026-03-10T12:59:59Z",
			want: []string{},
		},
		{
			name:     "29 February falls on 28 February in a common year",
			cfg:      `{"field":"birthday"}`,
			contacts: []contact{{"leap@x.org", "", "2000-02-29"}, {"feb28@x.org", "", "1999-02-28"}, {"mar1@x.org", "", "1999-03-01"}},
			from:     "2027-02-28T08:00:00Z", to: "2027-02-28T10:00:00Z",
			want: []string{"feb28@x.org date_reached:t1:2027-02-28", "leap@x.org date_reached:t1:2027-02-28"},
		},
		{
			name:     "29 February in a leap year",
			cfg:      `{"field":"birthday"}`,
			contacts: []contact{{"leap@x.org", "", "2000-02-29"}, {"feb28@x.org", "", "1999-02-28"}},
			from:     "2028-02-29T08:00:00Z", to: "2028-02-29T10:00:00Z",
			want: []string{"leap@x.org date_reached:t1:2028-02-29"},
		},
		{
			name:     "offset across the year end, in UTC+14",
			cfg:      `{"field":"renewal","offset_days":1,"time":"00:30"}`,
			contacts: []contact{{"kiri@x.org", "Pacific/Kiritimati", "2020-12-31"}, {"utc@x.org", "", "2020-12-31"}},
			// 00:30 on 1 January 2027 at UTC+14 is 10:30Z on 31 December 2026.
			from: "2026-12-31T10:00:00Z", to: "2026-12-31T11:00:00Z",
			want: []string{"kiri@x.org date_reached:t1:2027-01-01"},
		},
		{
			name:     "a week before, back across the year end",
			cfg:      `{"field":"renewal","offset_days":-7,"time":"23:59","timezone":"America/Los_Angeles"}`,
			contacts: []contact{{"la@x.org", "", "2019-01-05"}},
			// 29 December 2026 23:59 PST = 30 December 07:59Z.
			from: "2026-12-30T07:58:00Z", to: "2026-12-30T08:00:00Z",
			want: []string{"la@x.org date_reached:t1:2026-12-29"},
		},
		{
			name:     "02:30 on the spring-forward day fires at 03:30 local (01:30Z)",
			cfg:      `{"field":"birthday","time":"02:30","timezone":"Europe/Paris"}`,
			contacts: []contact{{"paris@x.org", "", "1970-03-29"}},
			from:     "2026-03-29T01:29:00Z", to: "2026-03-29T01:30:00Z",
			want: []string{"paris@x.org date_reached:t1:2026-03-29"},
		},
		{
			name:     "02:30 on the fall-back day fires once, at 02:30 CET (01:30Z)",
			cfg:      `{"field":"birthday","time":"02:30","timezone":"Europe/Paris"}`,
			contacts: []contact{{"paris@x.org", "", "1970-10-25"}},
			from:     "2026-10-24T22:00:00Z", to: "2026-10-25T06:00:00Z",
			want: []string{"paris@x.org date_reached:t1:2026-10-25"},
		},
		{
			name:     "once: on the date itself only",
			cfg:      `{"field":"start","recurrence":"once","time":"10:00"}`,
			contacts: []contact{{"now@x.org", "", "2026-06-15"}, {"last-year@x.org", "", "2025-06-15"}},
			from:     "2026-06-15T00:00:00Z", to: "2026-06-16T00:00:00Z",
			want: []string{"now@x.org date_reached:t1:2026-06-15"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := storagetest.OpenSQLite(t)
			e, _ := newEngine(t, st, &clock{t: utc(tc.from)})
			id := dateScenario(t, e, "date_reached", tc.cfg)
			for _, c := range tc.contacts {
				dates := map[string]string{"birthday": c.birthday, "renewal": c.birthday, "start": c.birthday}
				mustContact(t, e, c.email, c.tz, dates, nil)
			}
			from, to := utc(tc.from), utc(tc.to)
			// The six hours before start nothing (nothing fires early);
			// a second pass over the window starts nothing more.
			for _, w := range [][2]time.Time{{from.Add(-6 * time.Hour), from}, {from, to}, {from, to}} {
				if _, err := e.ScheduleWindow(context.Background(), w[0], w[1]); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tc.want, entered(t, st, id)); diff != "" {
				t.Errorf("entered (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDateSchedulerTicks moves the injected clock in 30-second ticks over
// a fire time and a consent expiry: each contact enters once, on time.
func TestDateSchedulerTicks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		clk := &clock{t: utc("2026-05-01T08:58:00Z")}
		e, _ := newEngine(t, st, clk)
		birthday := dateScenario(t, e, "date_reached", `{"field":"birthday","time":"09:00"}`)
		consent := dateScenario(t, e, "consent_expiring", `{"days_before":30}`)
		exp := utc("2026-05-31T08:59:10Z") // 30 days after 08:59:10
		mustContact(t, e, "ann@x.org", "", map[string]string{"birthday": "1990-05-01"}, &exp)
		mustContact(t, e, "bob@x.org", "", map[string]string{"birthday": "1990-05-02"}, nil)
		s := e.NewDateScheduler(engine.SchedulerConfig{CatchUp: time.Minute})
		var got []string // the ticks that started runs
		for range 8 {
			n, err := s.Tick(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				got = append(got, clk.Now().Format("15:04:05"))
			}
			clk.Add(30 * time.Second)
		}
		if diff := cmp.Diff([]string{"ann@x.org date_reached:t1:2026-05-01"}, entered(t, st, birthday)); diff != "" {
			t.Errorf("birthday (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"ann@x.org consent_expiring:t1:2026-05-31T08:59:10Z"}, entered(t, st, consent)); diff != "" {
			t.Errorf("consent (-want +got):\n%s", diff)
		}
		// The consent run starts on the tick after 08:59:10, the birthday on 09:00:00.
		if diff := cmp.Diff([]string{"08:59:30", "09:00:00"}, got); diff != "" {
			t.Errorf("ticks that started runs (-want +got):\n%s", diff)
		}
		if d := s.Done(); !d.Equal(clk.Now().Add(-30 * time.Second)) {
			t.Errorf("Done = %v, want the last tick's time", d)
		}
	})
}

// TestTwoSchedulersOnePostgres runs two schedulers, each with its own
// engine and connection pool, over the same PostgreSQL database and the
// same window at the same time: every due contact enters exactly once.
func TestTwoSchedulersOnePostgres(t *testing.T) {
	url := storagetest.PostgresURL(t)
	box := storagetest.Box(t)
	clk := &clock{t: utc("2026-07-14T08:00:00Z")}
	var engines []*engine.Engine
	for range 2 {
		st, err := storage.Open(context.Background(), storage.Config{URL: url, Secrets: box})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		e, _ := newEngine(t, st, clk)
		engines = append(engines, e)
	}
	id := dateScenario(t, engines[0], "date_reached", `{"field":"birthday","time":"09:00","timezone":"Europe/Paris"}`)
	const due = 300
	for i := range due + 50 {
		day := "1980-07-14"
		if i >= due {
			day = "1980-07-15" // not due
		}
		tz := []string{"", "Europe/Paris", "Europe/Berlin"}[i%3] // all 09:00 CEST = 07:00Z
		mustContact(t, engines[0], fmt.Sprintf("c%03d@x.org", i), tz, map[string]string{"birthday": day}, nil)
	}
	var wg sync.WaitGroup
	counts := make([]int, len(engines))
	for i, e := range engines {
		s := e.NewDateScheduler(engine.SchedulerConfig{CatchUp: 2 * time.Hour, PageSize: 50})
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.Tick(context.Background())
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	got := entered(t, storeOf(t, url), id)
	if len(got) != due || counts[0]+counts[1] != due {
		t.Fatalf("%d runs (schedulers started %v), want %d", len(got), counts, due)
	}
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Errorf("%s entered twice", g)
		}
		seen[g] = true
	}
	t.Logf("schedulers started %v runs", counts)
}

// storeOf opens one more store on url.
func storeOf(t *testing.T, url string) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), storage.Config{URL: url, Secrets: storagetest.Box(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
