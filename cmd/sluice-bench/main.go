// Command sluice-bench measures Sluice end to end on one machine: signup
// events posted to `sluice serve` (run as a subprocess, on PostgreSQL +
// Redis and on the embedded defaults) until their webhooks reach a
// loopback receiver, against the floor of a bare asynq worker making the
// same POST. It prints deliveries/s, latency percentiles, CPU time, memory,
// Redis and SQL work per delivery. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// benchRedisDB is the Redis database the benchmark uses (flushed) when -redis
// names none.
const benchRedisDB = "14"

func main() {
	// Ctrl-C cancels ctx: the run stops and cleans up (Sluice gets up to
	// 15 s to stop, the schema is dropped). Later signals are caught too,
	// since tools like timeout(1) send one to the process and another to
	// its group.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := runCLI(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "sluice-bench: %v\n", err)
		os.Exit(1)
	}
}

// errUsage is a bad command line (already reported).
var errUsage = errors.New("usage")

// runCLI runs the benchmark the command line args describe, the tables or
// JSON to stdout, progress to stderr.
func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if !s.JSON {
		fmt.Fprintf(stdout, "sluice-bench: %s\n\n", s.summary())
	}
	rep, err := runBench(ctx, s, stdout, stderr)
	if err != nil {
		return err
	}
	if s.JSON {
		return writeJSON(stdout, rep)
	}
	if s.Runs > 1 { // with one run, its tables say it all
		for _, rate := range s.Rates {
			writeTable(stdout, fmt.Sprintf("median of %d runs, %s", s.Runs, pace(rate)), atRate(rep.Median, rate))
		}
	}
	return nil
}

// parseFlags reads the settings from args.
func parseFlags(args []string, stderr io.Writer) (settings, error) {
	fs := flag.NewFlagSet("sluice-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./cmd/sluice-bench [flags]\n\n"+
			"Measures the floor (bare asynq + POST) and `sluice serve` on each stack; see cmd/sluice-bench/README.md.\n\n")
		fs.PrintDefaults()
	}
	var s settings
	var stacks, rates string
	fs.IntVar(&s.N, "n", 5000, "events (and so webhooks) per measurement")
	fs.IntVar(&s.Clients, "c", 16, "client goroutines sending events (or enqueuing, for the floor)")
	fs.StringVar(&rates, "rate", "0,2500", "comma-separated loads measured in turn in each run: events per second, paced open-loop, or 0 for full speed")
	fs.IntVar(&s.Batch, "batch", 1, "events per request; above 1 they go to POST /api/v1/events/batch (at most 1000)")
	fs.IntVar(&s.Runs, "runs", 3, "runs; each measures, at each rate, the floor then every stack, and the medians are printed at the end")
	fs.StringVar(&stacks, "stacks", stackPostgres+","+stackEmbedded, "comma-separated stacks to run Sluice on: "+stackPostgres+", "+stackEmbedded)
	fs.StringVar(&s.PgURL, "pg", or(os.Getenv("SLUICE_TEST_DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL for the "+stackPostgres+" stack, a fresh schema per run (dropped after); $SLUICE_TEST_DATABASE_URL when set")
	fs.StringVar(&s.RedisURL, "redis", or(os.Getenv("SLUICE_TEST_REDIS_URL"), "redis://127.0.0.1:6379"),
		"Redis for the floor and the "+stackPostgres+" stack, database "+benchRedisDB+" unless the URL names one (it is FLUSHED); $SLUICE_TEST_REDIS_URL when set")
	fs.StringVar(&s.Sluice, "sluice", "", "sluice binary to run (default: go build ./cmd/sluice into a temporary directory)")
	fs.DurationVar(&s.Timeout, "timeout", 5*time.Minute, "longest wait for one measurement's webhooks once its events are sent")
	fs.DurationVar(&s.Idle, "idle", 3*time.Second, "how long Sluice idles after start-up before its idle RSS is read")
	fs.BoolVar(&s.JSON, "json", false, "print the report as JSON instead of tables")
	fs.BoolVar(&s.Known, "known", false, "import the events' contacts first (not measured), so that each signup is a stored contact's")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, usageErr(fs, "unexpected arguments %q", fs.Args())
	}
	var err error
	if s.Stacks, err = parseStacks(stacks); err != nil {
		return s, usageErr(fs, "-stacks: %v", err)
	}
	if s.Rates, err = parseRates(rates); err != nil {
		return s, usageErr(fs, "-rate: %v", err)
	}
	if s.RedisURL, err = benchRedisURL(s.RedisURL); err != nil {
		return s, usageErr(fs, "-redis: %v", err)
	}
	switch {
	case s.N < 1, s.Clients < 1, s.Runs < 1:
		return s, usageErr(fs, "-n, -c and -runs must be at least 1")
	case s.Batch < 1 || s.Batch > 1000:
		return s, usageErr(fs, "-batch must be from 1 to 1000")
	case s.Timeout <= 0 || s.Idle < 0:
		return s, usageErr(fs, "-timeout must be positive and -idle not negative")
	}
	return s, nil
}

func usageErr(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "sluice-bench: "+format+"\n", args...)
	return errUsage
}

// parseStacks reads -stacks.
func parseStacks(list string) ([]string, error) {
	return parseList(list, "stack", func(st string) (string, error) {
		if st != stackPostgres && st != stackEmbedded {
			return "", fmt.Errorf("unknown stack %q (want %s or %s)", st, stackPostgres, stackEmbedded)
		}
		return st, nil
	})
}

// parseRates reads -rate: events per second, each 0 (full speed) or
// positive, none twice.
func parseRates(list string) ([]float64, error) {
	return parseList(list, "rate", func(f string) (float64, error) {
		r, err := strconv.ParseFloat(f, 64)
		switch {
		case err != nil || math.IsNaN(r) || math.IsInf(r, 0):
			return 0, fmt.Errorf("%q is not a number of events per second", f)
		case r < 0:
			return 0, fmt.Errorf("%s: a rate is 0 (full speed) or positive", f)
		}
		return r, nil
	})
}

// parseList reads a comma-separated flag value, each item by parse, in
// order: blanks are skipped, an item twice or none at all is refused.
// what names an item in the error.
func parseList[T comparable](list, what string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("%s is listed twice", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("no " + what)
	}
	return out, nil
}

// benchRedisURL puts the benchmark's database number in a Redis URL that
// names none.
func benchRedisURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = "/" + benchRedisDB
	}
	if _, err := redis.ParseURL(u.String()); err != nil {
		return "", err
	}
	return u.String(), nil
}

// runBench connects to the services, builds Sluice if needed, runs the
// benchmark and cleans up.
func runBench(ctx context.Context, s settings, stdout, progress io.Writer) (report, error) {
	svc, err := connect(ctx, s)
	if err != nil {
		return report{}, err
	}
	defer svc.close()
	tmp, err := os.MkdirTemp("", "sluice-bench-*")
	if err != nil {
		return report{}, err
	}
	defer os.RemoveAll(tmp)
	bin := s.Sluice
	if bin == "" {
		fmt.Fprintln(progress, "building ./cmd/sluice…")
		if bin, err = buildSluice(ctx, tmp); err != nil {
			return report{}, err
		}
	}
	rc, err := startReceiver()
	if err != nil {
		return report{}, err
	}
	defer rc.close()
	b := &bench{s: s, svc: svc, rc: rc, bin: bin, tmp: tmp, progress: progress}
	return b.run(ctx, stdout)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
