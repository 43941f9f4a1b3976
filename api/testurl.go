package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// testWebhook answers POST /api/v1/webhooks/test: sends a test request and
// reports the answer, 200 whether the URL answered or not (422 for bad input).
func (s *server) testWebhook(c *fiber.Ctx) error {
	var in engine.TestRequest
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	res, err := s.e.TestWebhook(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}
