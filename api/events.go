package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// eventAccepted is the answer of POST /api/v1/events.
type eventAccepted struct {
	EventID string `json:"event_id"`
}

// batchRequest is the body of POST /api/v1/events/batch.
type batchRequest struct {
	Events []engine.EventInput `json:"events"`
}

// batchResult is the answer of POST /api/v1/events/batch.
type batchResult struct {
	Accepted []batchAccepted `json:"accepted"`
	Refused  []batchRefused  `json:"refused"`
}

// batchAccepted is an event of a batch that was stored.
type batchAccepted struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id"`
}

// batchRefused is an event of a batch that was refused, with the error a
// single POST /api/v1/events would have answered; its field is relative
// to the event.
type batchRefused struct {
	Index int         `json:"index"`
	Error errorDetail `json:"error"`
}

// postEvent answers POST /api/v1/events: stores one event, then 202.
func (s *server) postEvent(c *fiber.Ctx) error {
	var in engine.EventInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	res, err := s.e.Ingest(c.UserContext(), []engine.EventInput{in})
	if err != nil {
		return err
	}
	if len(res) != 1 {
		return fmt.Errorf("ingest: %d results for 1 event", len(res))
	}
	if res[0].Err != nil {
		return res[0].Err
	}
	return c.Status(fiber.StatusAccepted).JSON(eventAccepted{EventID: res[0].EventID})
}

// postEvents answers POST /api/v1/events/batch: stores the valid events of
// up to engine.MaxBatch, refuses the others one by one, then 202.
func (s *server) postEvents(c *fiber.Ctx) error {
	var raw struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := decode(c.Body(), &raw); err != nil {
		return err
	}
	switch {
	case raw.Events == nil:
		return invalid("events", "events is required: {\"events\":[…]}")
	case len(raw.Events) == 0:
		return invalid("events", "a batch needs at least one event")
	case len(raw.Events) > engine.MaxBatch:
		return invalid("events", "a batch holds at most %d events, not %d", engine.MaxBatch, len(raw.Events))
	}
	out := batchResult{Accepted: []batchAccepted{}, Refused: []batchRefused{}}
	inputs := make([]engine.EventInput, 0, len(raw.Events))
	index := make([]int, 0, len(raw.Events)) // inputs[i] is event index[i] of the batch
	for i, r := range raw.Events {
		var in engine.EventInput
		if err := decode(r, &in); err != nil {
			out.Refused = append(out.Refused, batchRefused{Index: i, Error: s.detailOf(c, err)})
			continue
		}
		inputs = append(inputs, in)
		index = append(index, i)
	}
	if len(inputs) > 0 {
		res, err := s.e.Ingest(c.UserContext(), inputs)
		if err != nil {
			return err
		}
		if len(res) != len(inputs) {
			return fmt.Errorf("ingest: %d results for %d events", len(res), len(inputs))
		}
		for j, r := range res {
			if r.Err != nil {
				out.Refused = append(out.Refused, batchRefused{Index: index[j], Error: s.detailOf(c, r.Err)})
				continue
			}
			out.Accepted = append(out.Accepted, batchAccepted{Index: index[j], EventID: r.EventID})
		}
	}
	// Decoding and the engine refuse in two passes: list refusals in order.
	slices.SortFunc(out.Refused, func(a, b batchRefused) int { return cmp.Compare(a.Index, b.Index) })
	return c.Status(fiber.StatusAccepted).JSON(out)
}
