package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// answer is a response read off a connection, and whether the server
// closes the connection after it (net/http drops Connection: close from
// the headers).
type answer struct {
	response
	closes bool
}

// exchange writes raw requests on one new connection and reads the
// answers to the first len(paths) of them, checking each against the
// OpenAPI document (paths[i] is "METHOD /path" of request i).
func (b *bundle) exchange(t *testing.T, raw string, paths ...string) []answer {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.listen(t), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(conn, raw) }() // the server may answer before it reads it all
	br := bufio.NewReader(conn)
	var out []answer
	for _, p := range paths {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer to %s: %v", p, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := response{status: res.StatusCode, header: res.Header, body: body}
		method, path, _ := strings.Cut(p, " ")
		conform(t, b.document(t), method, path, r)
		out = append(out, answer{response: r, closes: res.Close})
	}
	return out
}

// head is the start of a raw request with the API key.
func head(method, path string, headers ...string) string {
	return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: sluice\r\nAuthorization: Bearer %s\r\n%s\r\n",
		method, path, testKey, strings.Join(append(headers, ""), "\r\n"))
}

// chunked encodes body in chunks of n bytes, with the last chunk.
func chunked(body string, n int) string {
	var sb strings.Builder
	for len(body) > 0 {
		c := body[:min(n, len(body))]
		body = body[len(c):]
		fmt.Fprintf(&sb, "%x\r\n%s\r\n", len(c), c)
	}
	return sb.String() + "0\r\n\r\n"
}

// TestChunkedBodyLimit: with bodies streamed, a chunked body (no
// Content-Length) over BodyLimit is still a 413 on every route but the
// import, with the same error as before, and one within it is read.
func TestChunkedBodyLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.BodyLimit = 64 })
	over := `{"name":"` + strings.Repeat("x", 60) + `"}` // 71 bytes
	for _, path := range []string{"/api/v1/lists", "/api/v1/contacts", "/api/v1/events/batch", "/api/v1/scenarios", "/hooks/inb_x"} {
		for _, size := range []int{len(over), 7} { // one chunk; many small ones
			raw := head("POST", path, "Content-Type: application/json", "Transfer-Encoding: chunked") + chunked(over, size)
			res := b.exchange(t, raw, "POST "+path)[0]
			if e := apiError(t, res.response); res.status != 413 || e.Code != "payload_too_large" || e.Message != "the request body is larger than 64 bytes" {
				t.Errorf("POST %s in chunks of %d: %d %+v", path, size, res.status, e)
			}
			if !res.closes {
				t.Errorf("POST %s: the connection of a refused body is not closed", path)
			}
		}
	}
	raw := head("POST", "/api/v1/lists", "Content-Type: application/json", "Transfer-Encoding: chunked") + chunked(`{"name":"chunked"}`, 5)
	if res := b.exchange(t, raw, "POST /api/v1/lists")[0]; res.status != 201 || !strings.Contains(string(res.body), `"name":"chunked"`) {
		t.Errorf("a chunked body within the limit: %d %s", res.status, res.body)
	}
}

// TestBodiesAreReadWhole: a body no handler reads (a GET's, an unknown
// route's), longer than what fasthttp reads ahead, is still read to its
// end, so that the next request on the connection is read as it was sent.
func TestBodiesAreReadWhole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := strings.Repeat("x", 20_000)
	raw := head("GET", "/api/v1/lists", fmt.Sprintf("Content-Length: %d", len(body))) + body +
		head("POST", "/api/v1/nope", fmt.Sprintf("Content-Length: %d", len(body))) + body +
		head("GET", "/api/v1/lists", "Transfer-Encoding: chunked") + chunked(body, 4096) +
		head("GET", "/healthz")
	got := b.exchange(t, raw, "GET /api/v1/lists", "POST /api/v1/nope", "GET /api/v1/lists", "GET /healthz")
	for i, want := range []int{200, 404, 200, 200} {
		if got[i].status != want {
			t.Errorf("answer %d: %d %s, want %d", i, got[i].status, got[i].body, want)
		}
		if got[i].closes {
			t.Errorf("answer %d closes the connection", i)
		}
	}
}
