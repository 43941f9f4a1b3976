// Package webhook makes signed outbound webhook requests: Sender implements
// engine.Sender, making one HTTP try of a delivery signed the Standard
// Webhooks way (webhook-id, webhook-timestamp, webhook-signature), and
// NewSecret makes signing secrets.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sluicehq/sluice/engine"
)

const (
	// ExcerptSize is how many bytes of a response body an attempt records.
	ExcerptSize = 4 << 10
	// maxDrain is how much of the rest of a response body is read and
	// discarded so the connection can be reused; beyond it the connection
	// is closed instead.
	maxDrain = 64 << 10
	// maxRetryAfter caps a receiver's Retry-After: past it the retry
	// window has closed anyway.
	maxRetryAfter = engine.RetryWindow
)

// Config configures a Sender.
type Config struct {
	// Client makes the requests; build it with netguard.NewClient so the
	// SSRF guard applies. Redirects are never followed, whatever its
	// CheckRedirect says. Required.
	Client *http.Client
	// Clock gives the attempt time and the webhook-timestamp. Defaults to
	// engine.SystemClock{}.
	Clock engine.Clock
	// UserAgent is sent unless the delivery's headers set one. Defaults to
	// "Sluice-Webhooks/1".
	UserAgent string
	// DefaultTimeout bounds a request (connecting, sending, reading the
	// answer's excerpt) when the delivery sets no Timeout. Defaults to 15s.
	DefaultTimeout time.Duration
}

// Sender makes one signed HTTP try of a delivery; it implements
// engine.Sender and is safe for concurrent use.
type Sender struct {
	client    http.Client
	clock     engine.Clock
	userAgent string
	timeout   time.Duration
	bufs      sync.Pool // *[]byte of ExcerptSize, for reading excerpts
}

var _ engine.Sender = (*Sender)(nil)

// New checks cfg, applies its defaults and returns a Sender.
func New(cfg Config) (*Sender, error) {
	if cfg.Client == nil {
		return nil, errors.New("webhook: Client is required")
	}
	if cfg.DefaultTimeout < 0 {
		return nil, errors.New("webhook: DefaultTimeout must not be negative")
	}
	if cfg.Clock == nil {
		cfg.Clock = engine.SystemClock{}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Sluice-Webhooks/1"
	}
	if cfg.DefaultTimeout == 0 {
		cfg.DefaultTimeout = 15 * time.Second
	}
	s := &Sender{client: *cfg.Client, clock: cfg.Clock, userAgent: cfg.UserAgent, timeout: cfg.DefaultTimeout}
	s.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.bufs.New = func() any { b := make([]byte, ExcerptSize); return &b }
	return s, nil
}

// Send makes one HTTP try of d, signed with secret (whsec_…), and reports
// the attempt and its outcome: accepted on 2xx only, gone on 410, and the
// receiver's Retry-After on any other answer. It never returns an error:
// failures are described in the attempt's Error.
func (s *Sender) Send(ctx context.Context, d *engine.Delivery, secret string) engine.SendOutcome {
	now := s.clock.Now()
	method := d.Method
	if method == "" {
		method = http.MethodPost
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = s.timeout
	}
	var out engine.SendOutcome
	a := &out.Attempt
	a.DeliveryID, a.Number, a.At, a.URL, a.Method = d.ID, d.Attempts+1, now, d.URL, method
	a.RequestBody = string(d.Body)

	wh, err := standardwebhooks.NewWebhook(secret)
	if secret == "" || err != nil {
		a.Error = "no valid signing secret (want whsec_ and base64)"
		return out
	}
	sig, err := wh.Sign(d.MessageID, now, d.Body)
	if err != nil {
		a.Error = "sign request: " + err.Error()
		return out
	}

	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(tctx, method, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		a.Error = "invalid request: " + err.Error()
		return out
	}
	req.Header, a.RequestHeaders = s.headers(d, now, sig)

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		a.DurationMS = time.Since(start).Milliseconds()
		a.Error = describe(err, ctx, tctx, timeout)
		return out
	}
	a.StatusCode = resp.StatusCode
	a.ResponseHeaders = flatten(resp.Header)
	a.ResponseBody = s.excerpt(resp.Body)
	a.DurationMS = time.Since(start).Milliseconds()
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()

	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		out.Accepted = true
		return out
	case code == http.StatusGone:
		out.Gone = true
	}
	a.Error = statusError(code, resp.Header.Get("Location"))
	out.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), s.clock.Now())
	return out
}

// headers builds the request headers and the single-valued record of them:
// Content-Type, User-Agent, the delivery's headers (which may override
// those two but nothing the transport or the signature owns), then the
// Standard Webhooks headers.
func (s *Sender) headers(d *engine.Delivery, now time.Time, sig string) (http.Header, map[string]string) {
	n := 5 + len(d.Headers)
	h := make(http.Header, n)
	rec := make(map[string]string, n)
	vals := make([]string, 0, n) // one backing array for every single-valued header
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		rec[k] = v
	}
	set("Content-Type", "application/json")
	set("User-Agent", s.userAgent)
	for k, v := range d.Headers {
		k = textproto.CanonicalMIMEHeaderKey(k)
		switch k {
		case "", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature",
			"Content-Length", "Host", "Transfer-Encoding", "Trailer", "Te",
			"Connection", "Keep-Alive", "Proxy-Connection", "Upgrade":
			continue
		}
		set(k, v)
	}
	set("Webhook-Id", d.MessageID)
	set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	set("Webhook-Signature", sig)
	return h, rec
}

// excerpt reads the first ExcerptSize bytes of body as valid UTF-8: a rune
// cut at the end is dropped, invalid bytes and NULs become U+FFFD (so the
// text can be stored in any text column).
func (s *Sender) excerpt(body io.Reader) string {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	b := *bp
	n, _ := io.ReadFull(body, b)
	b = b[:n]
	if n == ExcerptSize {
		b = trimPartialRune(b)
	}
	if len(b) == 0 {
		return ""
	}
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return string(b)
	}
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "\uFFFD")
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// flatten makes a single-valued copy of h, joining repeated values with ", ".
func flatten(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	m := make(map[string]string, len(h))
	for k, vs := range h {
		m[k] = strings.Join(vs, ", ")
	}
	return m
}

// statusError describes a non-2xx answer, e.g. "HTTP 500 Internal Server Error".
func statusError(code int, location string) string {
	msg := "HTTP " + strconv.Itoa(code)
	if text := http.StatusText(code); text != "" {
		msg += " " + text
	}
	if code >= 300 && code < 400 {
		if location != "" {
			return msg + ": redirect to " + location + " not followed"
		}
		return msg + ": redirects are not followed"
	}
	return msg
}

// retryAfter parses a Retry-After value, delta-seconds or an HTTP-date
// (relative to now), capped at maxRetryAfter; 0 when absent or invalid.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs >= int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
