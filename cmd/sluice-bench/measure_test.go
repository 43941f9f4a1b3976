package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"median of even is the lower", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p95 of 1..100", ms(hundred...), 95, 95 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"tiny p is the min", ms(1, 2, 3), 0.001, time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: percentile(p%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{"plain", "4242 (sluice) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 130 0 0 20 0 12 0 5000 1000000 9000",
			3800 * time.Millisecond, false},
		{"name with spaces and parens", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 1 1",
			30 * time.Millisecond, false},
		{"truncated", "7 (x) R 1 7", 0, true},
		{"no name", "garbage", 0, true},
		{"not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 2 0", 0, true},
	}
	for _, tt := range tests {
		got, err := parseStat(tt.stat)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: parseStat = %v, %v; want %v (error: %t)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseMachineStat(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	busy, total, err := parseMachineStat("cpu  700 10 200 1000 50 5 25 10 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	if err != nil || busy != 9500*time.Millisecond || total != 20*time.Second {
		t.Errorf("parseMachineStat = %v, %v, %v; want 9.5s busy of 20s", busy, total, err)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 3", "cpu 1 2 3 x 5 6 7 8"} {
		if _, _, err := parseMachineStat(bad); err == nil {
			t.Errorf("parseMachineStat(%q): no error", bad)
		}
	}
}

// TestProcOfThisProcess reads this test process's own /proc files.
func TestProcOfThisProcess(t *testing.T) {
	pid := os.Getpid()
	if _, err := cpuTime(pid); err != nil {
		t.Fatal(err)
	}
	m, err := readMemory(pid)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS == 0 || m.Peak < m.RSS {
		t.Errorf("memory %+v", m)
	}
	s, err := takeCPUSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if s.total <= 0 || s.busy > s.total || s.self < 0 {
		t.Errorf("CPU snapshot %+v", s)
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tsluice\nVmPeak:\t 1300000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t12\n"
	got, err := parseStatus(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	if want := (memory{RSS: 40 << 20, Peak: 50 << 20}); got != want {
		t.Errorf("parseStatus = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"Name:\tx\nVmRSS:\t 1 kB\n", "VmRSS:\t 1 MB\nVmHWM:\t 1 kB\n", "VmRSS:\t x kB\nVmHWM:\t 1 kB\n"} {
		if _, err := parseStatus(strings.NewReader(bad)); err == nil {
			t.Errorf("parseStatus(%q): no error", bad)
		}
	}
}

func TestSumCalls(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=10,usec=100,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hset:calls=32,usec=64,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=1,usec_per_call=0.50,rejected_calls=0,failed_calls=0\r\n"
	got, err := sumCalls(info)
	if err != nil || got != 44 {
		t.Errorf("sumCalls = %d, %v; want 44", got, err)
	}
	if _, err := sumCalls("cmdstat_get:calls=x,usec=1\r\n"); err == nil {
		t.Error("sumCalls of a bad count: no error")
	}
}

func TestPromValue(t *testing.T) {
	text := "# HELP sluice_sql_statements_total SQL statements.\n# TYPE sluice_sql_statements_total counter\n" +
		"sluice_sql_statements_total 1.234567e+06\nsluice_sql_statements_total_other 3\n" +
		`sluice_delivery_attempts_total{kind="step",outcome="accepted"} 7` + "\n"
	got, err := promValue(text, "sluice_sql_statements_total")
	if err != nil || got != 1234567 {
		t.Errorf("promValue = %v, %v; want 1234567", got, err)
	}
	if _, err := promValue(text, "sluice_redis_round_trips_total"); err == nil {
		t.Error("missing metric: no error")
	}
}

func TestActiveElsewhere(t *testing.T) {
	list := "id=1 addr=127.0.0.1:1 fd=8 name= age=9 idle=0 flags=N db=14 cmd=evalsha\n" +
		"id=2 addr=127.0.0.1:2 fd=9 name= age=9 idle=1 flags=N db=3 cmd=evalsha\n" +
		"id=3 addr=127.0.0.1:3 fd=10 name= age=99 idle=60 flags=N db=0 cmd=get\n"
	if got := activeElsewhere(list, 14, 5*time.Second); got != 1 {
		t.Errorf("activeElsewhere = %d, want 1 (only client 2)", got)
	}
}

func TestSentAt(t *testing.T) {
	tests := []struct {
		body string
		want int64
		ok   bool
	}{
		{`{"extra":{"sent_at":"1700000000000000000"}}`, 1700000000000000000, true},
		{`{"extra":{"sent_at":1700000000000000000}}`, 1700000000000000000, true},
		{`{"extra":{"sent_at":""}}`, 0, false},
		{`{"extra":{}}`, 0, false},
		{`not json`, 0, false},
	}
	for _, tt := range tests {
		got, ok := sentAt([]byte(tt.body))
		if got != tt.want || ok != tt.ok {
			t.Errorf("sentAt(%s) = %d, %t; want %d, %t", tt.body, got, ok, tt.want, tt.ok)
		}
	}
}

// TestDrivePaced checks the open-loop schedule: every event sent once,
// stamped with its due time, none before it, and each unit's answer time
// measured from its stamp.
func TestDrivePaced(t *testing.T) {
	l := load{n: 10, clients: 3, batch: 3, rate: 200} // units due every 15 ms
	stamps := make(chan [3]int64, 10)
	const answer = 2 * time.Millisecond
	start, answered, err := l.drive(context.Background(), func(_ context.Context, first, count int, sentAt int64) error {
		stamps <- [3]int64{int64(first), int64(count), sentAt - time.Now().UnixNano()}
		time.Sleep(answer)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	close(stamps)
	seen := map[int64]int64{}
	for s := range stamps {
		if s[2] > 0 {
			t.Errorf("unit %d sent %v before its stamp", s[0], time.Duration(s[2]))
		}
		seen[s[0]] = s[1]
	}
	if diff := cmp.Diff(map[int64]int64{0: 3, 3: 3, 6: 3, 9: 1}, seen); diff != "" {
		t.Errorf("units (-want +got):\n%s", diff)
	}
	if len(answered) != 4 || answered[0] < answer || !slices.IsSorted(answered) {
		t.Errorf("answer times %v: want 4 sorted, each ≥ %v", answered, answer)
	}
	if took := time.Since(start); took < 45*time.Millisecond {
		t.Errorf("10 events at 200/s took %v, want ≥ 45 ms", took)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, "run 1 of 1", []result{
		{Stack: "floor", Figures: map[string]float64{figDeliveries: 200, figPerSec: 5012.4, figP50: 1.25, figP95: 2, figP99: 3, figRedisCmds: 18.5}},
		{Stack: stackEmbedded, Figures: map[string]float64{figDeliveries: 200, figPerSec: 800, figRatio: 0.1596, figP50: 10, figP95: 20,
			figP99: 30, figCPU: 1500, figIdleRSS: 30, figPeakRSS: 40.25, figTrips: 3.2, figSQL: 5.5}, Warnings: []string{"look out"}},
	})
	want := `run 1 of 1
                                floor  embedded
deliveries                        200       200
deliveries/s                     5012       800
ratio to floor                      -     0.160
latency p50 (ms)                  1.2      10.0
latency p95 (ms)                  2.0      20.0
latency p99 (ms)                  3.0      30.0
CPU per delivery (µs)               -      1500
idle RSS (MiB)                      -      30.0
peak RSS (MiB)                      -      40.2
Redis commands per delivery     18.50         -
Redis round trips per delivery      -      3.20
SQL statements per delivery         -      5.50
warning: embedded: look out

`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestMedians(t *testing.T) {
	runs := []result{
		{Run: 1, Stack: "floor", Figures: map[string]float64{figPerSec: 10}},
		{Run: 1, Stack: stackEmbedded, Figures: map[string]float64{figPerSec: 1, figSQL: 5}},
		{Run: 2, Stack: "floor", Figures: map[string]float64{figPerSec: 30}},
		{Run: 2, Stack: stackEmbedded, Figures: map[string]float64{figPerSec: 3, figSQL: 6}},
		{Run: 3, Stack: "floor", Figures: map[string]float64{figPerSec: 20}},
		{Run: 3, Stack: stackEmbedded, Figures: map[string]float64{figPerSec: 2, figSQL: 9}},
	}
	want := []result{
		{Stack: "floor", Figures: map[string]float64{figPerSec: 20}},
		{Stack: stackEmbedded, Figures: map[string]float64{figPerSec: 2, figSQL: 6}},
	}
	if diff := cmp.Diff(want, medians(runs)); diff != "" {
		t.Errorf("medians (-want +got):\n%s", diff)
	}
}

// TestProcTimesSince: a process's CPU counts from the first snapshot on, a
// new one's whole, and one that ended in between takes nothing out of the
// sum (it used to take its whole life's time, making the figure negative).
func TestProcTimesSince(t *testing.T) {
	ms := time.Millisecond
	before := procTimes{10: 100 * ms, 11: 700 * ms, 12: 5 * ms}
	after := procTimes{10: 130 * ms, 12: 5 * ms, 13: 20 * ms} // 11 ended, 13 began
	if got, want := after.since(before), 50*ms; got != want {
		t.Errorf("since = %v, want %v (30 from 10, 0 from 12, 20 from 13)", got, want)
	}
	if got := (procTimes{}).since(before); got != 0 {
		t.Errorf("all ended: since = %v, want 0", got)
	}
}
