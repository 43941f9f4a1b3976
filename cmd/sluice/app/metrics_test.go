package app_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape GETs a Prometheus endpoint and returns its samples by series
// (`name{labels}` as exposed).
func scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %d %s", url, resp.StatusCode, b)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape %s: bad sample %q", url, line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsAfterDelivery scrapes /metrics (on the API and on
// SLUICE_METRICS_ADDR) before and after a webhook delivery and checks that
// the counters moved and the gauges are there.
func TestMetricsAfterDelivery(t *testing.T) {
	eachStack(t, func(t *testing.T, st stack) {
		rc := newReceiver(t, nil)
		cfg := config(t, st)
		cfg.MetricsAddr = "127.0.0.1:0"
		s := startServe(t, cfg)
		waitFor(t, 5*time.Second, "the metrics server", func() bool { return s.app.MetricsAddr() != "" })
		const accepted = `sluice_delivery_attempts_total{kind="step",outcome="accepted"}`
		before := scrape(t, s.base+"/metrics")
		if v, ok := before[accepted]; !ok || v != 0 {
			t.Fatalf("%s = %v (present %v) before any delivery, want 0", accepted, v, ok)
		}
		// Before anything was queued, asynq has no queue yet: its gauges are zeros.
		if v, ok := before[`sluice_queue_tasks{state="pending"}`]; !ok || v != 0 {
			t.Errorf("pending tasks = %v (present %v) before any event, want 0", v, ok)
		}
		listID := s.list("Newsletter")
		sc := s.webhookScenario(listID, rc.URL+"/hook")
		s.must(202, "POST", "/api/v1/events", signup(listID, "ann@example.org", "Ann", "pro", 1), nil)
		waitFor(t, 10*time.Second, "accepted = 1", func() bool { return s.stats(sc.ID)["w1"].Accepted == 1 })

		for _, url := range []string{s.base + "/metrics", "http://" + s.app.MetricsAddr() + "/metrics"} {
			m := scrape(t, url)
			for series, want := range map[string]float64{
				accepted: 1,
				`sluice_delivery_attempts_total{kind="step",outcome="retry"}`: 0,
				`sluice_delivery_attempt_duration_seconds_count{kind="step"}`: 1,
				`sluice_runs_started_total{source="event"}`:                   1,
				`sluice_runs_in_flight`:                                       0,
				`sluice_ingest_held_seconds_total`:                            0,
			} {
				if got, ok := m[series]; !ok || got != want {
					t.Errorf("%s: %s = %v (present %v), want %v", url, series, got, ok, want)
				}
			}
			for _, series := range []string{`sluice_queue_tasks{state="pending"}`, `sluice_queue_latency_seconds`,
				`sluice_scheduler_lag_seconds`, `go_goroutines`} {
				if _, ok := m[series]; !ok {
					t.Errorf("%s: no %s", url, series)
				}
			}
		}
		resp, err := http.Get("http://" + s.app.MetricsAddr() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("metrics server /healthz: %d", resp.StatusCode)
		}
	})
}

// TestDateTriggerEndToEnd activates a date_reached scenario through the
// API for today's birthdays at the current minute, then starts a second
// serve on the same database: its date scheduler's first pass looks back
// an hour and starts the run (the first serve's scheduler passed before
// the scenario existed and waits an hour), the webhook arrives once, and
// /metrics counts a scheduled run.
func TestDateTriggerEndToEnd(t *testing.T) {
	eachStack(t, func(t *testing.T, st stack) {
		rc := newReceiver(t, nil)
		cfg := config(t, st)
		cfg.ScheduleInterval = time.Hour
		now := time.Now().UTC()
		s := startServe(t, cfg)
		var sc scenarioView
		s.must(201, "POST", "/api/v1/scenarios", map[string]any{
			"name": "Birthday",
			"graph": map[string]any{
				"nodes": []map[string]any{
					{"id": "t1", "type": "date_reached", "config": map[string]any{"field": "birthday", "time": now.Format("15:04")}},
					{"id": "w1", "type": "send_webhook", "config": map[string]any{"url": rc.URL + "/hook", "fields": []string{"email"}}},
				},
				"edges": []map[string]any{{"from": "t1", "to": "w1"}},
			},
		}, &sc)
		s.must(201, "POST", "/api/v1/contacts", map[string]any{"email": "bday@example.org",
			"dates": map[string]string{"birthday": now.AddDate(-30, 0, 0).Format(time.DateOnly)}}, nil)
		s.must(201, "POST", "/api/v1/contacts", map[string]any{"email": "other@example.org",
			"dates": map[string]string{"birthday": now.AddDate(-30, 0, 3).Format(time.DateOnly)}}, nil)
		s.must(200, "POST", "/api/v1/scenarios/"+sc.ID+"/activate", nil, nil)
		cfg.ScheduleInterval = 100 * time.Millisecond
		s = startServe(t, cfg)
		waitFor(t, 10*time.Second, "the birthday webhook", func() bool { return len(rc.requests()) >= 1 })
		time.Sleep(300 * time.Millisecond) // a few more scheduler passes
		if got := rc.requests(); len(got) != 1 || got[0].Decoded["data"].(map[string]any)["email"] != "bday@example.org" {
			t.Fatalf("webhooks: %+v", got)
		}
		if v := scrape(t, s.base+"/metrics")[`sluice_runs_started_total{source="schedule"}`]; v != 1 {
			t.Errorf("scheduled runs counted: %v, want 1", v)
		}
	})
}
