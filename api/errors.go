package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// errorBody is every error answer: {"error":{"code","message","field"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

// errorDetail says what went wrong and, when known, which input.
type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// problemsBody is the 422 answer for an invalid graph: every problem.
type problemsBody struct {
	Valid    bool             `json:"valid"`
	Problems []engine.Problem `json:"problems"`
	Error    errorDetail      `json:"error"`
}

// requestError is bad input the api finds itself (malformed JSON, a bad
// query parameter, a missing key), with the status it deserves.
type requestError struct {
	status  int
	code    string
	field   string
	message string
}

func (e *requestError) Error() string {
	if e.field == "" {
		return e.message
	}
	return e.field + ": " + e.message
}

// badRequest is malformed input (400) about field.
func badRequest(field, format string, args ...any) error {
	return &requestError{status: fiber.StatusBadRequest, code: "bad_request", field: field, message: fmt.Sprintf(format, args...)}
}

// invalid is well-formed input that breaks a rule (422) about field.
func invalid(field, format string, args ...any) error {
	return &requestError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", field: field,
		message: fmt.Sprintf(format, args...)}
}

// subject names what an engine error was about ("scenario \"scn_…\""), so
// that a 404 says what was not found.
type subject struct {
	what string
	err  error
}

func (s *subject) Error() string { return s.what + ": " + s.err.Error() }
func (s *subject) Unwrap() error { return s.err }

// about wraps err (nil stays nil) with what it concerns.
func about(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &subject{what: fmt.Sprintf(format, args...), err: err}
}

// codeOf is the error code of an HTTP status.
func codeOf(status int) string {
	switch status {
	case 400:
		return "bad_request"
	case 401:
		return "unauthorized"
	case 403:
		return "forbidden"
	case 404:
		return "not_found"
	case 405:
		return "method_not_allowed"
	case 408:
		return "request_timeout"
	case 409:
		return "conflict"
	case 413:
		return "payload_too_large"
	case 415:
		return "unsupported_media_type"
	case 422:
		return "validation_failed"
	case 429:
		return "too_many_requests"
	case 431:
		return "headers_too_large"
	case 500:
		return "internal"
	case 503:
		return "unavailable"
	}
	return fmt.Sprintf("http_%d", status)
}

// handleError is the app's one error handler: it chooses the status and
// the JSON body of every error a handler, a middleware or fiber returns.
func (s *server) handleError(c *fiber.Ctx, err error) error {
	status, body := s.classify(c, err)
	return c.Status(status).JSON(body)
}

// classify maps err to a status and the body to answer with.
func (s *server) classify(c *fiber.Ctx, err error) (int, any) {
	var (
		reqErr   *requestError
		problems *engine.ProblemsError
		inv      *engine.InvalidError
		conflict *engine.ConflictError
		subj     *subject
		fe       *fiber.Error
	)
	detail := func(status int, msg, field string) (int, any) {
		return status, errorBody{Error: errorDetail{Code: codeOf(status), Message: msg, Field: field}}
	}
	switch {
	case errors.As(err, &reqErr):
		return reqErr.status, errorBody{Error: errorDetail{Code: reqErr.code, Message: reqErr.message, Field: reqErr.field}}
	case errors.As(err, &problems):
		return http.StatusUnprocessableEntity, problemsBody{Valid: false, Problems: nonNil(problems.Problems),
			Error: errorDetail{Code: "validation_failed", Message: problemsMessage(problems.Problems), Field: "graph"}}
	case errors.As(err, &inv):
		return detail(http.StatusUnprocessableEntity, inv.Message, inv.Field)
	case errors.As(err, &conflict):
		return detail(http.StatusConflict, conflict.Message, "")
	case errors.Is(err, engine.ErrConflict):
		s.log.Warn("api: conflict", "method", c.Method(), "path", c.Path(), "err", err)
		return detail(http.StatusConflict, "the request conflicts with the current state", "")
	case errors.Is(err, engine.ErrRetry):
		s.log.Warn("api: lost to a concurrent transaction", "method", c.Method(), "path", c.Path(), "err", err)
		c.Set(fiber.HeaderRetryAfter, "1")
		return detail(http.StatusServiceUnavailable, "the database gave this request up for a concurrent one; try again", "")
	case errors.Is(err, engine.ErrNotFound):
		if errors.As(err, &subj) {
			return detail(http.StatusNotFound, "no "+subj.what, "")
		}
		return detail(http.StatusNotFound, "not found", "")
	case errors.As(err, &fe):
		return s.fiberError(c, fe)
	}
	s.log.Error("api: internal error", "method", c.Method(), "path", c.Path(), "err", err)
	return detail(http.StatusInternalServerError, "internal error; the server log has the details", "")
}

// fiberError answers an error fiber raised (unknown route, method not
// allowed, body too large…) or a handler returned as *fiber.Error.
func (s *server) fiberError(c *fiber.Ctx, fe *fiber.Error) (int, any) {
	msg := fe.Message
	switch fe.Code {
	case fiber.StatusNotFound:
		msg = fmt.Sprintf("no route %s %s", c.Method(), c.Path())
	case fiber.StatusMethodNotAllowed:
		msg = fmt.Sprintf("method %s is not allowed on %s", c.Method(), c.Path())
		if allow := string(c.Response().Header.Peek(fiber.HeaderAllow)); allow != "" {
			msg += "; allowed: " + allow
		}
	case fiber.StatusRequestEntityTooLarge:
		msg = fmt.Sprintf("the request body is larger than %d bytes", s.bodyLimit)
	}
	if fe.Code >= 500 {
		s.log.Error("api: server error", "method", c.Method(), "path", c.Path(), "err", fe)
	}
	return fe.Code, errorBody{Error: errorDetail{Code: codeOf(fe.Code), Message: msg}}
}

// problemsMessage sums up a graph's problems in one sentence.
func problemsMessage(ps []engine.Problem) string {
	if len(ps) == 0 {
		return "the graph is invalid"
	}
	first := ps[0].Message
	if ps[0].Node != "" {
		first = "node " + ps[0].Node + ": " + first
	}
	if len(ps) == 1 {
		return "the graph has 1 problem: " + first
	}
	return fmt.Sprintf("the graph has %d problems; the first: %s", len(ps), first)
}

// detailOf is the errorDetail of an error refused inside a batch: the same
// code, message and field a single request would get.
func (s *server) detailOf(c *fiber.Ctx, err error) errorDetail {
	_, body := s.classify(c, err)
	switch b := body.(type) {
	case errorBody:
		return b.Error
	case problemsBody:
		return b.Error
	}
	return errorDetail{Code: "internal", Message: "internal error"}
}

// nonNil returns s, or an empty slice when s is nil, so that JSON says [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
