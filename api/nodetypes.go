package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// nodeTypesPage is the answer of GET /api/v1/node-types.
type nodeTypesPage struct {
	NodeTypes []engine.Spec `json:"node_types"`
}

// nodeTypes answers GET /api/v1/node-types: the node catalogue.
func (s *server) nodeTypes(c *fiber.Ctx) error {
	return c.JSON(nodeTypesPage{NodeTypes: nonNil(s.e.NodeTypes())})
}
