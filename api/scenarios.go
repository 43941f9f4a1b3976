package api

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// scenariosPage is the answer of GET /api/v1/scenarios.
type scenariosPage struct {
	Scenarios []engine.ScenarioSummary `json:"scenarios"`
}

// validResult is the answer of a valid POST /api/v1/scenarios/:id/validate.
type validResult struct {
	Valid bool `json:"valid"`
}

// versionParam is the optional ?version=N of scenario routes.
func versionParam(desc string) queryParam {
	return queryParam{name: "version", schema: rawSchema{"type": "integer", "minimum": 1}, desc: desc}
}

// createScenario answers POST /api/v1/scenarios: saves draft version 1 (201).
func (s *server) createScenario(c *fiber.Ctx) error {
	var in engine.ScenarioInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	v, err := s.e.CreateScenario(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(v)
}

// listScenarios answers GET /api/v1/scenarios: every scenario.
func (s *server) listScenarios(c *fiber.Ctx) error {
	list, err := s.e.ListScenarios(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(scenariosPage{Scenarios: nonNil(list)})
}

// getScenario answers GET /api/v1/scenarios/:id: the latest version (or
// ?version=N) with its graph.
func (s *server) getScenario(c *fiber.Ctx) error {
	id := c.Params("id")
	n, err := intQuery(c, "version", 0, 1, maxVersion)
	if err != nil {
		return err
	}
	return s.sendVersion(c, id, n)
}

// getScenarioVersion answers GET /api/v1/scenarios/:id/versions/:n: the
// scenario with version n's graph.
func (s *server) getScenarioVersion(c *fiber.Ctx) error {
	id := c.Params("id")
	n, err := intParam(c, "n", 1, maxVersion)
	if err != nil {
		return err
	}
	return s.sendVersion(c, id, n)
}

// sendVersion answers a scenario with version n's graph (0: the latest).
func (s *server) sendVersion(c *fiber.Ctx, id string, n int) error {
	v, err := s.e.GetScenarioVersion(c.UserContext(), id, n)
	if err != nil {
		if n > 0 {
			return about(err, "scenario %q or no version %d of it", id, n)
		}
		return about(err, "scenario %q", id)
	}
	return c.JSON(v)
}

// saveScenario answers PUT /api/v1/scenarios/:id: saves a new draft version.
func (s *server) saveScenario(c *fiber.Ctx) error {
	id := c.Params("id")
	var in engine.ScenarioInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	v, err := s.e.SaveScenario(c.UserContext(), id, in)
	if err != nil {
		return about(err, "scenario %q", id)
	}
	return c.JSON(v)
}

// deleteScenario answers DELETE /api/v1/scenarios/:id: deletes a draft or
// archived scenario (204).
func (s *server) deleteScenario(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.e.DeleteScenario(c.UserContext(), id); err != nil {
		return about(err, "scenario %q", id)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// validateScenario answers POST /api/v1/scenarios/:id/validate: 200
// {"valid":true} or 422 with every problem of the latest version.
func (s *server) validateScenario(c *fiber.Ctx) error {
	id := c.Params("id")
	problems, err := s.e.Validate(c.UserContext(), id)
	if err != nil {
		return about(err, "scenario %q", id)
	}
	if len(problems) > 0 {
		return &engine.ProblemsError{Problems: problems}
	}
	return c.JSON(validResult{Valid: true})
}

// activateScenario answers POST /api/v1/scenarios/:id/activate: makes the
// latest version the one new runs enter on (422 with problems if invalid).
func (s *server) activateScenario(c *fiber.Ctx) error {
	return s.lifecycle(c, s.e.Activate)
}

// pauseScenario answers POST /api/v1/scenarios/:id/pause.
func (s *server) pauseScenario(c *fiber.Ctx) error { return s.lifecycle(c, s.e.Pause) }

// archiveScenario answers POST /api/v1/scenarios/:id/archive.
func (s *server) archiveScenario(c *fiber.Ctx) error { return s.lifecycle(c, s.e.Archive) }

// rotateSecret answers POST /api/v1/scenarios/:id/rotate-secret: a new
// signing secret, in the scenario answered.
func (s *server) rotateSecret(c *fiber.Ctx) error { return s.lifecycle(c, s.e.RotateSecret) }

// lifecycle runs a scenario state change and answers the scenario.
func (s *server) lifecycle(c *fiber.Ctx, change func(ctx context.Context, id string) (*engine.ScenarioView, error)) error {
	id := c.Params("id")
	v, err := change(c.UserContext(), id)
	if err != nil {
		return about(err, "scenario %q", id)
	}
	return c.JSON(v)
}
