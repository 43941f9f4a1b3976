package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// createListRequest is the body of POST /api/v1/lists.
type createListRequest struct {
	Name string `json:"name"`
}

// listsPage is the answer of GET /api/v1/lists.
type listsPage struct {
	Lists []engine.List `json:"lists"`
}

// createList answers POST /api/v1/lists: creates a list (201).
func (s *server) createList(c *fiber.Ctx) error {
	var in createListRequest
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	l, err := s.e.CreateList(c.UserContext(), in.Name)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(l)
}

// listLists answers GET /api/v1/lists: every list.
func (s *server) listLists(c *fiber.Ctx) error {
	ls, err := s.e.Lists(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(listsPage{Lists: nonNil(ls)})
}

// getList answers GET /api/v1/lists/:id: one list.
func (s *server) getList(c *fiber.Ctx) error {
	id := c.Params("id")
	l, err := s.e.GetList(c.UserContext(), id)
	if err != nil {
		return about(err, "list %q", id)
	}
	return c.JSON(l)
}
