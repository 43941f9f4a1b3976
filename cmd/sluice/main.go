// Command sluice runs the Sluice automation scenario engine. Roles: serve
// (everything in one process, the default), api, worker, scheduler and
// migrate. Configuration comes from SLUICE_* environment variables.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // contact time zones work on hosts without zoneinfo

	"github.com/sluicehq/sluice/cmd/sluice/app"
)

const usage = `usage: sluice [serve|api|worker|scheduler|migrate|health URL]

  serve      API, front end, workers and sweeper in one process (default)
  api        the HTTP API and front end only
  worker     asynq workers only
  scheduler  the sweeper (re-enqueues due work whose task went missing) and
             the date-trigger scheduler (date_reached, consent_expiring)
  migrate    apply database migrations and exit
  health     GET URL (default http://127.0.0.1:8080/healthz); exit 0 on 2xx,
             for container health checks in images without curl

Configuration: SLUICE_ADDR, SLUICE_DATA_DIR, SLUICE_DATABASE_URL,
SLUICE_REDIS_URL, SLUICE_API_KEY, SLUICE_SECRET_KEY,
SLUICE_ALLOW_PRIVATE_TARGETS (see README.md).
`

func main() {
	role := app.RoleServe
	if len(os.Args) > 1 {
		role = os.Args[1]
	}
	switch role {
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	case "health":
		os.Exit(health(os.Args[2:]))
	case app.RoleServe, app.RoleAPI, app.RoleWorker, app.RoleScheduler, "migrate":
	default:
		fmt.Fprintf(os.Stderr, "sluice: unknown role %q\n\n%s", role, usage)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(role, log); err != nil {
		fmt.Fprintf(os.Stderr, "sluice %s: %v\n", role, err)
		os.Exit(1)
	}
}

func run(role string, log *slog.Logger) error {
	app.TuneGC(os.Getenv)
	cfg, err := app.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if role == "migrate" {
		log.Info("migrations applied")
		return nil
	}
	return a.Run(ctx, role)
}

// health is the health subcommand: it GETs args[0] (default
// http://127.0.0.1:8080/healthz) and returns the exit code, 0 on 2xx.
func health(args []string) int {
	url := "http://127.0.0.1:8080/healthz"
	if len(args) > 0 {
		url = args[0]
	}
	c := &http.Client{Timeout: 4 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sluice health: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(os.Stderr, "sluice health: %s answered %s\n", url, resp.Status)
		return 1
	}
	return 0
}
