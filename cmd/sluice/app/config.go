// Package app wires Sluice together: configuration from the environment,
// storage, Redis (real or in-process), the engine, the HTTP API, asynq
// workers and the sweeper, run in the roles of the sluice binary.
package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/secrets"
)

// Config is Sluice's configuration, read from SLUICE_* variables.
type Config struct {
	// Addr is the HTTP listen address (SLUICE_ADDR). Defaults to 127.0.0.1:8080.
	Addr string
	// DataDir keeps the embedded defaults' files (SLUICE_DATA_DIR). Defaults to ./data.
	DataDir string
	// DatabaseURL is postgres://… or sqlite://path (SLUICE_DATABASE_URL).
	// Defaults to SQLite in DataDir.
	DatabaseURL string
	// RedisURL is asynq's Redis (SLUICE_REDIS_URL). Empty: an in-process
	// Redis-compatible server (serve only).
	RedisURL string
	// APIKey is the API's bearer key (SLUICE_API_KEY). Empty: generated on
	// first start, stored in DataDir and printed.
	APIKey string
	// SecretKey encrypts stored secrets (SLUICE_SECRET_KEY, 64 hex chars).
	// Empty: generated on first start and stored in DataDir.
	SecretKey []byte
	// AllowPrivateTargets lets webhooks reach loopback and private
	// addresses (SLUICE_ALLOW_PRIVATE_TARGETS). Defaults to false.
	AllowPrivateTargets bool
	// Concurrency is how many tasks a worker runs at once, and how many
	// steps (a task may hold a group of them) it runs at once
	// (SLUICE_WORKER_CONCURRENCY). Zero (unset) leaves it to the store
	// (workerDefaults): a step mostly waits (for the HTTP answer, for
	// its batch's commit), and more steps in flight make bigger batches.
	Concurrency int
	// SweepInterval is how often the sweeper looks for due work whose task
	// went missing (SLUICE_SWEEP_INTERVAL). Defaults to 2s.
	SweepInterval time.Duration
	// SweepGrace is how overdue work must be before the sweeper
	// re-enqueues it (SLUICE_SWEEP_GRACE). Defaults to 10s.
	SweepGrace time.Duration
	// ScheduleInterval is how often the date-trigger scheduler looks for
	// due date_reached and consent_expiring occurrences
	// (SLUICE_SCHEDULE_INTERVAL). Defaults to 15s.
	ScheduleInterval time.Duration
	// ScheduleCatchUp is how far back the date-trigger scheduler looks when
	// it starts, to start occurrences due while none ran
	// (SLUICE_SCHEDULE_CATCH_UP). Defaults to 1h.
	ScheduleCatchUp time.Duration
	// BodyLimit caps request bodies in bytes (SLUICE_BODY_LIMIT). Defaults to 1 MiB.
	BodyLimit int
	// ImportLimit caps the streamed body of a contacts import in bytes
	// (SLUICE_IMPORT_LIMIT). Defaults to 256 MiB.
	ImportLimit int
	// IngestLinger is how long a lone event may wait for others to share
	// its transaction (SLUICE_INGEST_LINGER). Defaults to 5ms; 0: none.
	IngestLinger time.Duration
	// IngestFill is how many waiting events end the ingest linger
	// (SLUICE_INGEST_FILL, 1 to 1000). Defaults to 16.
	IngestFill int
	// CommitLinger is the same for step outcomes (SLUICE_COMMIT_LINGER).
	// Defaults to 20ms; 0: none.
	CommitLinger time.Duration
	// IngestHold bounds how long a batch of events waits for this
	// process's workers when they are behind (SLUICE_INGEST_HOLD, at most
	// 1s). Defaults to 500ms; 0: never waits.
	IngestHold time.Duration
	// MetricsAddr is where the worker and scheduler roles serve /metrics
	// and /healthz (SLUICE_METRICS_ADDR). Empty: they serve no HTTP; the
	// api role and serve always expose /metrics on Addr.
	MetricsAddr string

	generatedAPIKey bool
}

// FromEnv reads the configuration from the environment (getenv is
// os.Getenv outside tests).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:        or(getenv("SLUICE_ADDR"), "127.0.0.1:8080"),
		DataDir:     or(getenv("SLUICE_DATA_DIR"), "./data"),
		DatabaseURL: getenv("SLUICE_DATABASE_URL"),
		RedisURL:    getenv("SLUICE_REDIS_URL"),
		APIKey:      getenv("SLUICE_API_KEY"),
		MetricsAddr: getenv("SLUICE_METRICS_ADDR"),
	}
	var err error
	if c.AllowPrivateTargets, err = parseBool("SLUICE_ALLOW_PRIVATE_TARGETS", getenv("SLUICE_ALLOW_PRIVATE_TARGETS")); err != nil {
		return c, err
	}
	if k := getenv("SLUICE_SECRET_KEY"); k != "" {
		if c.SecretKey, err = secrets.ParseKey(k); err != nil {
			return c, fmt.Errorf("SLUICE_SECRET_KEY: %w", err)
		}
	}
	if c.Concurrency, err = parseInt("SLUICE_WORKER_CONCURRENCY", getenv("SLUICE_WORKER_CONCURRENCY"), 0, 1, 1000); err != nil {
		return c, err
	}
	if c.BodyLimit, err = parseInt("SLUICE_BODY_LIMIT", getenv("SLUICE_BODY_LIMIT"), 1<<20, 1024, 1<<30); err != nil {
		return c, err
	}
	if c.ImportLimit, err = parseInt("SLUICE_IMPORT_LIMIT", getenv("SLUICE_IMPORT_LIMIT"), 256<<20, 1024, math.MaxInt); err != nil {
		return c, err
	}
	if c.SweepInterval, err = parseDuration("SLUICE_SWEEP_INTERVAL", getenv("SLUICE_SWEEP_INTERVAL"), 2*time.Second); err != nil {
		return c, err
	}
	if c.SweepGrace, err = parseDuration("SLUICE_SWEEP_GRACE", getenv("SLUICE_SWEEP_GRACE"), 10*time.Second); err != nil {
		return c, err
	}
	if c.ScheduleInterval, err = parseDuration("SLUICE_SCHEDULE_INTERVAL", getenv("SLUICE_SCHEDULE_INTERVAL"), 15*time.Second); err != nil {
		return c, err
	}
	if c.ScheduleCatchUp, err = parseDuration("SLUICE_SCHEDULE_CATCH_UP", getenv("SLUICE_SCHEDULE_CATCH_UP"), time.Hour); err != nil {
		return c, err
	}
	if c.IngestLinger, err = parseLinger("SLUICE_INGEST_LINGER", getenv("SLUICE_INGEST_LINGER"), 5*time.Millisecond); err != nil {
		return c, err
	}
	if c.IngestFill, err = parseInt("SLUICE_INGEST_FILL", getenv("SLUICE_INGEST_FILL"), 16, 1, engine.MaxBatch); err != nil {
		return c, err
	}
	if c.CommitLinger, err = parseLinger("SLUICE_COMMIT_LINGER", getenv("SLUICE_COMMIT_LINGER"), 20*time.Millisecond); err != nil {
		return c, err
	}
	if c.IngestHold, err = parseLinger("SLUICE_INGEST_HOLD", getenv("SLUICE_INGEST_HOLD"), 500*time.Millisecond); err != nil {
		return c, err
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, "sluice.db")
	}
	return c, nil
}

// ensureKeys fills APIKey and SecretKey from DataDir, generating and
// storing them (mode 0600) on first start.
func (c *Config) ensureKeys() error {
	if c.APIKey != "" && c.SecretKey != nil {
		return nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if c.APIKey == "" {
		key, created, err := loadOrCreate(filepath.Join(c.DataDir, "api_key"), "sk_")
		if err != nil {
			return fmt.Errorf("API key: %w", err)
		}
		c.APIKey, c.generatedAPIKey = key, created
	}
	if c.SecretKey == nil {
		key, _, err := loadOrCreate(filepath.Join(c.DataDir, "secret_key"), "")
		if err != nil {
			return fmt.Errorf("secret key: %w", err)
		}
		if c.SecretKey, err = secrets.ParseKey(key); err != nil {
			return fmt.Errorf("secret key in %s: %w", c.DataDir, err)
		}
	}
	return nil
}

// loadOrCreate reads a key file, or writes a new random 32-byte hex key.
func loadOrCreate(path, prefix string) (key string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	key = prefix + hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	return key, true, f.Close()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func parseBool(name, s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", name, s)
	}
	return b, nil
}

func parseInt(name, s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: %q is not a whole number from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

// parseLinger reads a group-commit linger: 0 to 1s, 0 meaning none.
func parseLinger(name, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > time.Second {
		return 0, fmt.Errorf("%s: %q is not a duration from 0 to 1s like 5ms", name, s)
	}
	return d, nil
}

func parseDuration(name, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration like 2s", name, s)
	}
	return d, nil
}
