package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Figure keys: the names in -json output.
const (
	figDeliveries = "deliveries"
	figPerSec     = "deliveries_per_s"
	figRatio      = "ratio_to_floor"
	figP50        = "latency_p50_ms"
	figP95        = "latency_p95_ms"
	figP99        = "latency_p99_ms"
	figAnswerP50  = "answer_p50_ms"
	figAnswerP99  = "answer_p99_ms"
	figCPU        = "cpu_us_per_delivery"
	figIdleRSS    = "idle_rss_mib"
	figPeakRSS    = "peak_rss_mib"
	figRedisCmds  = "redis_commands_per_delivery"
	figTrips      = "redis_round_trips_per_delivery"
	figSQL        = "sql_statements_per_delivery"
	figSQLTrips   = "sql_round_trips_per_delivery"
	figBusy       = "machine_cpu_busy_percent"
	figPGCPU      = "postgres_cpu_us_per_delivery"
	figWALRecords = "postgres_wal_records_per_delivery"
	figWALBytes   = "postgres_wal_bytes_per_delivery"
	figRedisCPU   = "redis_cpu_us_per_delivery"
	figBenchCPU   = "bench_cpu_us_per_delivery"
	figBinary     = "binary_mib"
)

// figure is a row of the table.
type figure struct {
	key, label, format string
}

// figures are the table's rows, in order.
var figures = []figure{
	{figDeliveries, "deliveries", "%.0f"},
	{figPerSec, "deliveries/s", "%.0f"},
	{figRatio, "ratio to floor", "%.3f"},
	{figP50, "latency p50 (ms)", "%.1f"},
	{figP95, "latency p95 (ms)", "%.1f"},
	{figP99, "latency p99 (ms)", "%.1f"},
	{figAnswerP50, "answer p50 (ms)", "%.1f"},
	{figAnswerP99, "answer p99 (ms)", "%.1f"},
	{figCPU, "CPU per delivery (µs)", "%.0f"},
	{figIdleRSS, "idle RSS (MiB)", "%.1f"},
	{figPeakRSS, "peak RSS (MiB)", "%.1f"},
	{figRedisCmds, "Redis commands per delivery", "%.2f"},
	{figTrips, "Redis round trips per delivery", "%.2f"},
	{figSQL, "SQL statements per delivery", "%.2f"},
	{figSQLTrips, "SQL round trips per delivery", "%.2f"},
	{figBusy, "machine CPU busy (%)", "%.0f"},
	{figPGCPU, "PostgreSQL CPU per delivery (µs)", "%.0f"},
	{figWALRecords, "PostgreSQL WAL records per delivery", "%.1f"},
	{figWALBytes, "PostgreSQL WAL bytes per delivery", "%.0f"},
	{figRedisCPU, "redis-server CPU per delivery (µs)", "%.0f"},
	{figBenchCPU, "sluice-bench CPU per delivery (µs)", "%.0f"},
	{figBinary, "binary size (MiB)", "%.1f"},
}

// result is one measurement: the floor or a stack at one rate in one run.
// A figure that does not apply (the floor's RSS, the embedded stack's
// Redis commands) is absent.
type result struct {
	Run     int                `json:"run"` // 0 for a median
	Stack   string             `json:"stack"`
	Rate    float64            `json:"rate"` // events/s; 0: full speed
	Figures map[string]float64 `json:"figures"`
	// Warnings say why a figure may be off.
	Warnings []string `json:"warnings,omitempty"`
}

// summary is the part of the settings a report shows.
type summary struct {
	N       int       `json:"n"`
	Clients int       `json:"clients"`
	Rates   []float64 `json:"rates"`
	Batch   int       `json:"batch"`
	Runs    int       `json:"runs"`
	Stacks  []string  `json:"stacks"`
	Known   bool      `json:"known_contacts"`
}

func (s settings) summary() summary {
	return summary{N: s.N, Clients: s.Clients, Rates: s.Rates, Batch: s.Batch, Runs: s.Runs, Stacks: s.Stacks, Known: s.Known}
}

// String describes the load in one line.
func (s summary) String() string {
	paces := make([]string, len(s.Rates))
	for i, r := range s.Rates {
		paces[i] = pace(r)
	}
	contacts := "new"
	if s.Known {
		contacts = "stored"
	}
	return fmt.Sprintf("%d events per measurement (%s contacts), %d clients, %s, %d per request, %d runs, stacks %s",
		s.N, contacts, s.Clients, strings.Join(paces, " then "), s.Batch, s.Runs, strings.Join(s.Stacks, ", "))
}

// report is a whole benchmark: every run, and the medians.
type report struct {
	Settings summary  `json:"settings"`
	Runs     []result `json:"runs"`
	Median   []result `json:"median"`
}

// pace names a rate: full speed, or paced at so many events/s.
func pace(rate float64) string {
	if rate > 0 {
		return fmt.Sprintf("paced at %g events/s", rate)
	}
	return "full speed"
}

// medians returns, for each rate and stack (in the order of the first
// run: each rate's floor, then its stacks), the median of each figure
// over the runs.
func medians(runs []result) []result {
	type key struct {
		rate  float64
		stack string
	}
	var order []key
	values := map[key]map[string][]float64{} // figure → values
	for _, r := range runs {
		k := key{r.Rate, r.Stack}
		if values[k] == nil {
			order = append(order, k)
			values[k] = map[string][]float64{}
		}
		for f, v := range r.Figures {
			values[k][f] = append(values[k][f], v)
		}
	}
	out := make([]result, 0, len(order))
	for _, k := range order {
		m := result{Stack: k.stack, Rate: k.rate, Figures: map[string]float64{}}
		for f, vs := range values[k] {
			m.Figures[f] = median(vs)
		}
		out = append(out, m)
	}
	return out
}

// atRate returns the results measured at rate.
func atRate(results []result, rate float64) []result {
	var out []result
	for _, r := range results {
		if r.Rate == rate {
			out = append(out, r)
		}
	}
	return out
}

// writeTable writes results as an aligned table under title: a row per
// figure that any of them has, a column per stack, "-" where a figure
// does not apply.
func writeTable(w io.Writer, title string, results []result) {
	rows := [][]string{{""}}
	for _, r := range results {
		rows[0] = append(rows[0], r.Stack)
	}
	for _, f := range figures {
		if !slices.ContainsFunc(results, func(r result) bool { _, ok := r.Figures[f.key]; return ok }) {
			continue
		}
		row := []string{f.label}
		for _, r := range results {
			cell := "-"
			if v, ok := r.Figures[f.key]; ok {
				cell = fmt.Sprintf(f.format, v)
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	fmt.Fprintln(w, title)
	for _, row := range rows {
		line := pad(row[0], widths[0], false) // labels left, figures right
		for i, cell := range row[1:] {
			line += "  " + pad(cell, widths[i+1], true)
		}
		fmt.Fprintln(w, line)
	}
	for _, r := range results {
		for _, warning := range r.Warnings {
			fmt.Fprintf(w, "warning: %s: %s\n", r.Stack, warning)
		}
	}
	fmt.Fprintln(w)
}

// pad pads s with spaces to width runes, on the left when right is set.
func pad(s string, width int, right bool) string {
	fill := strings.Repeat(" ", width-utf8.RuneCountInString(s))
	if right {
		return fill + s
	}
	return s + fill
}

// writeJSON writes the report as indented JSON.
func writeJSON(w io.Writer, rep report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
