package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
)

// healthSchema describes GET /healthz's answer.
func healthSchema() rawSchema {
	return rawSchema{"type": "object", "required": []string{"status"},
		"properties": map[string]any{
			"status": map[string]any{"type": "string", "enum": []string{"ok", "degraded"}},
		},
		"additionalProperties": map[string]any{"type": "string",
			"description": "One entry per check (database, redis…): \"ok\" or \"error: …\"."},
		"example": map[string]string{"status": "ok", "database": "ok", "redis": "ok"}}
}

// health answers GET /healthz: every check run at once, each bounded by
// CheckTimeout (a check that ignores its context is reported as timed
// out); 200 when all pass, else 503 with status "degraded".
func (s *server) health(c *fiber.Ctx) error {
	type result struct {
		name string
		err  error
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.checkTimeout)
	defer cancel()
	done := make(chan result, len(s.checks)) // buffered: a late check never blocks
	for name, check := range s.checks {
		go func() { done <- result{name, check(ctx)} }()
	}
	out := map[string]string{"status": "ok"}
	for name := range s.checks {
		out[name] = "error: timed out after " + s.checkTimeout.String()
	}
	late := time.NewTimer(s.checkTimeout + 100*time.Millisecond)
	defer late.Stop()
collect:
	for range s.checks {
		select {
		case r := <-done:
			out[r.name] = "ok"
			if r.err != nil {
				out[r.name] = "error: " + r.err.Error()
			}
		case <-late.C:
			break collect
		}
	}
	status := http.StatusOK
	for name, v := range out {
		if name != "status" && v != "ok" {
			out["status"], status = "degraded", http.StatusServiceUnavailable
		}
	}
	return c.Status(status).JSON(out)
}
