package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Request bodies. The app has fasthttp stream request bodies so that a
// contacts import is read as it arrives, not whole into memory. Streaming
// changes what fasthttp does with every body: it no longer refuses one over
// the limit (it hands the handler a stream instead), and bytes a handler
// leaves unread stay on the connection, where they would be read as the
// next request. Two pieces keep every other route as it was:
//
//   - headerReceived runs when a request's headers are in, before any of
//     its body is read. A Content-Length over the route's limit is refused
//     from the headers alone, as fasthttp did without streaming (with
//     streaming it would first wait for some of the body).
//   - limitBody, the app's first middleware, answers those 413s and reads
//     the body of every request but an import into memory, up to the
//     limit, so that handlers keep using c.Body(). A chunked body is
//     refused once it passes the limit.
//
// A request whose body is not read to its end gets Connection: close.

// importPath is the one route whose body is streamed to its handler.
const importPath = Prefix + "/contacts/import"

// tooLargeHeader marks a request headerReceived refused. It is deleted
// from every request first, so that no client can set it.
const tooLargeHeader = "X-Sluice-Body-Too-Large"

// isImport reports whether a request goes to POST /api/v1/contacts/import,
// matching its path as fiber routes it: in any case, trailing slashes
// ignored.
func isImport(method, path string) bool {
	return method == fiber.MethodPost && strings.EqualFold(strings.TrimRight(path, "/"), importPath)
}

// limitOf is a request's body limit: ImportLimit for an import, else
// BodyLimit.
func (s *server) limitOf(method, path string) int64 {
	if isImport(method, path) {
		return s.importLimit
	}
	return int64(s.bodyLimit)
}

// headerReceived is the fasthttp server's HeaderReceived hook: it marks a
// request announcing a body over its limit and has fasthttp read none of
// that body (Content-Length 0), so that limitBody answers 413 at once.
func (s *server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	h.Del(tooLargeHeader)
	if int64(h.ContentLength()) > s.limitOf(string(h.Method()), requestPath(h)) {
		h.Set(tooLargeHeader, "1")
		h.SetContentLength(0)
	}
	return fasthttp.RequestConfig{}
}

// requestPath is a request's path as fiber's c.Path() gives it.
func requestPath(h *fasthttp.RequestHeader) string {
	u := fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(u)
	if err := u.Parse(nil, h.RequestURI()); err != nil {
		return ""
	}
	return string(u.PathOriginal())
}

// limitBody is the app's first middleware (see the top of this file).
func (s *server) limitBody(c *fiber.Ctx) error {
	limit := s.limitOf(c.Method(), c.Path())
	if len(c.Request().Header.Peek(tooLargeHeader)) > 0 {
		c.Context().SetConnectionClose() // its body is still on the connection
		return tooLarge(limit)
	}
	if isImport(c.Method(), c.Path()) {
		// The handler streams the body and may stop before its end.
		c.Context().SetConnectionClose()
		return c.Next()
	}
	if err := readBody(c, limit); err != nil {
		c.Context().SetConnectionClose()
		return err
	}
	return c.Next()
}

// readBody reads a request's body into memory, refusing one over limit
// bytes.
func readBody(c *fiber.Ctx, limit int64) error {
	stream := c.Context().RequestBodyStream()
	if stream == nil {
		return nil // no body, or already read
	}
	body, err := io.ReadAll(io.LimitReader(stream, limit+1))
	if err != nil {
		return bodyReadError(err)
	}
	if int64(len(body)) > limit {
		return tooLarge(limit)
	}
	c.Request().SetBody(body)
	return nil
}

// tooLarge is the 413 of a body over limit bytes.
func tooLarge(limit int64) error {
	return &requestError{status: fiber.StatusRequestEntityTooLarge, code: "payload_too_large",
		message: fmt.Sprintf("the request body is larger than %d bytes", limit)}
}

// bodyReadError answers a body that could not be read as fiber does when
// fasthttp reads bodies itself: 408 for a timeout, else 400.
func bodyReadError(err error) error {
	var re *requestError
	if errors.As(err, &re) {
		return err
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &requestError{status: fiber.StatusRequestTimeout, code: "request_timeout",
			message: "the request body did not arrive in time"}
	}
	return badRequest("", "the request body could not be read: %v", err)
}
