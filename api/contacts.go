package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// createContact answers POST /api/v1/contacts: creates a contact (201; 409
// when the email exists).
func (s *server) createContact(c *fiber.Ctx) error {
	var in engine.ContactInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	ct, err := s.e.CreateContact(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(ct)
}

// getContact answers GET /api/v1/contacts/:id: one contact.
func (s *server) getContact(c *fiber.Ctx) error {
	id := c.Params("id")
	ct, err := s.e.GetContact(c.UserContext(), id)
	if err != nil {
		return about(err, "contact %q", id)
	}
	return c.JSON(ct)
}

// findContact answers GET /api/v1/contacts?email=…: the contact with that
// email, case-insensitively.
func (s *server) findContact(c *fiber.Ctx) error {
	email := strings.TrimSpace(c.Query("email"))
	if email == "" {
		return badRequest("email", "the email query parameter is required (GET /api/v1/contacts?email=…)")
	}
	ct, err := s.e.FindContact(c.UserContext(), email)
	if err != nil {
		return about(err, "contact with email %q", email)
	}
	return c.JSON(ct)
}

// replaceContact answers PUT /api/v1/contacts/:id: replaces a contact.
func (s *server) replaceContact(c *fiber.Ctx) error { return s.updateContact(c, true) }

// patchContact answers PATCH /api/v1/contacts/:id: merges into a contact.
func (s *server) patchContact(c *fiber.Ctx) error { return s.updateContact(c, false) }

// updateContact replaces (PUT) or merges into (PATCH) a contact.
func (s *server) updateContact(c *fiber.Ctx, replace bool) error {
	id := c.Params("id")
	var in engine.ContactInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	ct, err := s.e.UpdateContact(c.UserContext(), id, in, replace)
	if err != nil {
		return about(err, "contact %q", id)
	}
	return c.JSON(ct)
}
