package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// deliveryStatuses are the values of ?status= on the deliveries route.
func deliveryStatuses() []string {
	return []string{string(engine.DeliveryPending), string(engine.DeliveryAccepted), string(engine.DeliveryFailed)}
}

// deliveryPage is the answer of GET …/steps/:node_id/deliveries.
type deliveryPage struct {
	Deliveries []engine.DeliveryView `json:"deliveries"`
	// NextCursor is the cursor of the following page; "" at the end.
	NextCursor string `json:"next_cursor"`
}

// scenarioStats answers GET /api/v1/scenarios/:id/stats: a version's
// per-step counters (?version=N, ?bucket=hour for hourly buckets).
func (s *server) scenarioStats(c *fiber.Ctx) error {
	id := c.Params("id")
	version, err := intQuery(c, "version", 0, 1, maxVersion)
	if err != nil {
		return err
	}
	bucket, err := enumQuery(c, "bucket", []string{"hour"})
	if err != nil {
		return err
	}
	st, err := s.e.Stats(c.UserContext(), id, version, bucket == "hour")
	if err != nil {
		if version > 0 {
			return about(err, "scenario %q or no version %d of it", id, version)
		}
		return about(err, "scenario %q", id)
	}
	return c.JSON(st)
}

// stepDeliveries answers GET /api/v1/scenarios/:id/steps/:node_id/deliveries:
// a page of the step's deliveries with their attempts, newest first.
func (s *server) stepDeliveries(c *fiber.Ctx) error {
	id, node := c.Params("id"), c.Params("node_id")
	status, err := enumQuery(c, "status", deliveryStatuses())
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	version, err := intQuery(c, "version", 0, 1, maxVersion)
	if err != nil {
		return err
	}
	ds, next, err := s.e.Deliveries(c.UserContext(), engine.DeliveryFilter{ScenarioID: id, Version: version, NodeID: node,
		Status: engine.DeliveryStatus(status), Limit: limit, Cursor: c.Query("cursor")})
	if err != nil {
		return about(err, "scenario %q", id)
	}
	return c.JSON(deliveryPage{Deliveries: nonNil(ds), NextCursor: next})
}
