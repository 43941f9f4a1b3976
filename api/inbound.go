package api

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// inboundPage is the answer of GET /api/v1/inbound-webhooks.
type inboundPage struct {
	InboundWebhooks []engine.InboundWebhook `json:"inbound_webhooks"`
}

// Hours of activity GET /api/v1/inbound-webhooks/:id/activity shows.
const (
	defaultActivityHours = 24
	maxActivityHours     = 7 * 24
)

// inboundRoutes are the routes of inbound webhooks: their management under
// /api/v1 and the public /hooks/:id that outside systems call.
func (s *server) inboundRoutes() []route {
	const p = Prefix + "/inbound-webhooks"
	errorDoc := func(desc string) respDoc { return respDoc{desc, errorBody{}} }
	hookDoc := func(id, summary string) opDoc {
		return opDoc{id: id, tag: "inbound", summary: summary,
			description: "Public: no bearer key. The quick way passes api-key and the fields (email, firstname, lastname, " +
				"the webhook's custom fields) in the query string, a form body or a JSON body; the secure way passes " +
				"payload = base64(IV ‖ AES-256-CBC ciphertext, PKCS#7 padding) of the fields as JSON or a query string, " +
				"the key being the webhook's secret_key. Refusals are counted in the webhook's activity.",
			query: []queryParam{
				{name: "api-key", schema: rawSchema{"type": "string"}, desc: "The webhook's api_key (the quick way)."},
				{name: "email", schema: rawSchema{"type": "string", "format": "email"}, desc: "The contact's email; required in the data."},
				{name: "payload", schema: rawSchema{"type": "string"}, desc: "The secure way's encrypted data."},
			},
			resp: engine.InboundResult{}, errs: []int{400, 404, 413},
			extra: map[int]respDoc{
				401: errorDoc("The api-key is missing or wrong (code wrong_key)."),
				403: errorDoc("The client's IP or a required header is not allowed (ip_not_allowed, header_not_allowed)."),
				405: errorDoc("The method is not allowed on this webhook (method_not_allowed)."),
			}}
	}
	return []route{
		{"POST", p, s.createInbound, false, opDoc{id: "createInbound", tag: "inbound",
			summary:     "Create an inbound webhook",
			description: "The answer holds its url, api_key, secret_key (64 hex characters: an AES-256 key) and the custom fields it accepts.",
			body:        engine.InboundInput{}, status: 201, resp: engine.InboundWebhook{}, errs: []int{400, 413, 422}}},
		{"GET", p, s.listInbound, false, opDoc{id: "listInbound", tag: "inbound",
			summary: "Every inbound webhook, newest first", resp: inboundPage{}}},
		{"GET", p + "/:id", s.getInbound, false, opDoc{id: "getInbound", tag: "inbound",
			summary: "One inbound webhook", resp: engine.InboundWebhook{}, errs: []int{404}}},
		{"PUT", p + "/:id", s.updateInbound, false, opDoc{id: "updateInbound", tag: "inbound",
			summary: "Replace an inbound webhook's settings (its keys stay)", body: engine.InboundInput{},
			resp: engine.InboundWebhook{}, errs: []int{400, 404, 413, 422}}},
		{"DELETE", p + "/:id", s.deleteInbound, false, opDoc{id: "deleteInbound", tag: "inbound",
			summary: "Delete an inbound webhook and its activity", status: 204, errs: []int{404}}},
		{"POST", p + "/:id/rotate-keys", s.rotateInboundKeys, false, opDoc{id: "rotateInboundKeys", tag: "inbound",
			summary: "Give the webhook a new api_key and secret_key; the old ones stop working at once",
			resp:    engine.InboundWebhook{}, errs: []int{404}}},
		{"GET", p + "/:id/activity", s.inboundActivity, false, opDoc{id: "inboundActivity", tag: "inbound",
			summary: "Accepted and refused calls per hour, with the last refusals and their reasons",
			query: []queryParam{{name: "hours", schema: rawSchema{"type": "integer", "minimum": 1, "maximum": maxActivityHours,
				"default": defaultActivityHours}, desc: "How many hours of buckets to return."}},
			resp: engine.InboundActivity{}, errs: []int{400, 404, 422}}},
		{"GET", "/hooks/:id", s.receiveHook, true, hookDoc("callInboundGet", "Call an inbound webhook (GET)")},
		{"POST", "/hooks/:id", s.receiveHook, true, hookDoc("callInboundPost", "Call an inbound webhook (POST)")},
	}
}

// createInbound answers POST /api/v1/inbound-webhooks: a new webhook with its keys (201).
func (s *server) createInbound(c *fiber.Ctx) error {
	var in engine.InboundInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	w, err := s.e.CreateInbound(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(w)
}

// listInbound answers GET /api/v1/inbound-webhooks: every webhook.
func (s *server) listInbound(c *fiber.Ctx) error {
	list, err := s.e.ListInbound(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(inboundPage{InboundWebhooks: nonNil(list)})
}

// getInbound answers GET /api/v1/inbound-webhooks/:id: one webhook.
func (s *server) getInbound(c *fiber.Ctx) error {
	id := c.Params("id")
	w, err := s.e.GetInbound(c.UserContext(), id)
	if err != nil {
		return about(err, "inbound webhook %q", id)
	}
	return c.JSON(w)
}

// updateInbound answers PUT /api/v1/inbound-webhooks/:id: new settings, same keys.
func (s *server) updateInbound(c *fiber.Ctx) error {
	id := c.Params("id")
	var in engine.InboundInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	w, err := s.e.UpdateInbound(c.UserContext(), id, in)
	if err != nil {
		return about(err, "inbound webhook %q", id)
	}
	return c.JSON(w)
}

// deleteInbound answers DELETE /api/v1/inbound-webhooks/:id (204).
func (s *server) deleteInbound(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.e.DeleteInbound(c.UserContext(), id); err != nil {
		return about(err, "inbound webhook %q", id)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// rotateInboundKeys answers POST /api/v1/inbound-webhooks/:id/rotate-keys: new keys.
func (s *server) rotateInboundKeys(c *fiber.Ctx) error {
	id := c.Params("id")
	w, err := s.e.RotateInboundKeys(c.UserContext(), id)
	if err != nil {
		return about(err, "inbound webhook %q", id)
	}
	return c.JSON(w)
}

// inboundActivity answers GET /api/v1/inbound-webhooks/:id/activity: counts per hour and the last refusals.
func (s *server) inboundActivity(c *fiber.Ctx) error {
	id := c.Params("id")
	hours, err := intQuery(c, "hours", defaultActivityHours, 1, maxActivityHours)
	if err != nil {
		return err
	}
	since := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	a, err := s.e.InboundActivity(c.UserContext(), id, since)
	if err != nil {
		return about(err, "inbound webhook %q", id)
	}
	return c.JSON(a)
}

// receiveHook answers GET and POST /hooks/:id, the public URL outside
// systems call: 200 {"status":"subscribed",…} or a refusal. The client's
// IP is the socket's peer (c.IP() with no proxy header configured):
// X-Forwarded-For and the like are not trusted.
func (s *server) receiveHook(c *fiber.Ctx) error {
	id := c.Params("id")
	ip, _ := netip.ParseAddr(c.IP()) // an unparsable address stays invalid and matches no allowed range
	headers := http.Header{}
	c.Request().Header.VisitAll(func(k, v []byte) { headers.Add(string(k), string(v)) })
	res, err := s.e.ReceiveInbound(c.UserContext(), id, engine.InboundRequest{
		Method: c.Method(), RemoteIP: ip, Headers: headers, Query: string(c.Request().URI().QueryString()),
		Body: c.Body(), ContentType: string(c.Request().Header.ContentType())})
	var refused *engine.RefusedError
	if errors.As(err, &refused) {
		if refused.Code == engine.RefusedMethod {
			c.Set(fiber.HeaderAllow, strings.Join(refused.Allowed, ", "))
		}
		return &requestError{status: refusalStatus(refused.Code), code: string(refused.Code), field: refused.Field,
			message: refused.Message}
	}
	if err != nil {
		return about(err, "inbound webhook %q", id)
	}
	return c.JSON(res)
}

// refusalStatus is the HTTP status of a refused inbound call (API.md).
func refusalStatus(code engine.RefusalCode) int {
	switch code {
	case engine.RefusedKey:
		return fiber.StatusUnauthorized
	case engine.RefusedMethod:
		return fiber.StatusMethodNotAllowed
	case engine.RefusedIP, engine.RefusedHeader:
		return fiber.StatusForbidden
	}
	return fiber.StatusBadRequest
}
