package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/netguard"
)

// fixedClock always tells the same time.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var testNow = time.Date(2026, 11, 23, 12, 56, 40, 0, time.UTC)

// received is one request as the receiver saw it.
type received struct {
	Method string
	Host   string
	Path   string
	Header http.Header
	Body   []byte
}

// bundle is what setup returns: a loopback receiver answering with
// handler, the requests it got, and a Sender allowed to reach it.
type bundle struct {
	srv    *httptest.Server
	got    chan received
	sender *Sender
	secret string
}

func setup(t *testing.T, handler http.HandlerFunc, configure ...func(*http.Server)) *bundle {
	t.Helper()
	b := &bundle{got: make(chan received, 16), secret: NewSecret()}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.got <- received{Method: r.Method, Host: r.Host, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		if handler != nil {
			handler(w, r)
		}
	}))
	for _, c := range configure {
		c(b.srv.Config)
	}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	client := netguard.NewClient(netguard.Config{AllowPrivate: true})
	t.Cleanup(client.CloseIdleConnections)
	var err error
	b.sender, err = New(Config{Client: client, Clock: fixedClock{testNow}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// delivery returns a delivery to the receiver's path.
func (b *bundle) delivery(path string) *engine.Delivery {
	return &engine.Delivery{ID: "dlv_1", MessageID: "evt_1", URL: b.srv.URL + path,
		Body: []byte(`{"id":"evt_1","event":"automation.webhook.send"}`), Attempts: 2}
}

// next returns the next request the receiver got, or fails.
func (b *bundle) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-b.got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the receiver got no request")
		return received{}
	}
}

// verifySignature checks a webhook-signature header by hand (not with the
// library Send uses): HMAC-SHA256 over "{id}.{timestamp}.{body}" keyed with
// the base64-decoded whsec_ secret, in any of the space-separated v1 entries.
func verifySignature(t *testing.T, secret, id, ts string, body []byte, header string) bool {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

func TestSendArrivesSigned(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Receiver", "yes")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"ok":true}`)
	})
	d := b.delivery("/hook")
	d.Method = http.MethodPut
	d.Headers = map[string]string{"x-api-key": "k1", "Authorization": "Bearer t"}

	o := b.sender.Send(context.Background(), d, b.secret)
	r := b.next(t)

	if !o.Accepted || o.Gone || o.RetryAfter != 0 {
		t.Errorf("outcome = %+v; want accepted", o)
	}
	if r.Method != http.MethodPut || r.Path != "/hook" || !bytes.Equal(r.Body, d.Body) {
		t.Errorf("received %s %s %q; want PUT /hook %q", r.Method, r.Path, r.Body, d.Body)
	}
	ts := strconv.FormatInt(testNow.Unix(), 10)
	wantHeaders := map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "Sluice-Webhooks/1",
		"X-Api-Key":         "k1",
		"Authorization":     "Bearer t",
		"Webhook-Id":        "evt_1",
		"Webhook-Timestamp": ts,
	}
	for k, v := range wantHeaders {
		if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("received header %s = %q; want [%q]", k, got, v)
		}
	}
	sig := r.Header.Get("Webhook-Signature")
	if !verifySignature(t, b.secret, "evt_1", ts, r.Body, sig) {
		t.Errorf("signature %q does not verify", sig)
	}
	if verifySignature(t, NewSecret(), "evt_1", ts, r.Body, sig) {
		t.Error("signature verifies with another secret")
	}

	wantHeaders["Webhook-Signature"] = sig
	a := o.Attempt
	a.DurationMS = 0
	delete(a.ResponseHeaders, "Date")
	want := engine.Attempt{DeliveryID: "dlv_1", Number: 3, At: testNow, URL: d.URL, Method: "PUT",
		RequestHeaders: wantHeaders, RequestBody: string(d.Body), StatusCode: http.StatusAccepted,
		ResponseHeaders: map[string]string{"X-Receiver": "yes", "Content-Length": "11",
			"Content-Type": "text/plain; charset=utf-8"},
		ResponseBody: `{"ok":true}`}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("attempt (-want +got):\n%s", diff)
	}
}

func TestSendDefaultsToPost(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	d := b.delivery("/")
	d.Body = nil
	o := b.sender.Send(context.Background(), d, b.secret)
	r := b.next(t)
	if r.Method != http.MethodPost || o.Attempt.Method != http.MethodPost || !o.Accepted {
		t.Errorf("received %s, recorded %s, accepted %v; want POST, POST, true", r.Method, o.Attempt.Method, o.Accepted)
	}
	if !verifySignature(t, b.secret, "evt_1", r.Header.Get("Webhook-Timestamp"), nil, r.Header.Get("Webhook-Signature")) {
		t.Error("signature of an empty body does not verify")
	}
}

func TestSendOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		retryAfter string
		accepted   bool
		gone       bool
		wantAfter  time.Duration
		wantErr    string
	}{
		{name: "200", status: 200, accepted: true},
		{name: "201", status: 201, accepted: true},
		{name: "204", status: 204, accepted: true},
		{name: "299", status: 299, accepted: true},
		{name: "400", status: 400, wantErr: "HTTP 400 Bad Request"},
		{name: "404", status: 404, wantErr: "HTTP 404 Not Found"},
		{name: "500", status: 500, wantErr: "HTTP 500 Internal Server Error"},
		{name: "599", status: 599, wantErr: "HTTP 599"},
		{name: "410", status: 410, gone: true, wantErr: "HTTP 410 Gone"},
		{name: "429 seconds", status: 429, retryAfter: "7", wantAfter: 7 * time.Second,
			wantErr: "HTTP 429 Too Many Requests"},
		{name: "503 date", status: 503, retryAfter: testNow.Add(90 * time.Second).Format(http.TimeFormat),
			wantAfter: 90 * time.Second, wantErr: "HTTP 503 Service Unavailable"},
		{name: "503 past date", status: 503, retryAfter: testNow.Add(-time.Hour).Format(http.TimeFormat),
			wantErr: "HTTP 503 Service Unavailable"},
		{name: "429 capped", status: 429, retryAfter: "999999999", wantAfter: 12 * time.Hour,
			wantErr: "HTTP 429 Too Many Requests"},
		{name: "429 garbage", status: 429, retryAfter: "soon", wantErr: "HTTP 429 Too Many Requests"},
		{name: "200 ignores Retry-After", status: 200, retryAfter: "7", accepted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
			})
			o := b.sender.Send(context.Background(), b.delivery("/"), b.secret)
			if o.Accepted != tt.accepted || o.Gone != tt.gone || o.RetryAfter != tt.wantAfter ||
				o.Attempt.Error != tt.wantErr || o.Attempt.StatusCode != tt.status {
				t.Errorf("outcome = accepted %v, gone %v, retry after %v, error %q, status %d; "+
					"want %v, %v, %v, %q, %d", o.Accepted, o.Gone, o.RetryAfter, o.Attempt.Error,
					o.Attempt.StatusCode, tt.accepted, tt.gone, tt.wantAfter, tt.wantErr, tt.status)
			}
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var targetHits atomic.Int32
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/target" {
			targetHits.Add(1)
			return
		}
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	// Even a client that follows redirects is made not to.
	var err error
	b.sender, err = New(Config{Client: &http.Client{}, Clock: fixedClock{testNow}})
	if err != nil {
		t.Fatal(err)
	}
	o := b.sender.Send(context.Background(), b.delivery("/start"), b.secret)
	if o.Accepted || o.Attempt.StatusCode != http.StatusFound {
		t.Errorf("outcome = accepted %v, status %d; want not accepted, 302", o.Accepted, o.Attempt.StatusCode)
	}
	if want := "HTTP 302 Found: redirect to /target not followed"; o.Attempt.Error != want {
		t.Errorf("error = %q; want %q", o.Attempt.Error, want)
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("redirect target hit %d times; want 0", n)
	}
}

func TestSendResponseExcerpt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want string
	}{
		{"short", "hello", "hello"},
		{"exactly 4 KiB", strings.Repeat("a", ExcerptSize), strings.Repeat("a", ExcerptSize)},
		{"capped", strings.Repeat("b", 100<<10), strings.Repeat("b", ExcerptSize)},
		{"cut mid-rune", strings.Repeat("c", ExcerptSize-1) + "é and more", strings.Repeat("c", ExcerptSize-1)},
		{"whole rune at the end", strings.Repeat("d", ExcerptSize-2) + "é and more", strings.Repeat("d", ExcerptSize-2) + "é"},
		{"invalid UTF-8 and NUL", "a\xffb\x00c", "a\uFFFDb\uFFFDc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, tt.body)
			})
			o := b.sender.Send(context.Background(), b.delivery("/"), b.secret)
			got := o.Attempt.ResponseBody
			if got != tt.want {
				t.Errorf("excerpt = %d bytes %.20q…; want %d bytes %.20q…", len(got), got, len(tt.want), tt.want)
			}
			if len(got) > ExcerptSize || !utf8.ValidString(got) {
				t.Errorf("excerpt is %d bytes, valid UTF-8 %v; want ≤ %d, true", len(got), utf8.ValidString(got), ExcerptSize)
			}
		})
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	d := b.delivery("/")
	d.Timeout = 200 * time.Millisecond

	start := time.Now()
	o := b.sender.Send(context.Background(), d, b.secret)
	elapsed := time.Since(start)
	if o.Accepted || o.Attempt.Error != "timeout after 200ms" {
		t.Errorf("outcome = accepted %v, error %q; want not accepted, \"timeout after 200ms\"", o.Accepted, o.Attempt.Error)
	}
	if elapsed > time.Second {
		t.Errorf("Send took %v; want about 200ms", elapsed)
	}
	if o.Attempt.DurationMS < 150 || o.Attempt.DurationMS > 1000 {
		t.Errorf("duration = %dms; want about 200", o.Attempt.DurationMS)
	}
}

func TestSendTimeoutWhileReadingBody(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	d := b.delivery("/")
	d.Timeout = 200 * time.Millisecond

	start := time.Now()
	o := b.sender.Send(context.Background(), d, b.secret)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Send took %v; want about 200ms", elapsed)
	}
	if o.Attempt.StatusCode != 500 || o.Attempt.ResponseBody != "partial" || o.Attempt.Error != "HTTP 500 Internal Server Error" {
		t.Errorf("attempt = status %d, body %q, error %q; want 500, \"partial\", HTTP 500…",
			o.Attempt.StatusCode, o.Attempt.ResponseBody, o.Attempt.Error)
	}
}

func TestSendCanceled(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := b.sender.Send(ctx, b.delivery("/"), b.secret)
	if o.Accepted || !strings.HasPrefix(o.Attempt.Error, "canceled before an answer") {
		t.Errorf("outcome = accepted %v, error %q; want not accepted, canceled", o.Accepted, o.Attempt.Error)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	b := setup(t, nil)
	d := b.delivery("/")
	d.URL = "http://" + addr + "/hook"
	o := b.sender.Send(context.Background(), d, b.secret)
	if o.Accepted || o.Attempt.Error != "connection refused" || o.Attempt.StatusCode != 0 {
		t.Errorf("outcome = accepted %v, error %q, status %d; want not accepted, \"connection refused\", 0",
			o.Accepted, o.Attempt.Error, o.Attempt.StatusCode)
	}
}

func TestSendUserHeadersCannotOverrideSignature(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	d := b.delivery("/")
	d.Headers = map[string]string{
		"webhook-id":        "forged",
		"Webhook-Timestamp": "1",
		"WEBHOOK-SIGNATURE": "v1,forged",
		"content-length":    "1",
		"Host":              "evil.example",
		"Transfer-Encoding": "chunked",
		"Connection":        "upgrade",
		"Content-Type":      "application/cloudevents+json", // allowed
		"user-agent":        "Custom/2",                     // allowed
	}
	o := b.sender.Send(context.Background(), d, b.secret)
	r := b.next(t)
	if !o.Accepted {
		t.Fatalf("not accepted: %s", o.Attempt.Error)
	}
	ts := strconv.FormatInt(testNow.Unix(), 10)
	if r.Header.Get("Webhook-Id") != "evt_1" || r.Header.Get("Webhook-Timestamp") != ts ||
		len(r.Header.Values("Webhook-Signature")) != 1 ||
		!verifySignature(t, b.secret, "evt_1", ts, r.Body, r.Header.Get("Webhook-Signature")) {
		t.Errorf("signature headers overridden: %v", r.Header)
	}
	if !bytes.Equal(r.Body, d.Body) || b.srv.URL != "http://"+r.Host {
		t.Errorf("body or host overridden: %q", r.Body)
	}
	if r.Header.Get("Content-Type") != "application/cloudevents+json" || r.Header.Get("User-Agent") != "Custom/2" {
		t.Errorf("Content-Type %q, User-Agent %q; want the delivery's", r.Header.Get("Content-Type"), r.Header.Get("User-Agent"))
	}
	for k := range o.Attempt.RequestHeaders {
		switch k {
		case "Content-Type", "User-Agent", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature":
		default:
			t.Errorf("recorded request header %s; want it dropped", k)
		}
	}
}

func TestSendRefusedByGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var err error
	b.sender, err = New(Config{Client: netguard.NewClient(netguard.Config{}), Clock: fixedClock{testNow}})
	if err != nil {
		t.Fatal(err)
	}
	o := b.sender.Send(context.Background(), b.delivery("/"), b.secret)
	want := "refused to connect to 127.0.0.1: loopback address (set SLUICE_ALLOW_PRIVATE_TARGETS=true to allow)"
	if o.Accepted || o.Attempt.Error != want {
		t.Errorf("outcome = accepted %v, error %q; want not accepted, %q", o.Accepted, o.Attempt.Error, want)
	}
	select {
	case <-b.got:
		t.Error("the receiver was reached")
	default:
	}
}

func TestSendInvalidSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, secret := range []string{"", "whsec_not base64!"} {
		o := b.sender.Send(context.Background(), b.delivery("/"), secret)
		if o.Accepted || !strings.Contains(o.Attempt.Error, "signing secret") {
			t.Errorf("secret %q: outcome = accepted %v, error %q; want a signing secret error", secret, o.Accepted, o.Attempt.Error)
		}
	}
	select {
	case <-b.got:
		t.Error("an unsigned request was sent")
	default:
	}
}

func TestSendReusesConnections(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(bytes.Repeat([]byte("x"), 20<<10)) // more than the excerpt
	}, func(srv *http.Server) {
		srv.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
	})
	for range 5 {
		b.sender.Send(context.Background(), b.delivery("/"), b.secret)
		b.next(t)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 sends opened %d connections; want 1", n)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Error("New without a Client succeeded")
	}
	s, err := New(Config{Client: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	if s.userAgent != "Sluice-Webhooks/1" || s.timeout != 15*time.Second || s.clock == nil {
		t.Errorf("defaults not applied: %q %v %v", s.userAgent, s.timeout, s.clock)
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := NewSecret(), NewSecret()
	if a == b {
		t.Error("two secrets are equal")
	}
	if !strings.HasPrefix(a, "whsec_") {
		t.Errorf("secret %q lacks whsec_", a)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if err != nil || len(key) != 32 {
		t.Errorf("secret %q decodes to %d bytes, %v; want 32", a, len(key), err)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{" 120 ", 2 * time.Minute},
		{"43200", 12 * time.Hour},
		{"43201", 12 * time.Hour},
		{"1.5", 0},
		{testNow.Add(time.Hour).Format(http.TimeFormat), time.Hour},
		{testNow.Add(24 * time.Hour).Format(http.TimeFormat), 12 * time.Hour},
		{testNow.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Monday, 23-Nov-26 13:56:40 GMT", time.Hour}, // RFC 850
	}
	for _, tt := range tests {
		if got := retryAfter(tt.v, testNow); got != tt.want {
			t.Errorf("retryAfter(%q) = %v; want %v", tt.v, got, tt.want)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	secret := NewSecret()
	body := bytes.Repeat([]byte("x"), 1<<10)
	b.ReportAllocs()
	for b.Loop() {
		// What Send does per delivery: decode the key, then sign.
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := wh.Sign("evt_06bq3", testNow, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	client := netguard.NewClient(netguard.Config{AllowPrivate: true})
	defer client.CloseIdleConnections()
	s, err := New(Config{Client: client})
	if err != nil {
		b.Fatal(err)
	}
	d := &engine.Delivery{ID: "dlv_1", MessageID: "evt_1", URL: srv.URL + "/hook",
		Headers: map[string]string{"Authorization": "Bearer t"},
		Body:    bytes.Repeat([]byte("x"), 1<<10)}
	secret := NewSecret()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if o := s.Send(context.Background(), d, secret); !o.Accepted {
				b.Fatal(o.Attempt.Error)
			}
		}
	})
}
