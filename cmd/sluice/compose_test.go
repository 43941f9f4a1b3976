package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/sluicehq/sluice/cmd/sluice/app"
)

// composeFile is the production-like set-up at the repository root.
const composeFile = "../../docker-compose.yml"

// testSecretKey is a well-formed SLUICE_SECRET_KEY for loading the file.
const testSecretKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// loadCompose loads docker-compose.yml the way `docker compose` does
// (schema validation, interpolation, normalisation) with env as the only
// environment.
func loadCompose(t *testing.T, env ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory("../.."), cli.WithEnv(env), cli.WithName("sluice"))
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	return opts.LoadProject(context.Background())
}

// TestComposeFile checks that docker-compose.yml is valid Compose and runs
// PostgreSQL, Redis and every role of sluice with health checks, the
// right dependencies and an environment sluice accepts.
func TestComposeFile(t *testing.T) {
	p, err := loadCompose(t, "SLUICE_API_KEY=test-key", "SLUICE_SECRET_KEY="+testSecretKey)
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}
	want := []string{"api", "migrate", "postgres", "redis", "scheduler", "worker"}
	if got := p.ServiceNames(); !slices.Equal(sorted(got), want) {
		t.Fatalf("services = %v, want %v", sorted(got), want)
	}
	if _, ok := p.Volumes["pgdata"]; !ok {
		t.Error("no pgdata volume")
	}
	pg := p.Services["postgres"]
	if !slices.ContainsFunc(pg.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Source == "pgdata" && v.Target == "/var/lib/postgresql/data"
	}) {
		t.Errorf("postgres does not keep its data in the pgdata volume: %+v", pg.Volumes)
	}
	for _, name := range []string{"postgres", "redis", "api", "worker", "scheduler"} {
		hc := p.Services[name].HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Interval == nil || hc.Retries == nil {
			t.Errorf("%s: no complete health check: %+v", name, hc)
		}
	}
	roles := map[string]string{"migrate": "migrate", "api": app.RoleAPI, "worker": app.RoleWorker, "scheduler": app.RoleScheduler}
	for name, role := range roles {
		s := p.Services[name]
		t.Run(name, func(t *testing.T) {
			if !slices.Equal([]string(s.Command), []string{role}) {
				t.Errorf("command = %q, want [%s]", s.Command, role)
			}
			if s.Build == nil || s.Build.Dockerfile != "cmd/sluice/Dockerfile" {
				t.Fatalf("build = %+v, want cmd/sluice/Dockerfile", s.Build)
			}
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("Dockerfile: %v", err)
			}
			for dep, cond := range map[string]string{"postgres": types.ServiceConditionHealthy, "redis": types.ServiceConditionHealthy} {
				if d, ok := s.DependsOn[dep]; !ok || d.Condition != cond {
					t.Errorf("depends_on %s = %+v, want condition %s", dep, d, cond)
				}
			}
			if role != "migrate" {
				if d := s.DependsOn["migrate"]; d.Condition != types.ServiceConditionCompletedSuccessfully {
					t.Errorf("depends_on migrate = %+v, want service_completed_successfully", d)
				}
				if hc := s.HealthCheck; hc != nil && !slices.Equal(hc.Test[:3], []string{"CMD", "/sluice", "health"}) {
					t.Errorf("health check %q does not use `sluice health`", hc.Test)
				}
			}
			checkEnv(t, s.Environment)
		})
	}
	if api := p.Services["api"]; len(api.Ports) != 1 || api.Ports[0].Target != 8080 {
		t.Errorf("api ports = %+v, want 8080 published", api.Ports)
	}
}

// checkEnv checks that a sluice service sets only variables sluice reads,
// that sluice accepts their values, and that it points at the compose
// PostgreSQL and Redis.
func checkEnv(t *testing.T, env types.MappingWithEquals) {
	t.Helper()
	read := map[string]bool{}
	get := func(k string) string {
		read[k] = true
		if v := env[k]; v != nil {
			return *v
		}
		return ""
	}
	cfg, err := app.FromEnv(get)
	if err != nil {
		t.Fatalf("sluice refuses the environment: %v", err)
	}
	for k := range env {
		if strings.HasPrefix(k, "SLUICE_") && !read[k] {
			t.Errorf("%s is set but sluice does not read it", k)
		}
	}
	if !strings.HasPrefix(cfg.DatabaseURL, "postgres://sluice:") || !strings.Contains(cfg.DatabaseURL, "@postgres:5432/") {
		t.Errorf("SLUICE_DATABASE_URL = %q, want the postgres service", cfg.DatabaseURL)
	}
	if cfg.RedisURL != "redis://redis:6379/0" {
		t.Errorf("SLUICE_REDIS_URL = %q, want the redis service", cfg.RedisURL)
	}
	if cfg.APIKey != "test-key" || len(cfg.SecretKey) != 32 {
		t.Errorf("API key %q and secret key (%d bytes) not taken from the environment", cfg.APIKey, len(cfg.SecretKey))
	}
}

// TestDockerfile checks the points of cmd/sluice/Dockerfile the compose
// file relies on: a static build, and the binary at /sluice (the health
// checks run /sluice health).
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/sluice", "COPY --from=build /out/sluice /sluice",
		`ENTRYPOINT ["/sluice"]`, "USER nonroot"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if n := strings.Count(string(b), "\nFROM "); n != 2 {
		t.Errorf("Dockerfile has %d stages, want 2 (build, runtime)", n)
	}
}

// TestComposeFileNeedsSecrets checks that the file refuses to start
// without an API key and a secret key rather than run with defaults.
func TestComposeFileNeedsSecrets(t *testing.T) {
	for _, env := range [][]string{{"SLUICE_SECRET_KEY=" + testSecretKey}, {"SLUICE_API_KEY=k"}} {
		if _, err := loadCompose(t, env...); err == nil {
			t.Errorf("loaded with only %v; want an error naming the missing variable", env)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
