package api

import (
	"bytes"

	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// subscriptionsPage is the answer of GET /api/v1/webhooks.
type subscriptionsPage struct {
	Webhooks []engine.Subscription `json:"webhooks"`
}

// activateRequest is the optional body of POST /api/v1/webhooks/:id/activate.
type activateRequest struct {
	// ReplayEvents delivers the events buffered while the subscription was
	// inactive (up to 5 days), in order; false drops them.
	ReplayEvents bool `json:"replay_events"`
}

// notificationsPage is the answer of GET /api/v1/notifications.
type notificationsPage struct {
	Notifications []engine.Notification `json:"notifications"`
}

// createSubscription answers POST /api/v1/webhooks: subscribes a URL to an
// event (201).
func (s *server) createSubscription(c *fiber.Ctx) error {
	var in engine.SubscriptionInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	sub, err := s.e.CreateSubscription(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(sub)
}

// listSubscriptions answers GET /api/v1/webhooks: the subscriptions,
// filtered by ?app= and ?event=.
func (s *server) listSubscriptions(c *fiber.Ctx) error {
	event, err := enumQuery(c, "event", engine.SubscriptionEvents())
	if err != nil {
		return err
	}
	list, err := s.e.Subscriptions(c.UserContext(), c.Query("app"), event)
	if err != nil {
		return err
	}
	return c.JSON(subscriptionsPage{Webhooks: nonNil(list)})
}

// getSubscription answers GET /api/v1/webhooks/:id: one subscription with
// its counters.
func (s *server) getSubscription(c *fiber.Ctx) error {
	id := c.Params("id")
	sub, err := s.e.GetSubscription(c.UserContext(), id)
	if err != nil {
		return about(err, "webhook %q", id)
	}
	return c.JSON(sub)
}

// deleteSubscription answers DELETE /api/v1/webhooks/:id (204).
func (s *server) deleteSubscription(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.e.DeleteSubscription(c.UserContext(), id); err != nil {
		return about(err, "webhook %q", id)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// activateSubscription answers POST /api/v1/webhooks/:id/activate:
// activates it again, replaying or dropping its buffered events.
func (s *server) activateSubscription(c *fiber.Ctx) error {
	id := c.Params("id")
	var in activateRequest
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := decode(c.Body(), &in); err != nil {
			return err
		}
	}
	sub, err := s.e.ActivateSubscription(c.UserContext(), id, in.ReplayEvents)
	if err != nil {
		return about(err, "webhook %q", id)
	}
	return c.JSON(sub)
}

// deactivateSubscription answers POST /api/v1/webhooks/:id/deactivate:
// stops deliveries; events are buffered until it is activated again.
func (s *server) deactivateSubscription(c *fiber.Ctx) error {
	id := c.Params("id")
	sub, err := s.e.DeactivateSubscription(c.UserContext(), id)
	if err != nil {
		return about(err, "webhook %q", id)
	}
	return c.JSON(sub)
}

// subscriptionDeliveries answers GET /api/v1/webhooks/:id/deliveries: a
// page of the subscription's deliveries with their attempts, newest first.
func (s *server) subscriptionDeliveries(c *fiber.Ctx) error {
	id := c.Params("id")
	status, err := enumQuery(c, "status", deliveryStatuses())
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	ds, next, err := s.e.SubscriptionDeliveries(c.UserContext(), id, engine.DeliveryStatus(status), limit, c.Query("cursor"))
	if err != nil {
		return about(err, "webhook %q", id)
	}
	return c.JSON(deliveryPage{Deliveries: nonNil(ds), NextCursor: next})
}

// listNotifications answers GET /api/v1/notifications: the latest
// notifications, newest first.
func (s *server) listNotifications(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	list, err := s.e.Notifications(c.UserContext(), limit)
	if err != nil {
		return err
	}
	return c.JSON(notificationsPage{Notifications: nonNil(list)})
}

// subscriptionRoutes are the routes of event subscriptions and
// notifications, for the route table.
func (s *server) subscriptionRoutes() []route {
	const p = Prefix
	pageQuery := []queryParam{
		{name: "status", schema: rawSchema{"type": "string", "enum": deliveryStatuses()}, desc: "Only deliveries with this status."},
		{name: "limit", schema: rawSchema{"type": "integer", "minimum": 1, "maximum": maxLimit, "default": defaultLimit}, desc: "Page size."},
		{name: "cursor", schema: rawSchema{"type": "string"}, desc: "next_cursor of the previous page."},
	}
	return []route{
		{"POST", p + "/webhooks", s.createSubscription, false, opDoc{id: "createWebhook", tag: "webhooks",
			summary: "Subscribe a URL to an event",
			description: "event is optin_finalized, optout_finalized, profile_updated or contact_created; list_id narrows it to one list. " +
				"Requests are signed with secret (whsec_…, generated when left out).",
			body: engine.SubscriptionInput{}, status: 201, resp: engine.Subscription{}, errs: []int{400, 413, 422}}},
		{"GET", p + "/webhooks", s.listSubscriptions, false, opDoc{id: "listWebhooks", tag: "webhooks",
			summary: "Event subscriptions with their counters",
			query: []queryParam{{name: "app", schema: rawSchema{"type": "string"}, desc: "Only this app's."},
				{name: "event", schema: rawSchema{"type": "string", "enum": engine.SubscriptionEvents()}, desc: "Only this event's."}},
			resp: subscriptionsPage{}, errs: []int{400, 422}}},
		{"GET", p + "/webhooks/:id", s.getSubscription, false, opDoc{id: "getWebhook", tag: "webhooks",
			summary: "One event subscription with its counters", resp: engine.Subscription{}, errs: []int{404}}},
		{"DELETE", p + "/webhooks/:id", s.deleteSubscription, false, opDoc{id: "deleteWebhook", tag: "webhooks",
			summary: "Delete an event subscription with its deliveries and buffered events", status: 204, errs: []int{404}}},
		{"POST", p + "/webhooks/:id/activate", s.activateSubscription, false, opDoc{id: "activateWebhook", tag: "webhooks",
			summary: "Activate an event subscription again",
			description: "With replay_events the events buffered since deactivation (up to 5 days) are delivered in their original order, " +
				"10 per second; without, they are dropped and counted. The body is optional.",
			body: activateRequest{}, resp: engine.Subscription{}, errs: []int{400, 404, 413}}},
		{"POST", p + "/webhooks/:id/deactivate", s.deactivateSubscription, false, opDoc{id: "deactivateWebhook", tag: "webhooks",
			summary: "Deactivate an event subscription (its events are buffered for 5 days)", resp: engine.Subscription{}, errs: []int{404}}},
		{"GET", p + "/webhooks/:id/deliveries", s.subscriptionDeliveries, false, opDoc{id: "webhookDeliveries", tag: "webhooks",
			summary: "An event subscription's deliveries with their attempts, newest first",
			query:   pageQuery, resp: deliveryPage{}, errs: []int{400, 404, 422}}},
		{"GET", p + "/notifications", s.listNotifications, false, opDoc{id: "listNotifications", tag: "meta",
			summary: "Notifications, newest first (e.g. an event subscription deactivated for failing)",
			query: []queryParam{{name: "limit", schema: rawSchema{"type": "integer", "minimum": 1, "maximum": maxLimit, "default": defaultLimit},
				desc: "How many."}},
			resp: notificationsPage{}, errs: []int{400, 422}}},
	}
}
