package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat. It is 100 on every Linux this runs on, and reading it
// with sysconf would need cgo.
const clockTicks = 100

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p % of the values
// at or below it. Exact, no interpolation; 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// median returns the median of xs (the mean of the middle two for an even
// count); NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuTime reads the CPU time (user + system) process pid has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(string(b))
}

// parseStat reads utime + stime from the text of /proc/<pid>/stat. The
// command name (field 2) is in parentheses and may hold spaces and ')',
// so fields are counted from the last ')'.
func parseStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no command name in %q", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks uint64
	for _, field := range f[11:13] {
		n, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// memory is what /proc/<pid>/status says about a process's resident set.
type memory struct {
	RSS  uint64 // VmRSS: resident now, bytes
	Peak uint64 // VmHWM: the most ever resident, bytes
}

// readMemory reads process pid's resident set sizes.
func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	return parseStatus(f)
}

// parseStatus reads VmRSS and VmHWM ("VmRSS:	  123456 kB") from the text
// of /proc/<pid>/status.
func parseStatus(r io.Reader) (memory, error) {
	var m memory
	found := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		var dst *uint64
		switch {
		case !ok:
			continue
		case name == "VmRSS":
			dst = &m.RSS
		case name == "VmHWM":
			dst = &m.Peak
		default:
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("/proc status: %s is %q, want a number of kB", name, rest)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc status: %s: %w", name, err)
		}
		*dst = kb * 1024
		found++
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if found != 2 {
		return m, fmt.Errorf("/proc status: VmRSS or VmHWM missing")
	}
	return m, nil
}

// sumCalls adds up the calls= of every command in the text of
// `INFO commandstats` (lines like
// "cmdstat_get:calls=2,usec=15,usec_per_call=7.50,…").
func sumCalls(info string) (uint64, error) {
	var total uint64
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("INFO commandstats: %s: %w", name, err)
				}
				total += n
			}
		}
	}
	return total, nil
}

// promValue returns the value of the unlabelled sample name in a
// Prometheus text exposition.
func promValue(text, name string) (float64, error) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("metric %s not exposed (is the sluice binary older than this benchmark?)", name)
}

// activeElsewhere counts, in the text of CLIENT LIST, the clients on
// another database than db whose last command is at most window old.
func activeElsewhere(clientList string, db int, window time.Duration) int {
	n := 0
	for _, line := range strings.Split(clientList, "\n") {
		fields := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				fields[k] = v
			}
		}
		cdb, err1 := strconv.Atoi(fields["db"])
		idle, err2 := strconv.Atoi(fields["idle"])
		if err1 == nil && err2 == nil && cdb != db && time.Duration(idle)*time.Second <= window {
			n++
		}
	}
	return n
}

// cpuSnapshot is where the machine's CPU time had gone at one moment: in
// all, to the PostgreSQL server's processes, to redis-server, and to this
// process (the load, the receiver and, for the floor, the asynq server).
type cpuSnapshot struct {
	busy, total     time.Duration // every CPU: not idle, and all
	postgres, redis procTimes
	self            time.Duration
}

// procTimes is the CPU time of each process (by pid) of one program.
type procTimes map[int]time.Duration

// since is the CPU time the processes spent since prev: a process there
// then counts what it spent since, a new one all it spent. One that has
// ended is lost to the sum, rather than taking its whole life's time out
// of it (a backend of another client of the server, or of another test,
// that ended inside the window made the figure negative).
func (p procTimes) since(prev procTimes) time.Duration {
	var d time.Duration
	for pid, t := range p {
		d += t - prev[pid]
	}
	return d
}

// takeCPUSnapshot reads /proc. A process that ends between the listing
// and the read is skipped (its time is lost to the sums: short-lived
// PostgreSQL backends are rare while the load runs on pooled connections).
func takeCPUSnapshot() (cpuSnapshot, error) {
	s := cpuSnapshot{postgres: procTimes{}, redis: procTimes{}}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	if s.busy, s.total, err = parseMachineStat(string(b)); err != nil {
		return s, err
	}
	if s.self, err = cpuTime(os.Getpid()); err != nil {
		return s, err
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return s, err
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		stat := string(b)
		open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		var times procTimes
		switch stat[open+1 : end] {
		case "postgres":
			times = s.postgres
		case "redis-server":
			times = s.redis
		default:
			continue
		}
		if t, err := parseStat(stat); err == nil {
			times[pid] = t
		}
	}
	return s, nil
}

// parseMachineStat reads the first line of /proc/stat ("cpu  user nice
// system idle iowait irq softirq steal …", in clock ticks) into the time
// every CPU spent busy and in all; idle and iowait are not busy, guest
// time is already counted in user.
func parseMachineStat(s string) (busy, total time.Duration, err error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: first line %q, want the cpu totals", line)
	}
	var ticks [8]uint64
	for i := range ticks {
		if ticks[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	var all uint64
	for _, t := range ticks {
		all += t
	}
	idle := ticks[3] + ticks[4]
	tick := func(n uint64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return tick(all - idle), tick(all), nil
}
